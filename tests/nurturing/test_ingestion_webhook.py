"""The inbound lead webhook: signed posts create leads once, and the automations assign and enrol them; anything
unsigned, mis-signed, unknown or malformed is refused with nothing stored. Also its settings page."""

import json
import shutil
import subprocess
import urllib.request

import pytest
from django.urls import reverse

from brokerages.models import AuditLog, Role
from nurturing.models import AutomationRun, Enrollment, Interaction, Lead, LeadWebhook, NurturingSequence
from nurturing.services.automations import automation_create
from nurturing.services.lead_webhook import lead_webhook_ensure, lead_webhook_rotate, webhook_signature
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LEAD = {"external_id": "crm-1042", "name": "Layla Haddad", "email": "Layla@Example.com", "phone": "+971 50 123 4567",
        "source": "portal", "budget_min": 1500000, "budget_max": "2500000", "areas": ["Dubai Marina", "JBR"],
        "property_type": "apartment", "timeline": "3_months", "notes": "From the spring campaign",
        "message": "Is the 2-bed on the marina still available?"}


@pytest.fixture
def webhook(tenant):
    return lead_webhook_ensure(brokerage=tenant.brokerage, actor=tenant.owner)[0]


def _post(client, token, payload, secret=None, signature=None, **headers):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if signature is None and secret is not None:
        signature = webhook_signature(secret, body)
    if signature is not None:
        headers["HTTP_X_SIGNATURE"] = signature
    return client.post(reverse("nurturing:lead_webhook", args=[token]), data=body, content_type="application/json",
                       **headers)


def _nothing_stored(brokerage):
    assert not Lead.objects.filter(brokerage=brokerage).exists()
    assert not Interaction.objects.exists()
    assert not AuditLog.objects.filter(brokerage=brokerage, action__startswith="lead.").exists()
    assert LeadWebhook.objects.get(brokerage=brokerage).last_received_at is None


def test_a_signed_lead_is_created_assigned_round_robin_and_enrolled(client, tenant, webhook):
    """The demo's promise: a lead posted to the webhook lands with an agent and in the welcome sequence."""
    second = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    sequence = NurturingSequence.objects.create(
        brokerage=tenant.brokerage, name="Welcome", sequence_type="new_lead",
        steps=[{"delay_days": 0, "channel": "email", "body": "Hello {{ first_name }}"}])
    automation_create(brokerage=tenant.brokerage, actor=tenant.owner, name="New leads",
                      trigger_conditions={"trigger": "lead_created"},
                      actions=[{"type": "assign_agent", "agent_id": "round_robin"},
                               {"type": "enrol_in_sequence", "sequence_id": sequence.pk}])

    response = _post(client, webhook.token, LEAD, webhook.secret)

    assert response.status_code == 201, response.content
    lead = Lead.objects.get(pk=response.json()["lead_id"])
    assert response.json() == {"lead_id": lead.pk, "created": True}
    assert (lead.brokerage, lead.external_id, lead.name, lead.email, lead.phone) == (
        tenant.brokerage, "crm-1042", "Layla Haddad", "layla@example.com", "+971501234567")
    assert (lead.source, lead.property_type, lead.timeline, lead.areas) == (
        "portal", "apartment", "3_months", ["Dubai Marina", "JBR"])
    assert (str(lead.budget_min), str(lead.budget_max)) == ("1500000.00", "2500000.00")
    assert lead.assigned_agent == tenant.agent
    enrollment = Enrollment.objects.get(lead=lead)
    assert enrollment.sequence == sequence and enrollment.status == "active"  # the message did not stop it
    message = Interaction.objects.get(lead=lead)
    assert (message.direction, message.summary) == ("inbound", LEAD["message"])
    assert AutomationRun.objects.get(lead=lead).status == "succeeded"
    webhook.refresh_from_db()
    assert webhook.last_received_at is not None

    second_lead = _post(client, webhook.token, {**LEAD, "external_id": "crm-1043", "email": "b@example.com"},
                        webhook.secret).json()
    assert Lead.objects.get(pk=second_lead["lead_id"]).assigned_agent == second


def test_a_replayed_delivery_is_stored_once(client, tenant, webhook):
    first = _post(client, webhook.token, LEAD, webhook.secret)
    again = _post(client, webhook.token, {**LEAD, "name": "Someone Else"}, webhook.secret)

    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == {"lead_id": first.json()["lead_id"], "created": False}
    assert Lead.objects.filter(brokerage=tenant.brokerage).count() == 1
    assert Lead.objects.get().name == "Layla Haddad"  # a replay changes nothing
    assert Interaction.objects.count() == 1


@pytest.mark.parametrize("signature", [None, "", "sha256=", "sha256=" + "0" * 64, "sha1=abc",
                                       "deadbeef" * 8])
def test_a_missing_or_wrong_signature_is_refused_and_nothing_stored(client, tenant, webhook, signature):
    response = _post(client, webhook.token, LEAD, signature=signature)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "bad_signature"
    _nothing_stored(tenant.brokerage)


def test_a_signature_of_another_body_is_refused(client, tenant, webhook):
    signed_for = webhook_signature(webhook.secret, json.dumps({**LEAD, "budget_max": 1}).encode())
    assert _post(client, webhook.token, LEAD, signature=signed_for).status_code == 401
    _nothing_stored(tenant.brokerage)


def test_tokens_and_secrets_of_two_brokerages_do_not_mix(client, tenant, other_tenant, webhook):
    theirs = lead_webhook_ensure(brokerage=other_tenant.brokerage, actor=other_tenant.owner)[0]

    # Their token with our secret, and our token with theirs: the token's own secret decides.
    assert _post(client, theirs.token, LEAD, webhook.secret).status_code == 401
    assert _post(client, webhook.token, LEAD, theirs.secret).status_code == 401
    # A member of another brokerage signed in changes nothing either.
    client.force_login(other_tenant.owner)
    assert _post(client, webhook.token, LEAD, theirs.secret).status_code == 401
    _nothing_stored(tenant.brokerage)
    _nothing_stored(other_tenant.brokerage)

    # Correctly signed, the lead lands in the brokerage the token belongs to, whoever is signed in.
    response = _post(client, webhook.token, LEAD, webhook.secret)
    assert response.status_code == 201
    assert Lead.objects.get(pk=response.json()["lead_id"]).brokerage == tenant.brokerage
    assert not Lead.objects.filter(brokerage=other_tenant.brokerage).exists()


def test_unknown_rotated_or_switched_off_endpoints_answer_404(client, tenant, webhook):
    assert _post(client, "no-such-token", LEAD, webhook.secret).status_code == 404
    old_token = webhook.token
    rotated = lead_webhook_rotate(brokerage=tenant.brokerage, actor=tenant.owner)
    assert rotated.token != old_token and rotated.secret != webhook.secret
    assert _post(client, old_token, LEAD, webhook.secret).status_code == 404
    assert _post(client, old_token, LEAD, rotated.secret).status_code == 404
    LeadWebhook.objects.filter(pk=webhook.pk).update(is_active=False)
    assert _post(client, rotated.token, LEAD, rotated.secret).status_code == 404
    assert not Lead.objects.exists()


def test_bad_json_and_invalid_fields_answer_400_with_every_problem(client, tenant, webhook):
    response = _post(client, webhook.token, b'{"external_id": "x", ', webhook.secret)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["body"]
    assert _post(client, webhook.token, b"[1, 2]", webhook.secret).json()["error"]["fields"] == {
        "body": ["The body must be a JSON object."]}

    response = _post(client, webhook.token, {"name": "", "email": "not-an-email", "source": "pigeon",
                                              "budget_min": "lots", "budget_max": -5, "colour": "red",
                                              "areas": 7}, webhook.secret)
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert set(fields) == {"external_id", "name", "email", "source", "budget_min", "budget_max", "colour",
                           "areas"}
    assert fields["source"] == ["Must be one of website, portal, referral, walk_in, social, call, event, import, "
                                "other."]
    assert fields["external_id"][0].startswith("Required")
    response = _post(client, webhook.token, {**LEAD, "budget_min": 3000000, "budget_max": 1000000}, webhook.secret)
    assert response.json()["error"]["fields"] == {"budget_max": ["Is below budget_min."]}
    _nothing_stored(tenant.brokerage)


def test_a_body_over_256_kb_answers_413(client, tenant, webhook):
    body = json.dumps({**LEAD, "notes": "x" * (256 * 1024)}).encode()
    assert _post(client, webhook.token, body, webhook.secret).status_code == 413
    assert not Lead.objects.exists()


def test_only_post_is_accepted(client, webhook):
    assert client.get(reverse("nurturing:lead_webhook", args=[webhook.token])).status_code == 405


# --- the settings page ----------------------------------------------------------------------------------------------


def test_the_owner_creates_the_webhook_and_sees_the_secret_once(login, tenant):
    client = login(tenant.owner)
    assert "Create the lead webhook" in client.get(reverse("nurturing:lead_webhook_settings")).content.decode()

    page = client.post(reverse("nurturing:lead_webhook_settings"), follow=True).content.decode()

    webhook = LeadWebhook.objects.get(brokerage=tenant.brokerage)
    url = "http://testserver" + reverse("nurturing:lead_webhook", args=[webhook.token])
    assert url in page and webhook.secret in page and "it is not shown again" in page
    assert f"SECRET = &quot;{webhook.secret}&quot;" in page  # the examples are ready to paste
    page = client.get(reverse("nurturing:lead_webhook_settings")).content.decode()
    assert webhook.secret not in page and url in page and "paste-your-secret-here" in page
    assert AuditLog.objects.filter(action="nurturing.lead_webhook_created").exists()
    assert webhook.secret not in json.dumps(list(AuditLog.objects.values_list("details", flat=True)))

    page = client.post(reverse("nurturing:lead_webhook_rotate"), follow=True).content.decode()
    rotated = LeadWebhook.objects.get(brokerage=tenant.brokerage)
    assert rotated.secret in page and rotated.token in page and webhook.token not in page


def test_the_documented_python_example_posts_a_lead(live_server, tenant, settings):
    """Run the page's Python snippet as a sender would, against a live server."""
    webhook = lead_webhook_ensure(brokerage=tenant.brokerage, actor=tenant.owner)[0]
    from nurturing.views.ingestion import _example

    url = live_server.url + reverse("nurturing:lead_webhook", args=[webhook.token])
    snippet = _example(url, webhook.secret)["python"]
    output = []
    exec(snippet, {"print": lambda *args: output.append(args), "urllib": urllib})  # noqa: S102 - our own snippet

    assert output[0][0] == 201
    lead = Lead.objects.get(brokerage=tenant.brokerage)
    assert lead.external_id == "crm-1042" and lead.source == "portal"


@pytest.mark.skipif(not all(map(shutil.which, ("bash", "curl", "openssl"))), reason="needs bash, curl and openssl")
def test_the_documented_curl_example_posts_a_lead(live_server, tenant):
    """Run the page's curl snippet in a shell, as a sender would, against a live server."""
    webhook = lead_webhook_ensure(brokerage=tenant.brokerage, actor=tenant.owner)[0]
    from nurturing.views.ingestion import _example

    url = live_server.url + reverse("nurturing:lead_webhook", args=[webhook.token])
    finished = subprocess.run([shutil.which("bash"), "-c", _example(url, webhook.secret)["curl"] + " -w ' %{http_code}'"],
                              capture_output=True, text=True, timeout=30, check=False)

    assert finished.stdout.endswith(" 201"), (finished.stdout, finished.stderr)
    assert Lead.objects.get(brokerage=tenant.brokerage).name == "Layla Haddad"
