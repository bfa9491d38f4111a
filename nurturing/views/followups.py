"""Pages: followups."""

urlpatterns: list = []
