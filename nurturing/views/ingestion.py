"""Pages: ingestion."""

urlpatterns: list = []
