"""API: followups."""

urlpatterns: list = []
