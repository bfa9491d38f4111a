from . import automations, followups, ingestion, leads, sequences

urlpatterns = [
    *leads.urlpatterns,
    *sequences.urlpatterns,
    *followups.urlpatterns,
    *automations.urlpatterns,
    *ingestion.urlpatterns,
]
