"""The public REST API for the brokerage profile, team and settings, as an integrator with a token sees it."""

import re
from urllib.parse import urlparse

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core import mail
from rest_framework.test import APIClient

from brokerages import services
from brokerages.models import AuditLog, Brokerage, BrokerageSetting, Role, User
from brokerages.settings_registry import SETTINGS

from ..api_helpers import api_as, assert_error

PROFILE = "/api/brokerage/profile"
TEAM = "/api/brokerage/team"
SETTINGS_URL = "/api/brokerage/settings"

pytestmark = pytest.mark.django_db


def member_url(pk: int) -> str:
    return f"{TEAM}/{pk}"


def fresh(user: User) -> User:
    # guardian caches permissions on the user object, so permission checks need a newly fetched one.
    return User.objects.get(pk=user.pk)


# --- authentication -------------------------------------------------------------------------------------------


def test_no_token_is_401_in_the_error_shape(tenant):
    response = APIClient().get(PROFILE)
    error = assert_error(response, 401)
    assert error["fields"] == {}
    assert response["WWW-Authenticate"].startswith("Token")


def test_bad_token_is_401(tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    assert_error(client.get(PROFILE), 401)


def test_revoked_token_stops_working(tenant):
    client = api_as(tenant.owner)
    assert client.get(PROFILE).status_code == 200
    assert services.api_token_revoke(user=tenant.owner) is True
    assert_error(client.get(PROFILE), 401)


def test_new_token_replaces_the_old_one(tenant):
    old = api_as(tenant.owner)
    new = api_as(tenant.owner)
    assert new.get(PROFILE).status_code == 200
    assert_error(old.get(PROFILE), 401)


def test_token_of_member_deactivated_by_owner_stops_working(tenant):
    agent_client = api_as(tenant.agent)
    assert agent_client.get(PROFILE).status_code == 200
    response = api_as(tenant.owner).patch(member_url(tenant.agent.pk), {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    assert_error(agent_client.get(PROFILE), 401)


def test_token_of_member_deactivated_directly_stops_working(tenant):
    # E.g. a system admin unticks "active" in the admin: the token row survives but must not authenticate.
    agent_client = api_as(tenant.agent)
    User.objects.filter(pk=tenant.agent.pk).update(is_active=False)
    assert_error(agent_client.get(PROFILE), 401)


# --- profile --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.BROKERAGE_OWNER, Role.AGENT, Role.SUPPORT_STAFF])
def test_every_role_reads_its_own_brokerage_profile(tenant, other_tenant, role):
    response = api_as(tenant.member(role)).get(PROFILE)
    assert response.status_code == 200
    data = response.json()
    assert data["id"] == tenant.brokerage.pk
    assert data["name"] == "Palm Crest Realty"
    assert data["slug"] == tenant.brokerage.slug
    assert data["license_number"] == tenant.brokerage.license_number
    assert other_tenant.brokerage.license_number not in response.content.decode()


def test_other_tenant_reads_its_own_profile(tenant, other_tenant):
    data = api_as(other_tenant.agent).get(PROFILE).json()
    assert data["id"] == other_tenant.brokerage.pk
    assert data["name"] == "Marina Heights Properties"


def test_owner_patches_profile_and_it_is_audited(tenant):
    response = api_as(tenant.owner).patch(
        PROFILE, {"name": "Palm Crest Realty LLC", "phone": "+971 4 555 0101"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Palm Crest Realty LLC"
    assert response.json()["phone"] == "+971 4 555 0101"
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.name == "Palm Crest Realty LLC"
    assert tenant.brokerage.phone == "+971 4 555 0101"
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="brokerage.profile_updated")
    assert entry.actor == tenant.owner
    assert entry.details["changes"]["name"] == ["Palm Crest Realty", "Palm Crest Realty LLC"]


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPPORT_STAFF])
def test_agent_and_support_cannot_patch_profile(tenant, role):
    response = api_as(tenant.member(role)).patch(PROFILE, {"name": "Hijacked"}, format="json")
    assert_error(response, 403)
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.name == "Palm Crest Realty"
    assert not AuditLog.objects.filter(action="brokerage.profile_updated").exists()


def test_licence_number_of_other_brokerage_is_refused(tenant, other_tenant):
    before = tenant.brokerage.license_number
    response = api_as(tenant.owner).patch(
        PROFILE, {"name": "Renamed", "license_number": other_tenant.brokerage.license_number}, format="json")
    error = assert_error(response, 400)
    assert "license_number" in error["fields"]
    assert error["fields"]["license_number"]
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.license_number == before
    assert tenant.brokerage.name == "Palm Crest Realty"
    assert not AuditLog.objects.filter(action="brokerage.profile_updated").exists()


@pytest.mark.parametrize("field", ["brokerage", "slug", "primary_color"])
def test_unknown_or_read_only_profile_field_is_named(tenant, field):
    original_slug = tenant.brokerage.slug
    response = api_as(tenant.owner).patch(PROFILE, {"name": "Changed", field: "x"}, format="json")
    error = assert_error(response, 400)
    assert field in error["fields"]
    assert field in error["message"]
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.name == "Palm Crest Realty"
    assert tenant.brokerage.slug == original_slug


def test_invalid_profile_value_is_400(tenant):
    error = assert_error(api_as(tenant.owner).patch(PROFILE, {"email": "not-an-email"}, format="json"), 400)
    assert "email" in error["fields"]


def test_malformed_json_is_400_in_the_error_shape(tenant):
    response = api_as(tenant.owner).generic("PATCH", PROFILE, '{"name": "Broken"', content_type="application/json")
    error = assert_error(response, 400)
    assert error["code"] == "parse_error"
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.name == "Palm Crest Realty"


# --- team -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.BROKERAGE_OWNER, Role.SUPPORT_STAFF])
def test_team_lists_only_own_members(tenant, other_tenant, role):
    response = api_as(tenant.member(role)).get(TEAM)
    assert response.status_code == 200
    emails = {row["email"] for row in response.json()["results"]}
    assert emails == {tenant.owner.email, tenant.agent.email, tenant.support.email}
    body = response.content.decode()
    for outsider in (other_tenant.owner, other_tenant.agent, other_tenant.support):
        assert outsider.email not in body


def test_agent_cannot_list_team(tenant):
    assert_error(api_as(tenant.agent).get(TEAM), 403)


def test_owner_invites_member_who_gets_a_working_set_password_link(tenant, django_capture_on_commit_callbacks):
    owner = api_as(tenant.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(TEAM, {"email": "New.Agent@Example.test", "full_name": "Noor Haddad",
                                     "role": "agent"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "new.agent@example.test"
    assert response.json()["role"] == "agent"

    member = User.objects.get(email="new.agent@example.test")
    assert member.brokerage == tenant.brokerage
    assert not member.has_usable_password()
    assert fresh(member).has_perm("brokerages.use_workflow_automation", tenant.brokerage)
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="team.invited").exists()

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["new.agent@example.test"]
    assert "Palm Crest Realty" in message.subject
    match = re.search(r"http://testserver(/accounts/password-reset/[^/\s]+/[^/\s]+/)", message.body)
    assert match, message.body

    # The link leads to a form where the invitee chooses a password, after which they can sign in.
    browser = APIClient()
    page = browser.get(match.group(1), follow=True)
    assert page.status_code == 200
    assert b"new_password1" in page.content
    set_password_url = page.redirect_chain[-1][0]
    done = browser.post(set_password_url, {"new_password1": "Sunset-Villa-2031",
                                               "new_password2": "Sunset-Villa-2031"}, format="multipart")
    assert done.status_code == 302
    assert fresh(member).check_password("Sunset-Villa-2031")


def test_invited_email_from_other_brokerage_is_refused(tenant, other_tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(tenant.owner).post(TEAM, {"email": other_tenant.agent.email, "full_name": "Poached",
                                                    "role": "agent"}, format="json")
    error = assert_error(response, 400)
    assert "another brokerage" in " ".join(error["fields"]["email"])
    assert fresh(other_tenant.agent).brokerage == other_tenant.brokerage
    assert len(mail.outbox) == 0


@pytest.mark.parametrize("role", ["boss", "system_admin"])
def test_invite_with_bad_role_is_refused(tenant, role, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(tenant.owner).post(TEAM, {"email": "x@example.test", "full_name": "X", "role": role},
                                             format="json")
    error = assert_error(response, 400)
    assert "role" in error["fields"]
    assert not User.objects.filter(email="x@example.test").exists()
    assert len(mail.outbox) == 0


def test_invite_cannot_smuggle_in_extra_fields(tenant):
    response = api_as(tenant.owner).post(TEAM, {"email": "y@example.test", "full_name": "Y",
                                                "is_staff": True}, format="json")
    error = assert_error(response, 400)
    assert "is_staff" in error["fields"]
    assert not User.objects.filter(email="y@example.test").exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPPORT_STAFF])
def test_only_owner_invites(tenant, role):
    response = api_as(tenant.member(role)).post(TEAM, {"email": "z@example.test", "full_name": "Z"}, format="json")
    assert_error(response, 403)
    assert not User.objects.filter(email="z@example.test").exists()


# --- one member -----------------------------------------------------------------------------------------------


def test_owner_reads_one_member(tenant):
    response = api_as(tenant.owner).get(member_url(tenant.agent.pk))
    assert response.status_code == 200
    assert response.json()["email"] == tenant.agent.email
    assert response.json()["role"] == "agent"


def test_member_of_other_brokerage_is_404(tenant, other_tenant):
    owner = api_as(tenant.owner)
    target = other_tenant.agent
    assert_error(owner.get(member_url(target.pk)), 404)
    assert_error(owner.patch(member_url(target.pk), {"role": "support_staff"}, format="json"), 404)
    assert_error(owner.patch(member_url(target.pk), {"is_active": False}, format="json"), 404)
    target = fresh(target)
    assert target.role == Role.AGENT
    assert target.is_active
    assert fresh(target).has_perm("brokerages.use_workflow_automation", other_tenant.brokerage)


def test_unknown_member_id_is_404(tenant):
    assert_error(api_as(tenant.owner).get(member_url(999999)), 404)


def test_agent_cannot_change_a_member(tenant):
    response = api_as(tenant.agent).patch(member_url(tenant.support.pk), {"role": "brokerage_owner"}, format="json")
    assert_error(response, 403)
    assert fresh(tenant.support).role == Role.SUPPORT_STAFF


def test_role_change_moves_permissions(tenant):
    agent = tenant.agent
    assert fresh(agent).has_perm("brokerages.use_workflow_automation", tenant.brokerage)
    assert not fresh(agent).has_perm("brokerages.view_team_performance", tenant.brokerage)

    response = api_as(tenant.owner).patch(member_url(agent.pk), {"role": "support_staff"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "support_staff"

    agent = fresh(agent)
    assert agent.role == Role.SUPPORT_STAFF
    assert agent.has_perm("brokerages.view_team_performance", tenant.brokerage)
    assert not agent.has_perm("brokerages.use_workflow_automation", tenant.brokerage)
    # ...and the API follows: the former agent may now read the team list.
    assert api_as(agent).get(TEAM).status_code == 200
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="team.role_changed").exists()


def test_demoting_the_only_owner_is_refused(tenant):
    response = api_as(tenant.owner).patch(member_url(tenant.owner.pk), {"role": "agent"}, format="json")
    error = assert_error(response, 400)
    assert "role" in error["fields"]
    owner = fresh(tenant.owner)
    assert owner.role == Role.BROKERAGE_OWNER
    assert owner.has_perm("brokerages.manage_brokerage", tenant.brokerage)


def test_owner_can_step_down_once_someone_else_is_owner(tenant):
    owner = api_as(tenant.owner)
    assert owner.patch(member_url(tenant.support.pk), {"role": "brokerage_owner"}, format="json").status_code == 200
    response = owner.patch(member_url(tenant.owner.pk), {"role": "agent"}, format="json")
    assert response.status_code == 200, response.content
    assert fresh(tenant.owner).role == Role.AGENT


def test_invalid_is_active_leaves_role_unchanged(tenant):
    response = api_as(tenant.owner).patch(member_url(tenant.agent.pk),
                                          {"role": "support_staff", "is_active": "not-a-bool"}, format="json")
    error = assert_error(response, 400)
    assert "is_active" in error["fields"]
    agent = fresh(tenant.agent)
    assert agent.role == Role.AGENT
    assert agent.is_active
    assert agent.has_perm("brokerages.use_workflow_automation", tenant.brokerage)


def test_role_and_deactivation_are_all_or_nothing(tenant):
    # Making the owner support staff would pass once another owner exists, but deactivating oneself is refused:
    # neither change may be stored.
    owner = api_as(tenant.owner)
    assert owner.patch(member_url(tenant.support.pk), {"role": "brokerage_owner"}, format="json").status_code == 200
    response = owner.patch(member_url(tenant.owner.pk), {"role": "support_staff", "is_active": False},
                           format="json")
    assert_error(response, 400)
    me = fresh(tenant.owner)
    assert me.role == Role.BROKERAGE_OWNER
    assert me.is_active


def test_owner_deactivates_and_reactivates_member(tenant):
    owner = api_as(tenant.owner)
    response = owner.patch(member_url(tenant.agent.pk), {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    assert fresh(tenant.agent).is_active is False
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="team.deactivated").exists()

    response = owner.patch(member_url(tenant.agent.pk), {"is_active": True}, format="json")
    assert response.status_code == 200
    assert fresh(tenant.agent).is_active is True


def test_owner_cannot_deactivate_themselves(tenant):
    response = api_as(tenant.owner).patch(member_url(tenant.owner.pk), {"is_active": False}, format="json")
    assert_error(response, 400)
    assert fresh(tenant.owner).is_active


@pytest.mark.parametrize("payload", [{"role": "system_admin"}, {"is_staff": True}, {"is_superuser": True},
                                     {"brokerage": 1}, {"email": "taken@example.test"}])
def test_member_patch_refuses_mass_assignment(tenant, payload):
    response = api_as(tenant.owner).patch(member_url(tenant.agent.pk), payload, format="json")
    error = assert_error(response, 400)
    assert set(payload) <= set(error["fields"])
    agent = fresh(tenant.agent)
    assert agent.role == Role.AGENT
    assert not agent.is_staff and not agent.is_superuser
    assert agent.brokerage == tenant.brokerage
    assert agent.email == tenant.agent.email


# --- settings -------------------------------------------------------------------------------------------------


def test_owner_reads_every_setting_with_value_default_and_type(tenant):
    response = api_as(tenant.owner).get(SETTINGS_URL)
    assert response.status_code == 200
    data = response.json()
    assert set(data) == {spec.key for spec in SETTINGS}
    for spec in SETTINGS:
        assert {"value", "default", "type"} <= set(data[spec.key])
        assert data[spec.key]["type"] == spec.type
        assert data[spec.key]["value"] == data[spec.key]["default"]
    assert data["forgotten_lead_days"]["value"] == 7
    assert data["quiet_hours_start"]["default"] == "21:00"
    assert data["default_coaching_intensity"]["value"] == "MODERATE"
    assert "CRITICAL" in data["default_coaching_intensity"]["choices"]


def test_owner_patches_settings_and_they_come_back_typed(tenant, other_tenant):
    owner = api_as(tenant.owner)
    response = owner.patch(SETTINGS_URL, {"forgotten_lead_days": 14, "quiet_hours_start": "22:30",
                                          "default_coaching_intensity": "CRITICAL"}, format="json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["forgotten_lead_days"]["value"] == 14
    assert data["forgotten_lead_days"]["default"] == 7
    assert data["quiet_hours_start"]["value"] == "22:30"
    assert data["default_coaching_intensity"]["value"] == "CRITICAL"

    again = owner.get(SETTINGS_URL).json()
    assert again["forgotten_lead_days"]["value"] == 14
    assert again["quiet_hours_start"]["value"] == "22:30"
    assert again["default_coaching_intensity"]["value"] == "CRITICAL"
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="settings.updated").exists()

    # The other brokerage keeps its defaults.
    theirs = api_as(other_tenant.owner).get(SETTINGS_URL).json()
    assert theirs["forgotten_lead_days"]["value"] == 7
    assert theirs["default_coaching_intensity"]["value"] == "MODERATE"


def test_settings_values_given_as_text_are_typed(tenant):
    response = api_as(tenant.owner).patch(SETTINGS_URL, {"forgotten_lead_days": "30"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["forgotten_lead_days"]["value"] == 30


@pytest.mark.parametrize("bad", [{"forgotten_lead_days": 0}, {"forgotten_lead_days": "soon"},
                                 {"forgotten_lead_days": True}, {"quiet_hours_start": "25:99"},
                                 {"default_coaching_intensity": "EXTREME"}])
def test_one_invalid_setting_stores_nothing(tenant, bad):
    (bad_key,) = bad
    valid = {"escalation_minutes": 30} if bad_key != "escalation_minutes" else {"quiet_hours_end": "07:00"}
    response = api_as(tenant.owner).patch(SETTINGS_URL, {**valid, **bad}, format="json")
    error = assert_error(response, 400)
    assert bad_key in error["fields"]
    assert not set(valid) & set(error["fields"])
    assert not BrokerageSetting.objects.filter(brokerage=tenant.brokerage).exists()
    assert api_as(tenant.owner).get(SETTINGS_URL).json()["escalation_minutes"]["value"] == 60


def test_unknown_setting_is_400(tenant):
    error = assert_error(api_as(tenant.owner).patch(SETTINGS_URL, {"free_money": 1}, format="json"), 400)
    assert "free_money" in error["fields"]
    assert not BrokerageSetting.objects.filter(brokerage=tenant.brokerage).exists()


@pytest.mark.parametrize("body", ['[{"forgotten_lead_days": 14}]', '"forgotten_lead_days"', "14", "{}", "null"])
def test_settings_body_must_be_a_non_empty_object(tenant, body):
    response = api_as(tenant.owner).generic("PATCH", SETTINGS_URL, body, content_type="application/json")
    assert_error(response, 400)
    assert not BrokerageSetting.objects.filter(brokerage=tenant.brokerage).exists()


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPPORT_STAFF])
def test_only_owner_reads_or_changes_settings(tenant, role):
    client = api_as(tenant.member(role))
    assert_error(client.get(SETTINGS_URL), 403)
    assert_error(client.patch(SETTINGS_URL, {"forgotten_lead_days": 14}, format="json"), 403)
    assert not BrokerageSetting.objects.filter(brokerage=tenant.brokerage).exists()


# --- schema and docs ------------------------------------------------------------------------------------------


def test_openapi_schema_lists_the_brokerage_paths(db):
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (PROFILE, TEAM, "/api/brokerage/team/{id}", SETTINGS_URL):
        assert path in paths, sorted(paths)
    assert {"get", "patch"} <= set(paths[PROFILE])
    assert {"get", "post"} <= set(paths[TEAM])
    assert {"get", "patch"} <= set(paths[SETTINGS_URL])
    # Integrators read these descriptions; internal notes for developers must not leak into them.
    for path in paths.values():
        for operation in path.values():
            description = operation.get("description", "") if isinstance(operation, dict) else ""
            assert "method_perms" not in description and "Subclasses" not in description, description


def test_openapi_schema_as_json(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert PROFILE in response.json()["paths"]


def test_api_docs_use_only_local_assets(db):
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    sources = re.findall(r"<(?:script|img)\b[^>]*\bsrc\s*=\s*[\"']([^\"']+)", html, re.I)
    sources += re.findall(r"<link\b[^>]*\bhref\s*=\s*[\"']([^\"']+)", html, re.I)
    assert any(src.endswith(".js") for src in sources), sources
    for src in sources:
        parsed = urlparse(src)
        assert not parsed.scheme and not parsed.netloc, f"external asset {src}"
        assert parsed.path.startswith("/static/"), src
        assert finders.find(parsed.path.removeprefix("/static/")), f"{src} is not a static file of the project"
    assert not re.search(r"https?://(?!testserver)[\w.-]+/[^\"'\s]*\.(?:js|css)\b", html), "CDN asset referenced"


def test_brokerage_model_unchanged_by_reads(tenant):
    """Reading the profile, team and settings writes nothing (no implicit setting rows, no audit noise)."""
    owner = api_as(tenant.owner)
    count = AuditLog.objects.count()
    updated = Brokerage.objects.get(pk=tenant.brokerage.pk).updated_at
    for url in (PROFILE, TEAM, member_url(tenant.agent.pk), SETTINGS_URL):
        assert owner.get(url).status_code == 200
    assert AuditLog.objects.count() == count
    assert Brokerage.objects.get(pk=tenant.brokerage.pk).updated_at == updated
    assert not BrokerageSetting.objects.filter(brokerage=tenant.brokerage).exists()
