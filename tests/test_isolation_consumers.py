"""The isolation matrix for the WebSocket consumers (coaching/routing.py): who may open the live coaching socket,
which frames reach which socket, and what frames sent by a client can do.

Every socket is opened through the project's ASGI application (origin check, session and token auth), as in
tests/coaching/test_consumers.py, whose cases (wrong token, no brokerage, cross-site origin, bad frames of an
agent) are not repeated here. This module adds the matrix: every role of two brokerages listening at once while
alerts of every kind are raised, each socket's frames compared with exactly what it may see.
"""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from rest_framework.authtoken.models import Token

from brokerages.models import Role
from brokerages.services import api_token_create, api_token_revoke, team_member_set_active
from coaching.models import CoachingAlert, Intensity
from coaching.services.alerts import alerts_raise
from tests.coaching.test_alerts import analysis, channel_layer, finding  # noqa: F401  (channel_layer: a fixture)
from tests.coaching.test_consumers import (ORIGIN, PATH, close_code, coach, connect, raise_alerts,
                                           session_headers, token_headers, token_of)
from tests.conftest import make_tenant
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("channel_layer")]

JSON_PATH = f"{PATH}?format=json"


async def drain(socket) -> list[dict]:
    """Every JSON frame the socket has been sent until it goes quiet."""
    frames = []
    while not await socket.receive_nothing(timeout=0.3):
        frames.append(await socket.receive_json_from())
    return frames


def received_ids(frames: list[dict]) -> set[tuple[str, int]]:
    return {(frame["event_type"], frame["data"]["alert_id"]) for frame in frames}


@pytest.fixture
def tenants():
    """Two brokerages, the first with a second agent (the victim agent's colleague)."""
    home, foreign = make_tenant("Palm Crest Realty"), make_tenant("Marina Heights Properties")
    colleague = UserFactory(brokerage=home.brokerage, role=Role.AGENT, email="colleague@palm.test")
    return home, foreign, colleague


# --- who may open the socket --------------------------------------------------------------------------------------

def test_revoked_deactivated_and_foreign_credentials_are_refused(tenants):
    """A01 Broken access control / A07 Identification failures: a token revoked by its holder, the token and the
    live browser session of a member the owner deactivated, and an anonymous socket all close with 4401; a page
    of another site riding a member's session cookie never completes the handshake."""
    home, foreign, colleague = tenants
    revoked = api_token_create(user=colleague).key
    api_token_revoke(user=colleague)
    leaver = UserFactory(brokerage=home.brokerage, role=Role.AGENT, email="leaver@palm.test")
    leaver_token, leaver_session = token_of(leaver), session_headers(leaver)
    team_member_set_active(brokerage=home.brokerage, actor=home.owner, member=leaver, active=False)
    refusals = {
        "anonymous": ([ORIGIN], PATH),
        "revoked token (header)": ([(b"authorization", f"Token {revoked}".encode())], PATH),
        "revoked token (query)": ([], f"{JSON_PATH}&token={revoked}"),
        "deactivated member's token": ([], f"{JSON_PATH}&token={leaver_token}"),
        "deactivated member's session": (leaver_session, PATH),
        "empty token": ([(b"authorization", b"Token ")], PATH),
        "session from another site": (session_headers(home.agent, origin=(b"origin", b"https://evil.example")),
                                      PATH),
    }

    async def scenario():
        return {name: await close_code(headers, path) for name, (headers, path) in refusals.items()}

    assert async_to_sync(scenario)() == {
        "anonymous": 4401, "revoked token (header)": 4401, "revoked token (query)": 4401,
        "deactivated member's token": 4401, "deactivated member's session": 4401,
        # An empty token is no token: the handshake is a browser's, which must name an allowed origin.
        "empty token": "handshake refused",
        "session from another site": "handshake refused"}
    assert not Token.objects.filter(key__in=[revoked, leaver_token]).exists()


def test_an_agent_cannot_join_the_managers_group(tenants):
    """A01 Broken access control: asking for the escalations list (`?show=escalations`) as an agent is refused
    (4403); asking for both lists gives the agent their own alerts and no escalation list, and no escalation of a
    colleague reaches them."""
    home, _, colleague = tenants
    conversation = coach(colleague, Intensity.CRITICAL)
    agent_token = token_of(home.agent)

    async def scenario():
        refused = await close_code([], f"{JSON_PATH}&show=escalations&token={agent_token}")
        socket = await connect([], f"{JSON_PATH}&show=alerts,escalations&token={agent_token}")
        tray = await socket.receive_json_from()
        escalated = await raise_alerts(conversation, finding("urgent", severity="critical"))
        frames = await drain(socket)
        await socket.disconnect()
        return refused, tray, escalated, frames

    refused, tray, [escalated], frames = async_to_sync(scenario)()
    assert refused == 4403
    assert tray == {"event_type": "COACHING_TRAY", "data": {"alerts": []}}
    assert escalated.escalated and frames == []


# --- who receives what --------------------------------------------------------------------------------------------

def test_every_socket_receives_exactly_what_its_member_may_see(tenants):
    """A01 Broken access control: sockets of every role of two brokerages (and of a second agent) listen while
    each agent gets a coaching tip and an escalation. Each socket's frames are exactly its own alerts (agents and
    owners are coached) plus its own brokerage's escalations (owners and support staff): nothing of a colleague,
    nothing of the other brokerage."""
    home, foreign, colleague = tenants
    coached = {"agent": home.agent, "colleague": colleague, "owner": home.owner, "foreign agent": foreign.agent}
    conversations = {name: coach(user, Intensity.CRITICAL) for name, user in coached.items()}
    listeners = {"agent": home.agent, "colleague": colleague, "owner": home.owner, "support": home.support,
                 "foreign agent": foreign.agent, "foreign owner": foreign.owner,
                 "foreign support": foreign.support}
    tokens = {name: token_of(user) for name, user in listeners.items()}

    async def scenario():
        sockets = {name: await connect([], f"{JSON_PATH}&token={key}") for name, key in tokens.items()}
        trays = {name: await socket.receive_json_from() for name, socket in sockets.items()}
        raised = {}
        for name, conversation in conversations.items():
            raised[name] = await raise_alerts(conversation, finding(f"tip_{name.replace(' ', '_')}", severity="low"),
                                              finding(f"urgent_{name.replace(' ', '_')}", severity="critical"))
        frames = {name: await drain(socket) for name, socket in sockets.items()}
        for socket in sockets.values():
            await socket.disconnect()
        return trays, raised, frames

    trays, raised, frames = async_to_sync(scenario)()
    assert all(tray["event_type"] == "COACHING_TRAY" for tray in trays.values())

    def own(name):
        return {("COACHING_ALERT", alert.pk) for alert in raised[name]}

    def escalations(*names):
        return {("COACHING_ESCALATION", alert.pk) for name in names for alert in raised[name] if alert.escalated}

    assert all(sum(alert.escalated for alert in alerts) == 1 for alerts in raised.values())
    # An owner's own escalation is not sent twice: they have it as the agent already.
    owners_escalations = escalations("agent", "colleague")
    assert {name: received_ids(got) for name, got in frames.items()} == {
        "agent": own("agent"),
        "colleague": own("colleague"),
        "owner": own("owner") | owners_escalations,
        "support": escalations("agent", "colleague", "owner"),
        "foreign agent": own("foreign agent"),
        "foreign owner": escalations("foreign agent"),
        "foreign support": escalations("foreign agent"),
    }


def test_the_tray_of_a_reconnecting_socket_holds_only_what_its_member_may_see(tenants):
    """A01 Broken access control: the alerts missed while offline (sent on connect) are the member's own and
    their brokerage's escalations, never a colleague's tips or another brokerage's alerts."""
    home, foreign, colleague = tenants
    raised = {name: alerts_raise(conversation=coach(user, Intensity.CRITICAL), analysis=analysis(
        finding("tip", severity="low"), finding("urgent", severity="critical")))
        for name, user in {"agent": home.agent, "colleague": colleague, "foreign": foreign.agent}.items()}
    headers = {"agent": token_headers(home.agent), "support": token_headers(home.support),
               "foreign owner": token_headers(foreign.owner)}

    async def scenario():
        trays = {}
        for name, each in headers.items():
            socket = await connect(each, JSON_PATH)
            trays[name] = (await socket.receive_json_from())["data"]
            await socket.disconnect()
        return trays

    trays = async_to_sync(scenario)()

    def ids(items):
        return sorted(item["alert_id"] for item in items)

    def urgent(*names):
        return sorted(alert.pk for name in names for alert in raised[name] if alert.escalated)

    assert ids(trays["agent"]["alerts"]) == sorted(alert.pk for alert in raised["agent"])
    assert "escalations" not in trays["agent"]
    assert "alerts" not in trays["support"] and ids(trays["support"]["escalations"]) == urgent("agent", "colleague")
    assert ids(trays["foreign owner"]["escalations"]) == urgent("foreign") and trays["foreign owner"]["alerts"] == []


# --- what a client's frames can do --------------------------------------------------------------------------------

def test_acknowledging_alerts_that_are_not_the_members_changes_nothing(tenants):
    """A01 Broken access control (IDOR over the socket): an owner acknowledging their agent's escalated alert, an
    agent acknowledging a colleague's, a member of another brokerage acknowledging either (by guessing ids) get an
    error frame; no alert changes and no other socket hears of it. Another brokerage's alert is answered exactly
    as an id that never existed, so the socket is no oracle for ids."""
    home, foreign, colleague = tenants
    [alert] = alerts_raise(conversation=coach(home.agent, Intensity.CRITICAL),
                           analysis=analysis(finding(severity="critical")))
    [colleagues] = alerts_raise(conversation=coach(colleague), analysis=analysis(finding(severity="low")))
    missing = CoachingAlert.objects.order_by("-pk").first().pk + 1000
    attempts = [(home.owner, alert.pk), (colleague, alert.pk), (home.agent, colleagues.pk),
                (foreign.agent, alert.pk), (foreign.owner, colleagues.pk), (foreign.agent, missing)]
    victim_token = token_of(home.agent)
    attempts = [(token_headers(user), alert_id) for user, alert_id in attempts]

    async def scenario():
        victim = await connect([], f"{JSON_PATH}&token={victim_token}")
        await victim.receive_json_from()
        replies = []
        for headers, alert_id in attempts:
            socket = await connect(headers, JSON_PATH)
            await socket.receive_json_from()
            await socket.send_json_to({"action": "ack", "alert_id": alert_id})
            replies.append(await socket.receive_json_from())
            assert await socket.receive_nothing(timeout=0.1)
            await socket.disconnect()
        heard = await drain(victim)
        await victim.disconnect()
        return replies, heard

    replies, heard = async_to_sync(scenario)()
    assert [(reply["event_type"], reply["data"]["message"]) for reply in replies] == [
        ("ERROR", "Only the agent the alert is for can acknowledge it."),
        ("ERROR", "Only the agent the alert is for can acknowledge it."),
        ("ERROR", "Only the agent the alert is for can acknowledge it."),
        ("ERROR", "No such coaching alert."),
        ("ERROR", "No such coaching alert."),
        ("ERROR", "No such coaching alert."),
    ]
    assert heard == []
    assert CoachingAlert.objects.filter(pk__in=[alert.pk, colleagues.pk], acknowledged_at__isnull=False).count() == 0


def test_frames_asking_for_other_groups_or_tenants_get_an_error_and_change_nothing(tenants):
    """A01 Broken access control / A08 Integrity: frames that try to subscribe to the managers' or another
    brokerage's group, act for another user or inject fields get an error frame naming the allowed actions; the
    socket keeps receiving only its own alerts afterwards."""
    home, foreign, colleague = tenants
    [colleagues] = alerts_raise(conversation=coach(colleague), analysis=analysis(finding(severity="low")))
    conversation = coach(foreign.agent, Intensity.CRITICAL)
    frames = [
        {"action": "subscribe", "group": f"coaching.managers.{home.brokerage.pk}"},
        {"action": "join", "group": f"coaching.agent.{foreign.agent.pk}"},
        {"action": "show", "show": "escalations"},
        {"action": "ACK", "alert_id": colleagues.pk},
        {"action": ["ack"], "alert_id": colleagues.pk},
        {"action": "ack", "alert_id": colleagues.pk, "user_id": colleague.pk, "brokerage": home.brokerage.pk},
        {"action": "ack", "alert_id": [colleagues.pk]},
        {"action": "ack", "alert_id": None},
    ]
    token = token_of(home.agent)

    async def scenario():
        socket = await connect([], f"{JSON_PATH}&token={token}")
        await socket.receive_json_from()
        replies = []
        for frame in frames:
            await socket.send_to(text_data=json.dumps(frame))
            replies.append(await socket.receive_json_from())
        await raise_alerts(conversation, finding(severity="critical"))
        after = await drain(socket)
        await socket.disconnect()
        return replies, after

    replies, after = async_to_sync(scenario)()
    assert [reply["event_type"] for reply in replies] == ["ERROR"] * len(frames)
    messages = [reply["data"]["message"] for reply in replies]
    assert all('use "ack" or "ping"' in message for message in messages[:5]), messages
    assert messages[5] == "Only the agent the alert is for can acknowledge it."
    assert messages[6:] == ["Say which alert to acknowledge: alert_id must be a number."] * 2
    assert after == []
    colleagues.refresh_from_db()
    assert colleagues.acknowledged_at is None


# A browser's acknowledgement frame (htmx ws-send: the form's values and request headers) is a few hundred
# bytes; a client sending megabytes is not a page.
OVERSIZED = json.dumps({"action": "ping", "padding": "x" * 1_000_000})


def test_an_oversized_frame_gets_an_error_and_the_socket_stays_usable(tenants):
    """A04 Insecure design / resource exhaustion: a megabyte frame is refused with an error frame instead of
    being parsed and answered; the socket still answers a ping afterwards."""
    home, _, _ = tenants
    token = token_of(home.agent)

    async def scenario():
        socket = await connect([], f"{JSON_PATH}&token={token}")
        await socket.receive_json_from()
        await socket.send_to(text_data=OVERSIZED)
        refused = await socket.receive_json_from()
        await socket.send_json_to({"action": "ping"})
        pong = await socket.receive_json_from()
        await socket.disconnect()
        return refused, pong

    refused, pong = async_to_sync(scenario)()
    assert refused["event_type"] == "ERROR" and "too large" in refused["data"]["message"]
    assert pong["event_type"] == "PONG"


def test_a_deactivated_members_open_socket_cannot_act(tenants):
    """A01 Broken access control / A07 Authentication failures: a socket opened before its member was
    deactivated is closed (4401) at its next frame, instead of acknowledging on their behalf."""
    home, _, _ = tenants
    leaver = UserFactory(brokerage=home.brokerage, role=Role.AGENT, email="leaver@palm.test")
    [alert] = alerts_raise(conversation=coach(leaver), analysis=analysis(finding(severity="low")))
    token = token_of(leaver)

    @database_sync_to_async
    def deactivate():
        team_member_set_active(brokerage=home.brokerage, actor=home.owner, member=leaver, active=False)

    async def scenario():
        socket = await connect([], f"{JSON_PATH}&token={token}")
        await socket.receive_json_from()
        await deactivate()
        await socket.send_json_to({"action": "ack", "alert_id": alert.pk})
        reply = await socket.receive_output(timeout=2)
        await socket.disconnect()
        return reply

    reply = async_to_sync(scenario)()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert reply == {"type": "websocket.close", "code": 4401}


def test_a_page_session_socket_gets_no_foreign_alert_html(tenants):
    """A01 Broken access control, through the browser's path (session cookie, HTML fragments): the agent's page
    receives its own alert fragment and none of a colleague's or another brokerage's."""
    home, foreign, colleague = tenants
    mine, theirs, abroad = (coach(user) for user in (home.agent, colleague, foreign.agent))
    headers = session_headers(home.agent)

    async def scenario():
        socket = await connect(headers)
        await socket.receive_from()
        [own] = await raise_alerts(mine, finding("own", severity="low"))
        others = [*(await raise_alerts(theirs, finding("colleague", severity="low"))),
                  *(await raise_alerts(abroad, finding("foreign", severity="low")))]
        got = []
        while not await socket.receive_nothing(timeout=0.3):
            got.append(await socket.receive_from())
        await socket.disconnect()
        return own, others, got

    own, others, got = async_to_sync(scenario)()
    assert len(got) == 1 and f'id="coaching-alert-{own.pk}"' in got[0]
    assert not any(f"coaching-alert-{alert.pk}" in frame for frame in got for alert in others)
