from .views import automations, followups, ingestion, leads, listings, sequences

app_name = "nurturing"

urlpatterns = [
    *leads.urlpatterns,
    *sequences.urlpatterns,
    *followups.urlpatterns,
    *automations.urlpatterns,
    *ingestion.urlpatterns,
    *listings.urlpatterns,
]
