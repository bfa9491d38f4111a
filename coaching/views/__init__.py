"""The htmx pages of the coaching engine, one module per area; each module lists its own `urlpatterns`."""
