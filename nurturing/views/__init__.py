"""The htmx pages of the nurturing engine, one module per area; each module lists its own `urlpatterns`."""
