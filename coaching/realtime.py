"""The real-time side of coaching alerts: who listens where (group names), what a pushed alert looks like (the
JSON payload and the htmx fragments), pushing it, what the tray shows, and API-token authentication of sockets.

Every push carries the rendered fragments and the JSON payload, so a consumer forwards it without touching the
database: one render per alert, whatever the number of open sockets.
"""

import asyncio
import datetime as dt
import logging
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.template.loader import render_to_string
from redis.exceptions import RedisError

from brokerages.authentication import active_token
from brokerages.models import Brokerage, User

from .models import CoachingAlert

logger = logging.getLogger(__name__)

ALERT_TEMPLATE = "coaching/partials/alert.html"
TRAY_TEMPLATE = "coaching/partials/alert_tray.html"
# Event-loop turns a woken consumer needs to write its frame (see `_group_send_all`).
DELIVERY_TURNS = 3
# The tray shows the newest unacknowledged alerts; older ones stay on the conversation pages.
TRAY_LIMIT = 50

# Frame types, the `event_type` of JSON frames (the seed's WebSocket section names the envelope).
ALERT_CREATED = "COACHING_ALERT"
ALERT_ACKNOWLEDGED = "COACHING_ALERT_ACKNOWLEDGED"
ESCALATION_CREATED = "COACHING_ESCALATION"
ESCALATION_ACKNOWLEDGED = "COACHING_ESCALATION_ACKNOWLEDGED"


def agent_group(user_id: int) -> str:
    """The sockets of one agent (every open tab and integration client of theirs)."""
    return f"coaching.agent.{user_id}"


def managers_group(brokerage_id: int) -> str:
    """The sockets of a brokerage's members who hold `manage_coaching` (owners and support staff)."""
    return f"coaching.managers.{brokerage_id}"


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def alert_payload(alert: CoachingAlert) -> dict:
    """The seed's alert structure plus what it is about and its state; JSON-safe, used by the API and by the
    JSON frames of integration clients."""
    return {
        "alert_id": alert.pk,
        "alert_type": alert.alert_type,
        "title": alert.title,
        "message": alert.text,
        "priority": alert.priority,
        "suggested_action": alert.suggested_action,
        "evidence": list(alert.evidence),
        "channels": list(alert.channels),
        "timestamp": _iso(alert.created_at),
        "area": alert.area,
        "conversation_id": alert.conversation_id,
        "agent_id": alert.agent_id,
        "escalated": alert.escalated,
        "acknowledged": alert.acknowledged_at is not None,
        "acknowledged_at": _iso(alert.acknowledged_at),
    }


def _message(alert: CoachingAlert, *, escalation: bool) -> tuple[str, dict]:
    """The group and channel-layer message of one alert's current state for its agent or for the managers.

    The frame is rendered once here: a new alert is prepended to its list, an acknowledged one replaces its
    element (so tabs that did not acknowledge it catch up)."""
    acknowledged = alert.acknowledged_at is not None
    if escalation:
        group = managers_group(alert.brokerage_id)
        event_type = ESCALATION_ACKNOWLEDGED if acknowledged else ESCALATION_CREATED
    else:
        group = agent_group(alert.agent_id)
        event_type = ALERT_ACKNOWLEDGED if acknowledged else ALERT_CREATED
    partial = "replaced" if acknowledged else "prepended"
    html = render_to_string(f"{ALERT_TEMPLATE}#{partial}", {"alert": alert, "escalation": escalation}).strip()
    return group, {"type": "coaching.frame", "event_type": event_type, "alert_id": alert.pk,
                   "agent_id": alert.agent_id, "html": html, "payload": alert_payload(alert)}


async def _group_send_all(messages: list[tuple[str, dict]]) -> None:
    layer = get_channel_layer()
    for group, message in messages:
        # Bounded: a Redis that stopped answering would otherwise hold the request for the layer's socket
        # timeout (10 s, which its consumers' blocking reads need).
        await asyncio.wait_for(layer.group_send(group, message), timeout=settings.REDIS_TIMEOUT_SECONDS)
        # With the in-memory layer the woken consumers run in this event loop: a few turns (their receive, wait
        # and dispatch) let the frames leave before the request thread, which waits for this coroutine, takes
        # the interpreter back for the rest of its work.
        for _turn in range(DELIVERY_TURNS):
            await asyncio.sleep(0)


def _send(alerts: list[CoachingAlert], *, escalation: bool) -> bool:
    ids = ", ".join(str(alert.pk) for alert in alerts)
    try:
        async_to_sync(_group_send_all)([_message(alert, escalation=escalation) for alert in alerts])
    except (RedisError, OSError, asyncio.TimeoutError) as error:
        logger.error("Coaching alerts %s were saved but could not be pushed to open pages: the channel layer "
                     "does not answer (%s: %s); pages get them when their socket reconnects", ids,
                     type(error).__name__, error)
        return False
    except Exception:
        logger.exception("Coaching alerts %s were saved but could not be pushed to open pages", ids)
        return False
    return True


def alerts_push(alerts: list[CoachingAlert]) -> bool:
    """Send the alerts' current state to their agents' sockets, then the escalated ones to the managers'.

    Call it after the alerts are committed (`transaction.on_commit`). The agents' frames are rendered and sent
    first: they are the ones awaited live. Delivery is best effort: the alerts are stored, and a page that
    reconnects gets them with the tray, so a channel layer that is down (or a frame that fails to render) is
    logged and reported (False) rather than raised into the request that created them; a Redis that hangs
    costs the request at most settings.REDIS_TIMEOUT_SECONDS.
    """
    if not _send(alerts, escalation=False):
        return False
    escalated = [alert for alert in alerts if alert.escalated]
    return not escalated or _send(escalated, escalation=True)


def alert_push(alert: CoachingAlert) -> bool:
    """`alerts_push` of one alert."""
    return alerts_push([alert])


def tray_alerts(*, brokerage: Brokerage, agent: User, limit: int = TRAY_LIMIT) -> QuerySet[CoachingAlert]:
    """The agent's unacknowledged alerts, newest first: what the tray shows and what a reconnecting socket gets."""
    return (CoachingAlert.objects.filter(brokerage=brokerage, agent=agent, acknowledged_at__isnull=True)
            .order_by("-created_at", "-pk")[:limit])


def tray_escalations(*, brokerage: Brokerage, limit: int = TRAY_LIMIT) -> QuerySet[CoachingAlert]:
    """The brokerage's escalated alerts their agents have not acknowledged yet, newest first, for managers."""
    return (CoachingAlert.objects.filter(brokerage=brokerage, escalated=True, acknowledged_at__isnull=True)
            .select_related("agent").order_by("-created_at", "-pk")[:limit])


def _token_key(scope) -> str | None:
    """The API token a handshake presents: `Authorization: Token <key>` or, for clients that cannot set
    headers (browsers), `?token=<key>`. The header is preferred: query strings end up in access logs."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, key = value.decode("latin1").partition(" ")
            if kind.lower() == "token" and key.strip():
                return key.strip()
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    return values[0] if values else None


@database_sync_to_async
def _token_user(key: str):
    token = active_token(key)
    return AnonymousUser() if token is None else token.user


class TokenOrSessionAuth:
    """Route a WebSocket handshake to the token stack when it presents an API token, else to the session stack.

    A token-authenticated socket is the integration client's: its user is the token's (or anonymous when the
    token is wrong — never the session's), and it needs no Origin check, because a browser cannot attach
    someone's token to a cross-site socket the way it attaches their session cookie. The session stack keeps
    the Origin check for exactly that reason.
    """

    def __init__(self, *, token_app, session_app):
        self.token_app = token_app
        self.session_app = session_app

    async def __call__(self, scope, receive, send):
        key = _token_key(scope)
        if key is None:
            return await self.session_app(scope, receive, send)
        scope = dict(scope, user=await _token_user(key), auth="token")
        return await self.token_app(scope, receive, send)
