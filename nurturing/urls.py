from .views import automations, followups, ingestion, leads, sequences

app_name = "nurturing"

urlpatterns = [
    *leads.urlpatterns,
    *sequences.urlpatterns,
    *followups.urlpatterns,
    *automations.urlpatterns,
    *ingestion.urlpatterns,
]
