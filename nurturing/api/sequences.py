"""API: sequences."""

urlpatterns: list = []
