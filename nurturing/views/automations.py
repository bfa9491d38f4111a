"""Pages: automations."""

urlpatterns: list = []
