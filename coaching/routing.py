"""WebSocket routes of coaching (mounted by config/asgi.py)."""

from django.urls import path

from .consumers import CoachingConsumer

websocket_urlpatterns = [
    path("ws/coaching/", CoachingConsumer.as_asgi()),
]
