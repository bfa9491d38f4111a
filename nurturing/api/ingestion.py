"""API: ingestion."""

urlpatterns: list = []
