"""The live coaching socket, through the project's ASGI application (origin check, session and token auth):
who may connect, what a (re)connecting page gets, who receives which alert, bad frames, acknowledging."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from brokerages.models import Role
from coaching.models import CoachingAlert, CoachingSession, Intensity
from coaching.services.alerts import alerts_raise
from config.asgi import application
from tests.coaching.test_alerts import analysis, channel_layer, finding  # noqa: F401  (channel_layer: a fixture)
from tests.factories import UserFactory, make_conversation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]

ORIGIN = (b"origin", b"http://testserver")
PATH = "/ws/coaching/"


def session_headers(user, origin=ORIGIN) -> list:
    client = Client()
    client.force_login(user)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]
    return headers + ([origin] if origin else [])


def token_of(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def token_headers(user) -> list:
    return [(b"authorization", f"Token {token_of(user)}".encode())]


def coach(agent, intensity=Intensity.CRITICAL):
    CoachingSession.objects.create(brokerage=agent.brokerage, agent=agent, intensity=intensity)
    return make_conversation(agent.brokerage, agent, [("lead", "Is 1.9 million not too much for Marina?"),
                                                      ("agent", "It is the price.")], ended=False)


@database_sync_to_async
def raise_alerts(conversation, *findings):
    """As message_record does: alerts stored in a transaction and pushed when it commits."""
    return alerts_raise(conversation=conversation, analysis=analysis(*findings))


async def connect(headers=(), path=PATH) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, path, headers=list(headers))
    connected, _ = await socket.connect()
    assert connected
    return socket


async def close_code(headers=(), path=PATH) -> int | str:
    """The code a refused socket is closed with ("handshake refused" when it was never accepted)."""
    socket = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await socket.connect()
    if not connected:
        return "handshake refused"
    output = await socket.receive_output()
    assert output["type"] == "websocket.close"
    return output["code"]


def run(scenario):
    async_to_sync(scenario)()


# --- who may connect --------------------------------------------------------------------------------------------

def test_refused_sockets(tenant):
    outsider = UserFactory(brokerage=None, role=Role.SYSTEM_ADMIN, is_staff=True)
    no_coaching_role = UserFactory(brokerage=tenant.brokerage, role=Role.SYSTEM_ADMIN)
    former = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    former_token = token_of(former)
    former.is_active = False
    former.save()
    refusals = {
        "anonymous": [ORIGIN],
        "wrong token": [(b"authorization", b"Token not-a-real-token")],
        "deactivated member's token": [(b"authorization", f"Token {former_token}".encode())],
        "no brokerage": session_headers(outsider),
        "role without coaching": token_headers(no_coaching_role),
        "session without origin": session_headers(tenant.agent, origin=None),
        "session from another site": session_headers(tenant.agent, origin=(b"origin", b"https://evil.example")),
    }

    async def scenario():
        return {name: await close_code(headers) for name, headers in refusals.items()}

    codes = async_to_sync(scenario)()
    assert codes == {"anonymous": 4401, "wrong token": 4401, "deactivated member's token": 4401,
                     "no brokerage": 4403, "role without coaching": 4403,
                     "session without origin": "handshake refused",
                     "session from another site": "handshake refused"}


def test_a_reconnecting_page_gets_the_tray_of_what_it_missed(tenant):
    conversation = coach(tenant.agent)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    missed, seen = alerts_raise(conversation=conversation, analysis=analysis(
        finding("missed", severity="low"), finding("seen", severity="low")))
    CoachingAlert.objects.filter(pk=seen.pk).update(acknowledged_at=timezone.now())
    [not_mine] = alerts_raise(conversation=coach(colleague), analysis=analysis(finding("theirs", severity="low")))

    headers = session_headers(tenant.agent)

    async def scenario():
        socket = await connect(headers)
        tray = await socket.receive_from()
        await socket.disconnect()
        return tray

    tray = async_to_sync(scenario)()
    assert tray.startswith('<div id="coaching-alerts"') and 'hx-swap-oob="true"' in tray.split(">")[0]
    assert f'id="coaching-alert-{missed.pk}"' in tray and "Improve: missed" in tray
    assert f"coaching-alert-{seen.pk}" not in tray and f"coaching-alert-{not_mine.pk}" not in tray
    assert "coaching-escalations" not in tray  # an agent manages nobody


@pytest.mark.parametrize("how", ["header", "query"])
def test_an_integration_client_authenticates_by_token_and_gets_json(tenant, how):
    conversation = coach(tenant.agent)
    [waiting] = alerts_raise(conversation=conversation, analysis=analysis(finding("waiting", severity="low")))
    headers = token_headers(tenant.agent) if how == "header" else []
    path = f"{PATH}?format=json" + (f"&token={token_of(tenant.agent)}" if how == "query" else "")

    async def scenario():
        socket = await connect(headers, path)
        tray = await socket.receive_json_from()
        [new] = await raise_alerts(conversation, finding("new_one", severity="high"))
        frame = await socket.receive_json_from()
        await socket.disconnect()
        return tray, new, frame

    tray, new, frame = async_to_sync(scenario)()
    assert tray["event_type"] == "COACHING_TRAY"
    assert [a["alert_id"] for a in tray["data"]["alerts"]] == [waiting.pk]
    assert frame["event_type"] == "COACHING_ALERT"
    assert frame["data"]["alert_id"] == new.pk and frame["data"]["priority"] == "HIGH"
    assert frame["data"]["conversation_id"] == conversation.pk and frame["data"]["area"] == "objection_handling"


# --- who receives what ------------------------------------------------------------------------------------------

def test_alerts_reach_their_agent_and_escalations_this_brokerages_managers_only(tenant, other_tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    conversation = coach(tenant.agent, Intensity.CRITICAL)
    headers = [session_headers(tenant.agent), token_headers(colleague), session_headers(tenant.owner),
               token_headers(tenant.support), token_headers(other_tenant.owner), token_headers(other_tenant.agent)]

    async def scenario():
        sockets = [await connect(each) for each in headers]
        agent, other_agent, owner, support, foreign_owner, foreign_agent = sockets
        trays = [await socket.receive_from() for socket in sockets]
        tip, urgent = await raise_alerts(conversation, finding("tip", severity="low"),
                                         finding("urgent", severity="critical"))
        got = {"agent": [await agent.receive_from(), await agent.receive_from()],
               "owner": [await owner.receive_from()], "support": [await support.receive_from()]}
        for socket in (other_agent, foreign_owner, foreign_agent, agent, owner, support):
            assert await socket.receive_nothing(timeout=0.2)
        for socket in sockets:
            await socket.disconnect()
        return trays, tip, urgent, got

    trays, tip, urgent, got = async_to_sync(scenario)()
    assert "coaching-escalations" in trays[2] and "coaching-alerts" in trays[2]  # an owner is coached and manages
    assert "coaching-escalations" in trays[3] and "coaching-alerts" not in trays[3]  # support staff only manage
    first, second = got["agent"]
    assert f'id="coaching-alert-{tip.pk}"' in first and f'id="coaching-alert-{urgent.pk}"' in second
    for frame in got["owner"] + got["support"]:
        assert 'hx-swap-oob="afterbegin:#coaching-escalations"' in frame
        assert f'id="coaching-escalation-{urgent.pk}"' in frame and tenant.agent.display_name in frame


def test_a_page_gets_only_the_lists_it_shows(tenant):
    conversation = coach(tenant.agent, Intensity.CRITICAL)
    owner, support = session_headers(tenant.owner), session_headers(tenant.support)

    async def scenario():
        refused = await close_code(support, f"{PATH}?show=alerts")
        live_page = await connect(owner, f"{PATH}?show=alerts")
        escalations_page = await connect(owner, f"{PATH}?show=escalations")
        trays = [await live_page.receive_from(), await escalations_page.receive_from()]
        await raise_alerts(conversation, finding(severity="critical"))
        escalation = await escalations_page.receive_from()
        assert await live_page.receive_nothing(timeout=0.2)
        for socket in (live_page, escalations_page):
            await socket.disconnect()
        return refused, trays, escalation

    refused, (live_tray, escalations_tray), escalation = async_to_sync(scenario)()
    assert refused == 4403  # support staff are not coached: a page of their own alerts has nothing for them
    assert "coaching-alerts" in live_tray and "coaching-escalations" not in live_tray
    assert "coaching-escalations" in escalations_tray and "coaching-alerts" not in escalations_tray
    assert 'hx-swap-oob="afterbegin:#coaching-escalations"' in escalation


def test_bad_frames_get_an_error_back_and_the_socket_stays_open(tenant, other_tenant):
    [colleagues_alert] = alerts_raise(conversation=coach(UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)),
                                      analysis=analysis(finding(severity="low")))
    [foreign_alert] = alerts_raise(conversation=coach(other_tenant.agent), analysis=analysis(finding(severity="low")))
    frames = [b"\x00\x01", "not json", "[1, 2]", '{"action": "dance"}', '{"action": "ack", "alert_id": "x"}',
              json.dumps({"action": "ack", "alert_id": colleagues_alert.pk}),
              json.dumps({"action": "ack", "alert_id": foreign_alert.pk})]
    headers = token_headers(tenant.agent)

    async def scenario(path):
        socket = await connect(headers, path)
        await socket.receive_from()
        replies = []
        for frame in frames:
            if isinstance(frame, bytes):
                await socket.send_to(bytes_data=frame)
            else:
                await socket.send_to(text_data=frame)
            replies.append(await socket.receive_from())
        await socket.send_json_to({"action": "ping"})
        replies.append(await socket.receive_from())
        await socket.disconnect()
        return replies

    html = async_to_sync(scenario)(PATH)
    assert all('id="coaching-ws-status"' in reply and 'data-state="error"' in reply for reply in html[:-1])
    assert 'data-state="live"' in html[-1]
    replies = [json.loads(reply) for reply in async_to_sync(scenario)(f"{PATH}?format=json")]
    assert [reply["event_type"] for reply in replies] == ["ERROR"] * len(frames) + ["PONG"]
    assert [reply["data"]["message"] for reply in replies[:-1]] == [
        "Send JSON text frames, not binary ones.", "That frame is not JSON.",
        'Send a JSON object such as {"action": "ping"}.', "Unknown action 'dance': use \"ack\" or \"ping\".",
        "Say which alert to acknowledge: alert_id must be a number.",
        "Only the agent the alert is for can acknowledge it.", "No such coaching alert."]
    colleagues_alert.refresh_from_db()
    assert colleagues_alert.acknowledged_at is None


def test_acknowledging_over_the_socket_updates_every_tab_and_the_managers(tenant):
    conversation = coach(tenant.agent, Intensity.CRITICAL)
    [alert] = alerts_raise(conversation=conversation, analysis=analysis(finding(severity="high")))
    # what htmx's ws-send sends for the Acknowledge form: the form's values (strings) and the request headers
    ack = {"action": "ack", "alert_id": str(alert.pk),
           "HEADERS": {"HX-Request": "true", "HX-Trigger": None, "HX-Current-URL": "http://testserver/coaching/"}}

    agent_headers, owner_headers = session_headers(tenant.agent), session_headers(tenant.owner)

    async def scenario():
        tab, other_tab, owner = [await connect(each) for each in (agent_headers, agent_headers, owner_headers)]
        for socket in (tab, other_tab, owner):
            await socket.receive_from()
        await tab.send_json_to(ack)
        frames = [await tab.receive_from(), await other_tab.receive_from(), await owner.receive_from()]
        await tab.send_json_to(ack)  # again: nothing changes, only the asking tab hears back
        frames.append(await tab.receive_from())
        assert await other_tab.receive_nothing(timeout=0.2)
        for socket in (tab, other_tab, owner):
            await socket.disconnect()
        return frames

    mine, other_tab, owners, again = async_to_sync(scenario)()
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    for frame in (mine, other_tab, again):
        assert frame.startswith(f'<article id="coaching-alert-{alert.pk}"')
        assert "is-acknowledged" in frame and 'hx-swap-oob="true"' in frame and "ws-send" not in frame
    assert owners.startswith(f'<article id="coaching-escalation-{alert.pk}"') and "is-acknowledged" in owners
