from . import conversations, sessions, team

urlpatterns = [
    *conversations.urlpatterns,
    *sessions.urlpatterns,
    *team.urlpatterns,
]
