"""The nurturing engine's REST API, one module per area; each module lists its own `urlpatterns`."""
