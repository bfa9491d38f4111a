"""The live coaching socket (/ws/coaching/): an agent's alerts and, for managers, their brokerage's escalations.

A page names the lists it shows with `?show=alerts,escalations` (the tray does); without it a client gets
what the member's role allows. Browsers (session auth) get HTML fragments that htmx's ws extension swaps in out of band; integration clients
(`?format=json`, usually with an API token) get `{"event_type": ..., "data": ...}` frames. Clients send JSON:
`{"action": "ack", "alert_id": N}` or `{"action": "ping"}` (htmx's ws-send adds a `HEADERS` key, ignored).
A frame that cannot be understood gets an error frame back; the socket stays open.

When the channel layer stops answering (Redis down, or restarted without the group memberships), the socket is
closed with 4503 ("unavailable: reconnect with a back-off"; the server cannot send WebSocket's own 1013) rather
than left open and deaf, and a socket opened meanwhile is closed the same way. The client reconnects, joins its
groups again and gets the tray, so alerts raised meanwhile (stored, not pushed) arrive then.
"""

import json
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django_scopes import scope
from redis.exceptions import RedisError

from brokerages.models import User
from brokerages.permissions import brokerage_perms
from brokerages.request_context import client_ip
from brokerages.services import permission_denied_record

from .models import CoachingAlert
from .realtime import (
    ALERT_ACKNOWLEDGED,
    ALERT_CREATED,
    ALERT_TEMPLATE,
    ESCALATION_CREATED,
    TRAY_TEMPLATE,
    agent_group,
    alert_payload,
    managers_group,
    tray_alerts,
    tray_escalations,
)
from .services.alerts import alert_acknowledge

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_UNAVAILABLE = 4503
# What a client sends is an ack or a ping (htmx's ws-send adds the form's values and request headers): a few
# hundred characters. Anything far bigger is refused unread.
MAX_FRAME_CHARS = 16_384

logger = logging.getLogger(__name__)


class CoachingConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope, receive, send):
        accepted = False

        async def tracked_send(message):
            nonlocal accepted
            accepted = accepted or message["type"] == "websocket.accept"
            await send(message)

        try:
            await super().__call__(scope, receive, tracked_send)
        except (RedisError, OSError) as error:  # the channel layer's reads, group joins or sends
            logger.warning("Coaching socket closed with %d: the channel layer does not answer (%s: %s)",
                           CLOSE_UNAVAILABLE, type(error).__name__, error)
            if not accepted:  # a refused handshake reads as "forbidden"; the close code says come back
                await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_UNAVAILABLE})

    async def connect(self):
        self.joined: list[str] = []
        self.user = None  # set once the socket is allowed in
        # Alerts already sent with the tray; a push of one of them (created just before the tray was read)
        # is then not prepended a second time.
        self.in_tray: set[int] = set()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        self.as_json = query.get("format", [""])[0] == "json"
        # A page says which lists it shows (`?show=alerts,escalations`), so it gets no frames it has no place for;
        # without it a client gets whatever the member's role allows.
        show = set(query.get("show", ["alerts,escalations"])[0].split(","))
        # Accept before refusing, so the client sees why (4401/4403) instead of a bare failed handshake.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        membership = await database_sync_to_async(self._membership)(user, show)
        if membership is None:
            # Recorded like a page's 403 (brokerages.middleware.PermissionDeniedAuditMiddleware), from the
            # socket's client address.
            address = client_ip.set((self.scope.get("client") or [None])[0])
            try:
                await database_sync_to_async(permission_denied_record)(
                    user=user, method="WEBSOCKET", path=self.scope.get("path", ""), view="coaching-socket")
            finally:
                client_ip.reset(address)
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.user = user
        self.brokerage, self.coached, self.manages = membership
        if self.coached:
            self.joined.append(agent_group(user.pk))
        if self.manages:
            self.joined.append(managers_group(self.brokerage.pk))
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send(text_data=await database_sync_to_async(self._tray_frame)())

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    def _membership(self, user, show: set[str]):
        brokerage = user.brokerage
        if brokerage is None:
            return None
        perms = brokerage_perms(user, brokerage)
        coached = "use_coaching" in perms and "alerts" in show
        manages = "manage_coaching" in perms and "escalations" in show
        if not (coached or manages):
            return None
        return brokerage, coached, manages

    def _tray_frame(self) -> str:
        """What the page missed: the lists replaced whole, so a reconnect never shows an alert twice."""
        with scope(brokerage=self.brokerage):
            alerts = list(tray_alerts(brokerage=self.brokerage, agent=self.user)) if self.coached else None
            escalations = list(tray_escalations(brokerage=self.brokerage)) if self.manages else None
        self.in_tray = {alert.pk for alert in (alerts or []) + (escalations or [])}
        if self.as_json:
            data = {}
            if alerts is not None:
                data["alerts"] = [alert_payload(alert) for alert in alerts]
            if escalations is not None:
                data["escalations"] = [alert_payload(alert) for alert in escalations]
            return json.dumps({"event_type": "COACHING_TRAY", "data": data})
        frames = []
        if alerts is not None:
            frames.append(render_to_string(f"{TRAY_TEMPLATE}#alert_list", {"alerts": alerts, "oob": True}))
        if escalations is not None:
            frames.append(render_to_string(f"{TRAY_TEMPLATE}#escalation_list",
                                           {"escalations": escalations, "oob": True}))
        return "".join(frame.strip() for frame in frames)

    async def dispatch(self, message):
        # A pushed frame is forwarded without touching the database, so it skips the hop Channels makes before
        # every handler to close stale connections in the worker thread: that hop queues behind whatever sync
        # code runs there (often the very request that raised the alert) and would hold the frame back.
        if message["type"] == "coaching.frame":
            await self.coaching_frame(message)
        else:
            await super().dispatch(message)

    async def coaching_frame(self, event):
        """A pushed alert (see `realtime.alert_push`)."""
        if event["event_type"] == ESCALATION_CREATED and event["agent_id"] == self.user.pk:
            return  # a manager's own alert: they have it as the agent already
        if event["event_type"] in {ALERT_CREATED, ESCALATION_CREATED} and event["alert_id"] in self.in_tray:
            return
        await self._send_frame(event["event_type"], event["payload"], event["html"])

    async def _send_frame(self, event_type: str, payload, html: str):
        if self.as_json:
            await self.send(text_data=json.dumps({"event_type": event_type, "data": payload}))
        else:
            await self.send(text_data=html)

    async def _error(self, message: str):
        html = render_to_string(f"{TRAY_TEMPLATE}#ws_status",
                                {"ws_state": "error", "ws_text": message, "oob": True}).strip()
        await self._send_frame("ERROR", {"message": message}, html)

    async def receive(self, text_data=None, bytes_data=None):
        if self.user is None:
            return  # a refused socket, already closing
        if not await database_sync_to_async(self._still_member)():
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if text_data is None:
            await self._error("Send JSON text frames, not binary ones.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self._error(f"That frame is too large: send at most {MAX_FRAME_CHARS:,} characters.")
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self._error("That frame is not JSON.")
            return
        if not isinstance(data, dict):
            await self._error('Send a JSON object such as {"action": "ping"}.')
            return
        action = data.get("action")
        if action == "ping":
            html = render_to_string(f"{TRAY_TEMPLATE}#ws_status",
                                    {"ws_state": "live", "ws_text": "Live", "oob": True}).strip()
            await self._send_frame("PONG", {}, html)
        elif action == "ack":
            await self._acknowledge(data.get("alert_id"))
        else:
            await self._error(f"Unknown action {action!r}: use \"ack\" or \"ping\".")

    def _still_member(self) -> bool:
        """A socket outlives the check made when it opened: a member deactivated (or moved out of the brokerage)
        since then acts no longer."""
        return User.objects.filter(pk=self.user.pk, brokerage=self.brokerage, is_active=True).exists()

    async def _acknowledge(self, raw_id):
        try:
            alert_id = int(raw_id)
        except (TypeError, ValueError):
            await self._error("Say which alert to acknowledge: alert_id must be a number.")
            return
        problem, frame = await database_sync_to_async(self._acknowledge_sync)(alert_id)
        if problem:
            await self._error(problem)
        elif frame is not None:
            await self._send_frame(*frame)

    def _acknowledge_sync(self, alert_id: int):
        """(problem, frame). The update of a first acknowledgement reaches this socket through the agent's
        group like every other tab; acknowledging again changes nothing, so this socket alone gets the state."""
        with scope(brokerage=self.brokerage):
            alert = CoachingAlert.objects.filter(brokerage=self.brokerage, pk=alert_id).select_related("agent").first()
            if alert is None:
                return "No such coaching alert.", None
            already = alert.acknowledged_at is not None
            try:
                alert = alert_acknowledge(brokerage=self.brokerage, actor=self.user, alert=alert)
            except PermissionDenied as error:
                return str(error), None
        if not already:
            return None, None
        html = render_to_string(f"{ALERT_TEMPLATE}#replaced", {"alert": alert, "escalation": False}).strip()
        return None, (ALERT_ACKNOWLEDGED, alert_payload(alert), html)
