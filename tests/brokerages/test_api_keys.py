"""Integration API keys as an owner and an integrator meet them: issued once and stored hashed, accepted as
`Authorization: Bearer`, refused with the reason, narrowed to their scopes and their brokerage, rate-limited,
and named in the audit log. Also the API's body-size limit (413)."""

import datetime as dt
import hashlib
import json
import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from brokerages.keys import api_key_create, api_key_for, api_key_revoke, scopes_grant
from brokerages.models import API_SCOPES, ApiKey, AuditLog, Role
from brokerages.services import audit_record, team_member_change_role, team_member_set_active
from nurturing.models import Lead
from tests.api_helpers import api_as, assert_error
from tests.conftest import make_tenant
from tests.factories import make_lead
from tests.test_isolation import ROUTES

LEADS = "/api/nurturing/leads"
RAW_KEY = re.compile(r"^aep_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$")
pytestmark = pytest.mark.django_db


def new_key(tenant, scopes=API_SCOPES, name="Portal sync", **extra) -> tuple[ApiKey, str]:
    return api_key_create(brokerage=tenant.brokerage, actor=tenant.owner, name=name, scopes=list(scopes), **extra)


def bearer(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def fresh_counters(settings):
    """Request counters of this test only: ids repeat across tests, so a namespace of its own in the cache
    (Redis under `make test-services`)."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"test-{uuid.uuid4().hex}"}}


# --- issuing and revoking -------------------------------------------------------------------------------------


def test_a_key_is_returned_once_and_only_its_hash_is_stored(tenant):
    key, raw = new_key(tenant, scopes=["nurturing:write", "coaching:read", "nurturing:write"])
    assert RAW_KEY.match(raw) and raw.split("_")[1] == key.prefix
    stored = ApiKey.objects.filter(pk=key.pk).values().get()
    assert stored["key_hash"] == hashlib.sha256(raw.encode()).hexdigest()
    assert not any(raw in str(value) for value in stored.values())
    assert stored["scopes"] == ["nurturing:write", "coaching:read"]  # catalogue order, once each
    entry = AuditLog.objects.get(action="api_key.created")
    assert entry.actor == tenant.owner and entry.details["name"] == "Portal sync"
    assert key.prefix in json.dumps(entry.details) and raw.split("_", 2)[2] not in json.dumps(entry.details)


@pytest.mark.parametrize(("scopes", "says"), [
    (["nurturing:read", "nurturing:admin"], "Unknown scope nurturing:admin"),
    (["crm:read"], "Unknown scope crm:read"),
    ([], "Choose at least one scope"),
])
def test_bad_scopes_are_refused_by_name(tenant, scopes, says):
    with pytest.raises(ValidationError) as refused:
        new_key(tenant, scopes=scopes)
    assert says in refused.value.message_dict["scopes"][0]
    assert not ApiKey.objects.exists()


def test_a_live_name_is_taken_until_that_key_is_revoked(tenant):
    first, _ = new_key(tenant, name="Zapier")
    with pytest.raises(ValidationError) as refused:
        new_key(tenant, name="zapier ")
    assert "already in use" in refused.value.message_dict["name"][0]
    api_key_revoke(brokerage=tenant.brokerage, actor=tenant.owner, key=first)
    assert new_key(tenant, name="Zapier")[0].pk != first.pk


def test_an_expiry_in_the_past_is_refused(tenant):
    with pytest.raises(ValidationError) as refused:
        new_key(tenant, expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert refused.value.message_dict == {"expires_at": ["The expiry must be in the future."]}


def test_only_the_brokerages_owners_create_and_revoke_keys(tenant, other_tenant):
    key, _ = new_key(tenant)
    for actor in (tenant.agent, tenant.support, other_tenant.owner):
        with pytest.raises(PermissionDenied):
            api_key_create(brokerage=tenant.brokerage, actor=actor, name="Mine", scopes=["nurturing:read"])
        with pytest.raises(PermissionDenied):
            api_key_revoke(brokerage=tenant.brokerage, actor=actor, key=key)
    assert ApiKey.objects.count() == 1 and ApiKey.objects.get().revoked_at is None


def test_revoking_twice_changes_nothing_the_second_time(tenant):
    key, _ = new_key(tenant)
    revoked_at = api_key_revoke(brokerage=tenant.brokerage, actor=tenant.owner, key=key).revoked_at
    assert api_key_revoke(brokerage=tenant.brokerage, actor=tenant.owner, key=key).revoked_at == revoked_at
    assert AuditLog.objects.filter(action="api_key.revoked").count() == 1


def test_write_includes_read_but_not_the_other_way():
    assert scopes_grant(["nurturing:write"], "nurturing", "read")
    assert not scopes_grant(["nurturing:read"], "nurturing", "write")
    assert not scopes_grant(["nurturing:write"], "coaching", "read")


# --- authentication -------------------------------------------------------------------------------------------


def test_a_key_works_on_a_real_route_as_its_creator(tenant, other_tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Huda Karim")
    make_lead(other_tenant.brokerage, name="Not ours")
    key, raw = new_key(tenant, scopes=["nurturing:read"])
    response = bearer(raw).get(LEADS)
    assert response.status_code == 200, response.content
    assert [row["id"] for row in response.json()["results"]] == [lead.pk]
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_last_used_is_written_at_most_once_a_minute(tenant):
    key, raw = new_key(tenant)
    recent = timezone.now() - dt.timedelta(seconds=30)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent)
    assert api_key_for(raw).last_used_at == recent
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=recent - dt.timedelta(minutes=1))
    api_key_for(raw)
    key.refresh_from_db()
    assert key.last_used_at > recent


def _revoked(tenant) -> str:
    key, raw = new_key(tenant)
    api_key_revoke(brokerage=tenant.brokerage, actor=tenant.owner, key=key)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC))
    return raw


def _expired(tenant) -> str:
    key, raw = new_key(tenant, expires_at=timezone.now() + dt.timedelta(days=1))
    ApiKey.objects.filter(pk=key.pk).update(expires_at=dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC))
    return raw


def _unknown(tenant) -> str:
    _, raw = new_key(tenant)
    return raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")  # right prefix, wrong secret


@pytest.mark.parametrize(("make", "says"), [
    (_revoked, "This API key was revoked on 2026-03-01 09:30 UTC."),
    (_expired, "This API key expired on 2026-02-01 00:00 UTC."),
    (_unknown, "Unknown API key."),
    (lambda tenant: "aep_nothing", "Unknown API key: keys look like aep_<prefix>_<secret>."),
    (lambda tenant: "Tm9wZQ==", "Unknown API key: keys look like aep_<prefix>_<secret>."),
])
def test_a_key_that_does_not_work_answers_401_saying_why(tenant, make, says):
    response = bearer(make(tenant)).get(LEADS)
    assert assert_error(response, 401)["message"] == says
    assert response["WWW-Authenticate"].startswith('Bearer realm="api"')


@pytest.mark.parametrize("leaves", ["deactivated", "demoted"])
def test_a_key_stops_working_when_its_creator_is_no_longer_an_active_owner(tenant, leaves):
    second_owner = make_tenant("Spare Owner Realty").owner
    second_owner.brokerage, second_owner.role = tenant.brokerage, Role.BROKERAGE_OWNER
    second_owner.save()
    _, raw = new_key(tenant)
    assert bearer(raw).get(LEADS).status_code == 200
    if leaves == "deactivated":
        team_member_set_active(brokerage=tenant.brokerage, actor=second_owner, member=tenant.owner, active=False)
    else:
        team_member_change_role(brokerage=tenant.brokerage, actor=second_owner, member=tenant.owner, role=Role.AGENT)
    assert "no longer an active owner" in assert_error(bearer(raw).get(LEADS), 401)["message"]


def test_member_tokens_still_work_and_the_challenge_names_both_schemes(tenant):
    assert api_as(tenant.agent).get(LEADS).status_code == 200
    anonymous = APIClient().get(LEADS)
    assert_error(anonymous, 401)
    assert anonymous["WWW-Authenticate"] == 'Token, Bearer realm="api"'


# --- scopes and tenancy ---------------------------------------------------------------------------------------


def test_a_key_without_the_area_is_refused_naming_the_scope(tenant):
    _, raw = new_key(tenant, scopes=["coaching:read"])
    error = assert_error(bearer(raw).get(LEADS), 403)
    assert error["message"] == "This API key lacks the scope nurturing:read."


def test_a_read_only_key_reads_but_does_not_write(tenant):
    _, raw = new_key(tenant, scopes=["nurturing:read"])
    client = bearer(raw)
    assert client.get(LEADS).status_code == 200
    error = assert_error(client.post(LEADS, {"name": "Omar Nasser"}, format="json"), 403)
    assert error["message"] == "This API key lacks the scope nurturing:write."
    assert not Lead.objects.exists()


def test_a_write_key_reads_and_writes_and_the_audit_log_names_it(tenant):
    key, raw = new_key(tenant, scopes=["nurturing:write"], name="Portal sync")
    response = bearer(raw).post(LEADS, {"name": "Omar Nasser", "email": "omar@example.com"}, format="json")
    assert response.status_code == 201, response.content
    entry = AuditLog.objects.get(action="lead.created")
    assert entry.actor == tenant.owner
    assert entry.details["api_key"] == f"Portal sync ({key.prefix})"
    # The key's name belongs to that request only: neither a token call nor later work carries it.
    api_as(tenant.owner).post(LEADS, {"name": "Sara Ali", "email": "sara@example.com"}, format="json")
    by_token = AuditLog.objects.filter(action="lead.created").exclude(pk=entry.pk).get()
    assert "api_key" not in by_token.details
    assert "api_key" not in audit_record(brokerage=tenant.brokerage, actor=None, action="probe").details


def test_a_key_gets_404_on_another_brokerages_lead(tenant, other_tenant):
    theirs = make_lead(other_tenant.brokerage, agent=other_tenant.agent)
    _, raw = new_key(tenant)
    assert_error(bearer(raw).get(f"{LEADS}/{theirs.pk}"), 404)
    assert_error(bearer(raw).patch(f"{LEADS}/{theirs.pk}", {"name": "Taken"}, format="json"), 404)
    assert Lead.objects.get(pk=theirs.pk).name != "Taken"


def _api_object_calls():
    for name, cases in ROUTES.items():
        for index, case in enumerate(cases):
            if case.api and case.objects:
                for method in case.methods:
                    yield pytest.param(name, index, method, id=f"{name}[{index}]-{method}")


@pytest.mark.parametrize(("name", "index", "method"), list(_api_object_calls()))
def test_a_full_scope_key_never_reaches_another_brokerages_objects(name, index, method):
    """Every API route of the isolation matrix that names an object, with the intruder's every-scope key."""
    victim, intruder = make_tenant("Victim Homes"), make_tenant("Intruder Realty")
    case = ROUTES[name][index]
    url = reverse(name, kwargs={**case.kwargs, **case.objects(victim, victim.owner)})
    _, raw = new_key(intruder)
    response = bearer(raw).generic(method, url, data="{}", content_type="application/json")
    assert response.status_code == 404, response.content[:300]


# --- limits ---------------------------------------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_with_retry_after(tenant, settings, fresh_counters):
    settings.API_KEY_THROTTLE_RATE = "3/min"
    _, raw = new_key(tenant, name="Busy")
    _, other = new_key(tenant, name="Quiet")
    client = bearer(raw)
    assert [client.get(LEADS).status_code for _ in range(3)] == [200, 200, 200]
    response = client.get(LEADS)
    assert assert_error(response, 429)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert bearer(other).get(LEADS).status_code == 200  # counted per key


def test_a_member_token_has_its_own_rate(tenant, settings, fresh_counters):
    settings.API_USER_THROTTLE_RATE = "2/min"
    client = api_as(tenant.agent)
    assert [client.get(LEADS).status_code for _ in range(3)] == [200, 200, 429]
    assert api_as(tenant.owner).get(LEADS).status_code == 200


def test_a_2_mib_json_body_answers_413_and_creates_nothing(tenant):
    _, raw = new_key(tenant)
    body = json.dumps({"name": "Huge", "notes": "x" * (2 * 1024 * 1024)})
    response = bearer(raw).generic("POST", LEADS, data=body, content_type="application/json")
    error = assert_error(response, 413)
    assert error["code"] == "too_large"
    assert error["message"].startswith("The request body is 2.0 MB; the API accepts at most 1.0 MB")
    assert not Lead.objects.exists()


def test_file_uploads_have_the_larger_upload_limit(tenant):
    _, raw = new_key(tenant)
    client = bearer(raw)
    not_csv = b"\xff" * (3 * 1024 * 1024 // 2)  # 1.5 MB: over the JSON limit, within the upload one
    response = client.post(f"{LEADS}/import", {"file": SimpleUploadedFile("leads.csv", not_csv)}, format="multipart")
    assert "UTF-8" in assert_error(response, 400)["message"]
    huge = b"a" * (13 * 1024 * 1024)
    response = client.post(f"{LEADS}/import", {"file": SimpleUploadedFile("leads.csv", huge)}, format="multipart")
    assert "file uploads of at most 12.0 MB" in assert_error(response, 413)["message"]


def test_a_body_without_a_usable_length_is_refused(tenant):
    _, raw = new_key(tenant)
    chunked = bearer(raw).generic("POST", LEADS, data="", content_type="application/json",
                                  HTTP_TRANSFER_ENCODING="chunked")
    assert "Content-Length" in assert_error(chunked, 411)["message"]
    garbled = bearer(raw).generic("POST", LEADS, data="{}", content_type="application/json", CONTENT_LENGTH="many")
    assert assert_error(garbled, 400)["message"] == "The Content-Length header is not a number."


# --- owners' pages, admin, schema -----------------------------------------------------------------------------


def test_an_owner_creates_a_key_and_sees_it_once(tenant, login):
    client = login(tenant.owner)
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    response = client.post(reverse("brokerages:api_key_create"), {
        "name": "Property portal", "scopes": ["nurturing:read", "nurturing:write", "analytics:read"],
        "expires_at": tomorrow.isoformat()})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # nor may a browser or proxy keep it,
    assert 'hx-history="false"' in response.content.decode()  # nor htmx's history cache
    raw = re.search(r'value="(aep_[^"]+)"', response.content.decode()).group(1)
    key = ApiKey.objects.get()
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.scopes == ["nurturing:read", "nurturing:write", "analytics:read"]
    assert timezone.localtime(key.expires_at) == timezone.make_aware(
        dt.datetime.combine(tomorrow + dt.timedelta(days=1), dt.time.min))
    assert "cannot be shown again" in response.content.decode()
    listing = client.get(reverse("brokerages:api_keys")).content.decode()
    assert "Property portal" in listing and key.prefix in listing and raw not in listing


def test_the_page_explains_a_refused_key(tenant, login):
    response = login(tenant.owner).post(reverse("brokerages:api_key_create"), {"name": "Nothing ticked"})
    assert "Choose at least one scope" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_an_owner_revokes_a_key_from_the_page(tenant, login):
    key, raw = new_key(tenant)
    response = login(tenant.owner).post(reverse("brokerages:api_key_revoke", args=[key.pk]), follow=True)
    assert "revoked" in response.content.decode()
    assert "revoked on" in assert_error(bearer(raw).get(LEADS), 401)["message"]


def test_agents_get_403_and_other_brokerages_404(tenant, other_tenant, login):
    key, raw = new_key(tenant)
    agent = login(tenant.agent)
    assert agent.get(reverse("brokerages:api_keys")).status_code == 403
    assert agent.post(reverse("brokerages:api_key_revoke", args=[key.pk])).status_code == 403
    intruder = login(other_tenant.owner)
    assert intruder.post(reverse("brokerages:api_key_revoke", args=[key.pk])).status_code == 404
    assert bearer(raw).get(LEADS).status_code == 200


def test_the_admin_lists_keys_without_their_hash(tenant, client):
    from brokerages.models import User

    key, _ = new_key(tenant)
    client.force_login(User.objects.create_superuser("root@platform.test", "Admin-Password-2026"))
    page = client.get(reverse("admin:brokerages_apikey_change", args=[key.pk]))
    assert page.status_code == 200 and key.prefix in page.content.decode()
    assert key.key_hash not in page.content.decode()


def test_the_schema_documents_both_credentials_and_the_limits(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["apiKey"]["scheme"] == "bearer" and schemes["tokenAuth"]["name"] == "Authorization"
    assert {"apiKey": []} in schema["paths"][LEADS]["get"]["security"]
    description = schema["info"]["description"]
    assert "nurturing:write" in description and "Retry-After" in description and "413" in description
