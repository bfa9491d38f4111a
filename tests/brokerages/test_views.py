import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from brokerages import services
from brokerages.models import AuditLog, Role, User
from brokerages.settings_registry import SETTINGS

from ..factories import UserFactory
from ..images import png_bytes

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_owner_journey_brand_colour_invite_and_audit(client, tenant, password, mailoutbox,
                                                     django_capture_on_commit_callbacks):
    """The issue's "done when": sign in, change the brand colour and see it, invite an agent, find both."""
    response = client.post(reverse("login"), {"username": tenant.owner.email, "password": password})
    assert response.status_code == 302

    response = client.post(reverse("brokerages:branding"), {"primary_color": "#0A7E5C",
                                                             "secondary_color": "#F2B134"}, follow=True)
    assert b"Branding saved" in response.content
    assert b"--brand-primary: #0A7E5C" in response.content
    assert b"--brand-primary: #0A7E5C" in client.get(reverse("home")).content

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("brokerages:team_invite"), {
            "email": "sara@palmcrest.ae", "full_name": "Sara Ali", "role": Role.AGENT}, **HTMX)
    assert response.status_code == 200
    assert b"Invitation sent to sara@palmcrest.ae" in response.content
    assert b"<html" not in response.content, "htmx gets the team fragment, not a page"
    assert mailoutbox[0].to == ["sara@palmcrest.ae"]

    page = client.get(reverse("brokerages:audit_log")).content.decode()
    assert "brokerage.branding_updated" in page and "team.invited" in page and "127.0.0.1" in page
    assert "primary_color: #1F4E79 → #0A7E5C" in page


def test_branding_form_reports_bad_input_and_changes_nothing(login, tenant):
    client = login(tenant.owner)
    response = client.post(reverse("brokerages:branding"), {
        "primary_color": "teal", "secondary_color": "#FFFFFF",
        "logo": SimpleUploadedFile("logo.png", b"GIF89a not really", content_type="image/png")})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enter a colour as #RRGGBB" in body and "not a PNG, JPEG, WebP or GIF image" in body
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.primary_color == "#1F4E79"
    assert not AuditLog.objects.filter(action="brokerage.branding_updated").exists()


def test_logo_is_shown_in_the_header(login, tenant):
    client = login(tenant.owner)
    client.post(reverse("brokerages:branding"), {"primary_color": "#1F4E79", "secondary_color": "#C9A227",
                                                  "logo": SimpleUploadedFile("logo.png", png_bytes((40, 20)))})
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.logo_url in client.get(reverse("home")).content.decode()


def test_brand_asset_upload_by_htmx_returns_the_asset_list(login, tenant):
    client = login(tenant.owner)
    response = client.post(reverse("brokerages:brand_asset_upload"), {
        "asset_type": "brochure", "asset_name": "JBR brochure",
        "file": SimpleUploadedFile("jbr.pdf", b"%PDF-1.4\n...")}, **HTMX)
    assert b"JBR brochure" in response.content and b'id="assets"' in response.content
    response = client.post(reverse("brokerages:brand_asset_upload"), {
        "asset_type": "brochure", "asset_name": "Bad", "file": SimpleUploadedFile("bad.pdf", b"plain text")}, **HTMX)
    assert b"must be a PDF" in response.content


def test_invite_errors_stay_on_the_form(login, tenant, other_tenant):
    client = login(tenant.owner)
    response = client.post(reverse("brokerages:team_invite"), {
        "email": other_tenant.owner.email, "full_name": "X", "role": Role.AGENT}, **HTMX)
    assert b"already has an account in another brokerage" in response.content
    response = client.post(reverse("brokerages:team_invite"), {
        "email": "not-an-email", "full_name": "", "role": "system_admin"}, **HTMX)
    body = response.content.decode()
    assert "Enter a valid email address" in body and "Select a valid choice" in body
    assert not User.objects.filter(role=Role.SYSTEM_ADMIN).exists()


def test_role_change_and_deactivation_swap_one_row(login, tenant):
    client = login(tenant.owner)
    url = reverse("brokerages:team_member_role", args=[tenant.agent.pk])
    response = client.post(url, {"role": Role.SUPPORT_STAFF}, **HTMX)
    assert response.content.decode().strip().startswith(f'<tr id="member-{tenant.agent.pk}"')
    assert User.objects.get(pk=tenant.agent.pk).role == Role.SUPPORT_STAFF

    response = client.post(reverse("brokerages:team_member_role", args=[tenant.owner.pk]), {"role": "agent"}, **HTMX)
    assert b"at least one active owner" in response.content

    response = client.post(reverse("brokerages:team_member_active", args=[tenant.agent.pk]), {"active": "0"}, **HTMX)
    assert b"Deactivated" in response.content and b"Reactivate" in response.content
    assert User.objects.get(pk=tenant.agent.pk).is_active is False


def test_settings_page_validates_and_saves(login, tenant):
    client = login(tenant.owner)
    form = {spec.key: spec.dump(spec.default) for spec in SETTINGS} | {"forgotten_lead_days": "0"}
    response = client.post(reverse("brokerages:settings"), form)
    assert response.status_code == 200 and b"greater than or equal to 1" in response.content
    response = client.post(reverse("brokerages:settings"), {**form, "forgotten_lead_days": "12"}, follow=True)
    assert b"Settings saved (1 changed)" in response.content
    assert b'value="12"' in response.content


def test_audit_log_filters_update_in_place(login, tenant):
    services.audit_record(brokerage=tenant.brokerage, actor=tenant.owner, action="team.invited")
    services.audit_record(brokerage=tenant.brokerage, actor=tenant.agent, action="api_token.created")
    client = login(tenant.owner)
    response = client.get(reverse("brokerages:audit_log"), {"action": "team.invited"}, **HTMX)
    body = response.content.decode()
    assert body.strip().startswith('<div id="entries">')
    assert "team.invited" in body and "api_token.created" not in body
    response = client.get(reverse("brokerages:audit_log"), {"since": "2026-05-02", "until": "2026-05-01"}, **HTMX)
    assert "The start date is after the end date." in response.content.decode()


def test_navigation_follows_the_role(login, tenant):
    owner_page = login(tenant.owner).get(reverse("home")).content.decode()
    assert "Brand Management" in owner_page and "Compliance" in owner_page and "Agent Co-Pilot" not in owner_page
    agent_page = login(tenant.agent).get(reverse("home")).content.decode()
    assert "Agent Co-Pilot" in agent_page and "Smart Nurturing" in agent_page and "Compliance" not in agent_page


def test_api_token_is_created_shown_once_and_revoked(login, tenant):
    client = login(tenant.agent)
    response = client.post(reverse("account_token_create"), **HTMX)
    key = tenant.agent.auth_token.key
    assert key in response.content.decode()
    assert key not in client.get(reverse("account")).content.decode()
    client.post(reverse("account_token_revoke"), **HTMX)
    assert not User.objects.get(pk=tenant.agent.pk).__class__.objects.filter(auth_token__key=key).exists()


def test_system_admin_is_sent_to_the_admin(client):
    admin = User.objects.create_superuser("root@platform.test", "Long-enough-pass-1")
    client.force_login(admin)
    assert client.get(reverse("home"))["Location"] == reverse("admin:index")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


@pytest.mark.parametrize("url_name", ["brokerages:team", "brokerages:audit_log", "home"])
def test_list_pages_use_a_fixed_number_of_queries(login, tenant, url_name):
    services.audit_record(brokerage=tenant.brokerage, actor=tenant.owner, action="team.invited")
    client = login(tenant.owner)
    url = reverse(url_name)
    _queries(client, url)  # warm caches (content types, session)
    small = _queries(client, url)
    for n in range(25):
        member = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, email=f"agent{n}@palmcrest.test")
        services.audit_record(brokerage=tenant.brokerage, actor=member, action="team.invited", resource=member)
    assert _queries(client, url) == small
