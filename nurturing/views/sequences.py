"""Pages: sequences."""

urlpatterns: list = []
