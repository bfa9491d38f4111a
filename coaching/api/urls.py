from . import conversations, sessions, team, training

urlpatterns = [
    *conversations.urlpatterns,
    *sessions.urlpatterns,
    *team.urlpatterns,
    *training.urlpatterns,
]
