from . import automations, erasure, followups, ingestion, leads, listings, sequences

urlpatterns = [
    *leads.urlpatterns,
    *sequences.urlpatterns,
    *followups.urlpatterns,
    *automations.urlpatterns,
    *ingestion.urlpatterns,
    *listings.urlpatterns,
    *erasure.urlpatterns,
]
