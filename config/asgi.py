"""HTTP through Django, WebSockets through Channels (routes are added by the apps that need them)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.DEBUG:
    # Daphne serves no static files of its own; in development Django's handler does.
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler

    django_asgi_app = ASGIStaticFilesHandler(django_asgi_app)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from coaching.realtime import TokenOrSessionAuth  # noqa: E402
from coaching.routing import websocket_urlpatterns as coaching_websockets  # noqa: E402

websockets = URLRouter([*coaching_websockets])

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers sign in with their session cookie, which a page of another site could ride on: the Origin check
        # guards that path. Integration clients present an API token instead and skip it (see TokenOrSessionAuth).
        "websocket": TokenOrSessionAuth(
            token_app=websockets,
            session_app=AllowedHostsOriginValidator(AuthMiddlewareStack(websockets)),
        ),
    }
)

# Everything loaded so far lives as long as the process: keep it out of the cyclic garbage collector's sweeps,
# which otherwise walk it on every full collection and stall the event loop (and every socket it serves).
gc.freeze()
