"""The live coaching path when the channel layer (Redis) stops answering, in-process: a push that fails is logged
and never raised into the request that stored the alert, a push to a hung layer costs at most
REDIS_TIMEOUT_SECONDS, an open socket is closed with 4503 so its client reconnects, a socket opened meanwhile
is closed the same way, and the first socket after the return gets what it missed with its tray.
The live drill (test_redis_outage.py) does the same against a real Redis that is killed."""

import asyncio
import logging
import time

import pytest
from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer
from channels.testing import WebsocketCommunicator
from django.test import Client
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework.authtoken.models import Token

from coaching.consumers import CLOSE_UNAVAILABLE
from coaching.models import CoachingAlert
from coaching.realtime import alerts_push
from config.asgi import application
from tests.coaching.test_alerts import finding
from tests.coaching.test_consumers import coach, raise_alerts

pytestmark = pytest.mark.django_db(transaction=True)

LEAD_LINE = "This asking price is too high, similar flats in Dubai Marina sold for less."
AGENT_LINE = "Take it or leave it, that's the price and the owner won't budge."


class UnreachableLayer(InMemoryChannelLayer):
    """The in-memory layer, failing as channels_redis does while Redis is down (`down`) or hanging on a send as it
    does on a server that stopped answering (`hung`). Class-wide, as Redis is for every process."""

    down = False
    hung = False

    def _check(self) -> None:
        if UnreachableLayer.down:
            raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    async def group_add(self, group, channel):
        self._check()
        return await super().group_add(group, channel)

    async def group_send(self, group, message):
        self._check()
        if UnreachableLayer.hung:
            await asyncio.Event().wait()
        return await super().group_send(group, message)

    async def receive(self, channel):
        # A consumer waits here all the time: an outage must reach it while it waits, as a dropped connection does.
        while True:
            self._check()
            try:
                return await asyncio.wait_for(super().receive(channel), timeout=0.05)
            except asyncio.TimeoutError:
                continue


@pytest.fixture(autouse=True)
def layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": f"{__name__}.UnreachableLayer"}}
    yield
    UnreachableLayer.down = UnreachableLayer.hung = False


def _path(user) -> str:
    return f"/ws/coaching/?format=json&token={Token.objects.get_or_create(user=user)[0].key}"


def test_a_push_the_layer_refuses_is_logged_and_reported_not_raised(tenant, caplog):
    conversation = coach(tenant.agent)
    UnreachableLayer.down = True
    with caplog.at_level(logging.ERROR, logger="coaching.realtime"):
        alerts = async_to_sync(raise_alerts)(conversation, finding("objection_price_without_data"))
        assert alerts_push(alerts) is False
    assert CoachingAlert.objects.filter(pk=alerts[0].pk).exists()
    logged = [record.getMessage() for record in caplog.records if record.name == "coaching.realtime"]
    assert logged
    assert all(f"Coaching alerts {alerts[0].pk} were saved but could not be pushed" in line for line in logged)
    assert "ConnectionError" in logged[0]


def test_a_push_to_a_hung_layer_gives_up_in_time(tenant, settings):
    settings.REDIS_TIMEOUT_SECONDS = 0.2
    [alert] = async_to_sync(raise_alerts)(coach(tenant.agent), finding("objection_price_without_data"))
    UnreachableLayer.hung = True
    started = time.monotonic()
    assert alerts_push([alert]) is False
    assert time.monotonic() - started < 1.0


def test_a_message_posted_while_the_layer_is_down_is_stored_with_its_alerts(tenant):
    conversation = coach(tenant.agent)
    client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=tenant.agent).key}")
    UnreachableLayer.down = True
    raised = []
    for speaker, text in (("lead", LEAD_LINE), ("agent", AGENT_LINE)):
        response = client.post(f"/api/coaching/conversations/{conversation.pk}/messages",
                               {"speaker": speaker, "text": text}, content_type="application/json")
        assert response.status_code == 201, response.content
        raised += [alert["alert_id"] for alert in response.json()["alerts"]]
    assert raised
    assert set(CoachingAlert.objects.filter(conversation=conversation).values_list("pk", flat=True)) == set(raised)


def test_sockets_are_closed_while_the_layer_is_down_and_the_next_one_gets_what_was_missed(tenant):
    conversation = coach(tenant.agent)
    path = _path(tenant.agent)

    async def scenario():
        socket = WebsocketCommunicator(application, path)
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from())["event_type"] == "COACHING_TRAY"

        UnreachableLayer.down = True
        closed = await socket.receive_output(timeout=3)
        missed = await raise_alerts(conversation, finding("objection_price_without_data", severity="high"))

        meanwhile = WebsocketCommunicator(application, path)
        accepted, _ = await meanwhile.connect()
        refused = await meanwhile.receive_output(timeout=3)

        UnreachableLayer.down = False
        back = WebsocketCommunicator(application, path)
        assert (await back.connect())[0]
        tray = await back.receive_json_from()
        await back.disconnect()
        return closed, accepted, refused, missed, tray

    closed, accepted, refused, missed, tray = async_to_sync(scenario)()
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAVAILABLE}
    assert accepted and refused == {"type": "websocket.close", "code": CLOSE_UNAVAILABLE}
    assert tray["event_type"] == "COACHING_TRAY"
    assert [alert["alert_id"] for alert in tray["data"]["alerts"]] == [alert.pk for alert in missed]
