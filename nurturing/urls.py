from .views import automations, erasure, exports, followups, ingestion, leads, listings, sequences

app_name = "nurturing"

urlpatterns = [
    *leads.urlpatterns,
    *sequences.urlpatterns,
    *followups.urlpatterns,
    *automations.urlpatterns,
    *ingestion.urlpatterns,
    *exports.urlpatterns,
    *listings.urlpatterns,
    *erasure.urlpatterns,
]
