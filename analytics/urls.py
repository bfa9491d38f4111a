from .views import coaching, dashboard, leads, reports, team

app_name = "analytics"

urlpatterns = [*dashboard.urlpatterns, *team.urlpatterns, *coaching.urlpatterns, *leads.urlpatterns,
               *reports.urlpatterns]
