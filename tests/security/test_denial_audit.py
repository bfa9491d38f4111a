"""An audit entry for every permission denial a member meets: a 403 page, a 403 API call (token or key) and a
refused coaching socket each leave one `permission.denied` entry, visible on the owner's compliance page; a 404
across brokerages leaves nothing in either log; and the recording costs one INSERT, on denial only."""

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokerages.keys import api_key_create
from brokerages.models import AuditLog
from config.asgi import application
from tests.api_helpers import api_as
from tests.coaching.test_alerts import channel_layer  # noqa: F401  (a fixture)
from tests.coaching.routes import colleagues_conversation
from tests.coaching.test_consumers import session_headers, token_headers
from tests.test_isolation import article

DENIED = "permission.denied"


def denials(brokerage) -> list[AuditLog]:
    return list(AuditLog.objects.filter(brokerage=brokerage, action=DENIED).order_by("id"))


def assert_on_compliance_page(tenant, entry: AuditLog) -> None:
    owner = Client()
    owner.force_login(tenant.owner)
    page = owner.get(reverse("brokerages:audit_log"), {"action": DENIED}).content.decode()
    assert DENIED in page and entry.details["path"] in page


@pytest.mark.django_db
def test_a_403_page_leaves_one_entry(client, tenant, other_tenant):
    client.force_login(tenant.agent)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("brokerages:team"))
    assert response.status_code == 403
    [entry] = denials(tenant.brokerage)
    assert entry.actor == tenant.agent and entry.ip_address == "127.0.0.1"
    assert entry.details == {"method": "GET", "path": "/brokerage/team/", "view": "brokerages:team"}
    inserts = [query["sql"] for query in queries.captured_queries if query["sql"].lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 1 and "audit" in inserts[0].lower()
    assert denials(other_tenant.brokerage) == []
    assert_on_compliance_page(tenant, entry)


@pytest.mark.django_db
def test_an_allowed_page_records_nothing_and_costs_no_insert(client, tenant):
    client.force_login(tenant.agent)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("account")).status_code == 200
    assert not [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("INSERT")]
    assert denials(tenant.brokerage) == []


@pytest.mark.django_db
def test_a_403_api_call_by_token_leaves_one_entry(tenant):
    response = api_as(tenant.agent).patch(reverse("api-brokerage-settings"), {}, format="json")
    assert response.status_code == 403
    [entry] = denials(tenant.brokerage)
    assert entry.actor == tenant.agent
    assert entry.details == {"method": "PATCH", "path": "/api/brokerage/settings", "view": "api-brokerage-settings"}
    assert_on_compliance_page(tenant, entry)


@pytest.mark.django_db
def test_a_key_outside_its_scopes_leaves_one_entry_naming_the_key(tenant):
    key, raw = api_key_create(brokerage=tenant.brokerage, actor=tenant.owner, name="Portal sync",
                              scopes=["nurturing:read"])
    client = Client()
    response = client.get(reverse("api-brokerage-settings"), HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert response.status_code == 403
    [entry] = denials(tenant.brokerage)
    assert entry.actor == tenant.owner and entry.details["api_key"].startswith("Portal sync (")


@pytest.mark.django_db
def test_an_object_check_403_leaves_one_entry(client, tenant):
    """A colleague's conversation in the same brokerage answers an agent 403 (not 404): a denial too."""
    url = reverse("coaching:conversation", kwargs=colleagues_conversation(tenant, tenant.agent))
    client.force_login(tenant.agent)
    assert client.get(url).status_code == 403
    [entry] = denials(tenant.brokerage)
    assert entry.details == {"method": "GET", "path": url, "view": "coaching:conversation"}


@pytest.mark.django_db
def test_a_404_across_brokerages_leaves_nothing_in_either_log(client, tenant, other_tenant):
    url = reverse("copilot:article_edit", kwargs=article(other_tenant, other_tenant.owner))
    client.force_login(tenant.owner)
    assert client.get(url).status_code == 404
    assert denials(other_tenant.brokerage) == [] and denials(tenant.brokerage) == []
    assert not AuditLog.objects.filter(brokerage=other_tenant.brokerage).exists()


@pytest.mark.django_db
def test_visitors_and_system_admins_have_no_brokerage_log_to_fill(tenant):
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(reverse("login"), {"username": "x", "password": "y"}).status_code == 403  # no CSRF token
    assert not AuditLog.objects.filter(action=DENIED).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("channel_layer")
def test_a_refused_coaching_socket_leaves_one_entry(tenant):
    headers = session_headers(tenant.support)  # support staff are not coached: no alerts of their own

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/coaching/?show=alerts", headers=headers)
        connected, _ = await socket.connect()
        assert connected
        closed = await socket.receive_output(timeout=2)
        await socket.disconnect()
        return closed

    assert async_to_sync(scenario)() == {"type": "websocket.close", "code": 4403}
    [entry] = denials(tenant.brokerage)
    assert entry.actor == tenant.support
    assert entry.details == {"method": "WEBSOCKET", "path": "/ws/coaching/", "view": "coaching-socket"}
    assert_on_compliance_page(tenant, entry)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("channel_layer")
def test_an_allowed_socket_records_nothing(tenant):
    headers = token_headers(tenant.agent)

    async def scenario():
        socket = WebsocketCommunicator(application, "/ws/coaching/", headers=headers)
        connected, _ = await socket.connect()
        tray = await socket.receive_from()
        await socket.disconnect()
        return connected, tray

    connected, tray = async_to_sync(scenario)()
    assert connected and "coaching-alerts" in tray
    assert denials(tenant.brokerage) == []
