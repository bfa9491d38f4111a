"""API: automations."""

urlpatterns: list = []
