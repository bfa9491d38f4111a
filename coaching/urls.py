from .views import conversations, performance, sessions, team

app_name = "coaching"

urlpatterns = [
    *conversations.urlpatterns,
    *sessions.urlpatterns,
    *performance.urlpatterns,
    *team.urlpatterns,
]
