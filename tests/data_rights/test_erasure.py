"""Erasing one lead's personal data at their request: gone from the lead, its history, its conversations and
every copy the platform made (notifications, audit log, webhook deliveries, export archives), while the record
and every figure built on it stay; owners only, confirmed, logged with the reason, and done once."""

import datetime as dt
import json
import os
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope

from analytics.services.rollup import performance_rollup
from brokerages.models import AuditLog, DataExport, Notification, WebhookDelivery, WebhookEndpoint
from coaching.analysis import MessageIn, analyse
from coaching.models import CoachingAlert, Message
from coaching.services.retention import ERASED_TEXT
from nurturing.models import AutomationRun, Enrollment, FollowUp, Interaction, Lead, StageChange
from nurturing.services.automations import automation_create
from nurturing.services.erasure import lead_erase
from nurturing.services.followups import followup_create
from nurturing.services.leads import interaction_log, lead_change_stage, lead_update
from nurturing.services.sequences import enrollment_enrol, sequence_create
from nurturing.services.sweeps import nurture_sweep
from tests.api_helpers import api_as, assert_error
from tests.factories import make_conversation, make_lead

from .helpers import archive_of, build_export

pytestmark = pytest.mark.django_db

NAME, EMAIL, PHONE = "Layla Haddad", "layla.haddad@example.test", "+971501234567"
NOTES = "Prefers WhatsApp after 6pm; her husband Karim decides."
CHAT = [("agent", "Good morning Layla, this is Sara from Palm Crest."),
        ("lead", "Hi Sara. I saw the JVC two-bed, it feels expensive at 1.6 million."),
        ("agent", "It is priced to sell, honestly you will not find better anywhere, trust me."),
        ("lead", "Call me on +971501234567 tomorrow then.")]
STEPS = [{"delay_days": 0, "channel": "email", "subject": "Welcome", "body": "Hello {{ first_name }}"},
         {"delay_days": 3, "channel": "email", "subject": "Listings", "body": "New in JVC"}]


def the_lead(tenant, **fields) -> Lead:
    defaults = {"name": NAME, "email": EMAIL, "phone": PHONE, "notes": NOTES, "tags": ["vip", "karim"],
                "source": "portal", "areas": ["JVC"], "budget_min": 1_200_000, "budget_max": 1_700_000,
                "external_id": "CRM-7781"}
    return make_lead(tenant.brokerage, agent=tenant.agent, actor=tenant.agent, **(defaults | fields))


def erase(tenant, lead, reason="Layla Haddad asked by e-mail on 3 May", actor=None):
    with scope(brokerage=tenant.brokerage):
        return lead_erase(brokerage=tenant.brokerage, actor=actor or tenant.owner, lead=lead, reason=reason)


@pytest.fixture
def story(tenant):
    """A lead with a life on the platform: edits, calls, drafts, a sequence, a coached conversation with alerts,
    notifications, webhook deliveries (sent and waiting) and an export archive that holds them all."""
    brokerage, agent = tenant.brokerage, tenant.agent
    WebhookEndpoint.objects.create(brokerage=brokerage, url="https://crm.example.com/hook", secret="whsec_x",
                                   events=["lead.updated", "lead.stage_changed", "coaching.alert"])
    with scope(brokerage=brokerage):
        lead = the_lead(tenant)
        lead_update(brokerage=brokerage, actor=agent, lead=lead, data={"phone": "+971 50 123 4567",
                                                                      "notes": NOTES + " Budget flexible."})
        interaction_log(brokerage=brokerage, actor=agent, lead=lead, channel="call",
                        summary="Spoke with Layla Haddad about JVC; call her on +971501234567.")
        lead_change_stage(brokerage=brokerage, actor=agent, lead=lead, stage="qualified",
                          note="Layla is pre-approved by her bank")
        sequence = sequence_create(brokerage=brokerage, actor=tenant.owner, name="Welcome", sequence_type="new_lead",
                                   steps=STEPS)
        enrollment_enrol(brokerage=brokerage, actor=agent, lead=lead, sequence=sequence)
        draft = followup_create(brokerage=brokerage, actor=agent, lead=lead, reason=FollowUp.Reason.MANUAL,
                                channel="email")
        sent = FollowUp.objects.create(brokerage=brokerage, lead=lead, agent=agent, reason="forgotten_lead",
                                       channel="email", subject="Hi Layla", content="Dear Layla Haddad, …",
                                       suggested_send_date=timezone.localdate(), status="sent")
        AutomationRun.objects.create(brokerage=brokerage, automation=_automation(tenant), lead=lead,
                                     trigger="lead_created", status="succeeded",
                                     detail={"actions": ["Notified Sara about Layla Haddad."]})
    analysis = analyse([MessageIn(speaker, text) for speaker, text in CHAT], final=True)
    conversation = make_conversation(brokerage, agent, CHAT, lead=lead, analysis=analysis)
    conversation.external_id = "whatsapp:+971501234567"
    conversation.save(update_fields=["external_id"])
    alert = CoachingAlert.objects.create(
        brokerage=brokerage, agent=agent, conversation=conversation, area="objection_handling",
        code="objection_pressure", title="Pressure instead of value", text="Answer the price with data.",
        priority="HIGH", evidence=["It is priced to sell, honestly you will not find better anywhere, trust me.",
                                   "Objection handling score: 35.0/100", "Quality Score: 52.0/100"])
    lead_url = reverse("nurturing:lead", kwargs={"pk": lead.pk})
    Notification.objects.create(brokerage=brokerage, recipient=agent, kind="speed_to_lead", url=lead_url,
                                message="Layla Haddad has waited 12 minutes for a first reply (target: 5).",
                                key=f"speed-to-lead-{lead.pk}")
    Notification.objects.create(brokerage=brokerage, recipient=tenant.owner, kind="lead_idle",
                                message="2 leads have had no contact for 14+ days: Layla Haddad, Layla Nasser.",
                                key="lead-idle-1", url=reverse("nurturing:followups"))
    WebhookDelivery.objects.filter(brokerage=brokerage).update(status=WebhookDelivery.Status.SUCCEEDED)
    with scope(brokerage=brokerage):
        waiting = lead_update(brokerage=brokerage, actor=agent, lead=lead, data={"priority": "high"})
    assert waiting
    export = build_export(tenant.owner)
    return {"lead": Lead.objects.get(pk=lead.pk), "draft": draft, "sent": sent, "conversation": conversation,
            "alert": alert, "export": export, "export_path": export.archive.path}


def _automation(tenant):
    return automation_create(brokerage=tenant.brokerage, actor=tenant.owner, name="Tell the agent",
                             trigger_conditions={"trigger": "lead_created"},
                             actions=[{"type": "add_tag", "tag": "new"}])


PERSONAL = (NAME, EMAIL, "971501234567", "123 4567", "Karim", "CRM-7781", "pre-approved", "Prefers WhatsApp",
            "Layla")


def test_the_personal_data_is_erased_everywhere_and_the_record_stays(tenant, story, django_capture_on_commit_callbacks):
    lead = story["lead"]
    with django_capture_on_commit_callbacks(execute=True):
        erasure = erase(tenant, lead)
    assert not erasure.already_erased
    lead.refresh_from_db()
    assert lead.name == f"Erased lead #{lead.pk}" and erasure.lead.name == lead.name
    assert (lead.email, lead.phone, lead.notes, lead.external_id, lead.tags) == ("", "", "", "", [])
    assert lead.do_not_contact and not lead.marketing_consent
    # The figures' inputs stay.
    assert (lead.stage, lead.source, lead.areas, lead.budget_min) == ("qualified", "portal", ["JVC"],
                                                                       Decimal("1200000.00"))
    assert lead.first_contacted_at is not None and lead.furthest_stage == "qualified"
    # Its history is kept as rows, without the words.
    assert set(Interaction.objects.filter(lead=lead).values_list("summary", flat=True)) == {ERASED_TEXT}
    assert set(StageChange.objects.filter(lead=lead).values_list("note", flat=True)) == {""}
    assert StageChange.objects.filter(lead=lead).count() == 3
    draft, sent = FollowUp.objects.get(pk=story["draft"].pk), FollowUp.objects.get(pk=story["sent"].pk)
    assert draft.status == "dismissed" and draft.dismiss_reason == "Lead erased"
    assert (sent.status, sent.subject, sent.content) == ("sent", "", ERASED_TEXT)
    assert Enrollment.objects.get(lead=lead).status == "stopped"
    assert AutomationRun.objects.get(lead=lead).detail == {"actions": ["Notified Sara about [erased]."]}
    # The conversation keeps its shape and scores, not its words or quotes.
    conversation = story["conversation"]
    quality = conversation.quality_score
    conversation.refresh_from_db()
    assert conversation.quality_score == quality and conversation.external_id == ""
    assert conversation.message_count == 4 and set(Message.objects.filter(conversation=conversation).values_list(
        "text", flat=True)) == {ERASED_TEXT}
    assert conversation.analysis["findings"] and all(not f["evidence"] for f in conversation.analysis["findings"])
    assert conversation.analysis["overall_quality_score"] == quality
    alert = CoachingAlert.objects.get(pk=story["alert"].pk)
    assert alert.evidence == ["Objection handling score: 35.0/100", "Quality Score: 52.0/100"]
    assert alert.title == "Pressure instead of value"
    # Copies: notifications, webhook deliveries, the export archive.
    messages = set(Notification.objects.values_list("message", flat=True))
    assert f"Erased lead #{lead.pk} has waited 12 minutes for a first reply (target: 5)." in messages
    assert f"2 leads have had no contact for 14+ days: Erased lead #{lead.pk}, Layla Nasser." in messages
    deliveries = WebhookDelivery.objects.filter(brokerage=tenant.brokerage)
    assert deliveries.count() >= 3
    assert all(d.payload["data"] == {"redacted": "The lead's personal data was erased."} for d in deliveries)
    assert deliveries.filter(status="failed", next_attempt_at=None).exists()
    assert not deliveries.filter(status__in=["pending", "retrying"]).exists()
    export = DataExport.objects.get(pk=story["export"].pk)
    assert export.status == "expired" and not export.archive and "erased" in export.error
    assert not os.path.exists(story["export_path"])
    # The audit log says who erased it and why, without what was erased.
    entry = AuditLog.objects.get(action="lead.erased")
    assert entry.actor == tenant.owner and entry.resource_id == str(lead.pk)
    assert entry.details["reason"] == "[erased] asked by e-mail on 3 May"
    assert entry.details["messages"] == 4 and entry.details["interactions"] == 1
    # No copy is left anywhere: a new archive of everything the brokerage stores has none of it.
    blob = b"\n".join(archive_of(build_export(tenant.owner)).values()).decode("utf-8", "replace")
    for personal in PERSONAL:
        if personal == "Layla":
            assert blob.count("Layla") == blob.count("Layla Nasser")
        else:
            assert personal not in blob, personal


def test_figures_stay_the_same(tenant, django_capture_on_commit_callbacks):
    """The owner dashboard, team performance and coaching metrics read the same before and after."""
    brokerage, agent = tenant.brokerage, tenant.agent
    then = timezone.now() - dt.timedelta(days=6)
    with scope(brokerage=brokerage):
        won = the_lead(tenant, created_at=then)
        lost = the_lead(tenant, name="Omar Khalil", email="omar@example.test", phone="+971509999999",
                        external_id="", created_at=then)
        for lead in (won, lost):
            interaction_log(brokerage=brokerage, actor=agent, lead=lead, channel="call", summary="Intro call",
                            occurred_at=then + dt.timedelta(minutes=30))
        lead_change_stage(brokerage=brokerage, actor=agent, lead=won, stage="won", sale_price=Decimal("1500000"),
                          commission=Decimal("30000"), satisfaction_score=5)
        lead_change_stage(brokerage=brokerage, actor=agent, lead=lost, stage="lost", lost_reason="Chose a rental")
    make_conversation(brokerage, agent, CHAT, lead=won, started_at=then)
    with scope(brokerage=brokerage):
        performance_rollup(brokerage=brokerage, since=timezone.localdate() - dt.timedelta(days=10),
                           until=timezone.localdate())
    api = api_as(tenant.owner)
    reads = ("/api/brokerage/dashboard", "/api/brokerage/team/performance", "/api/coaching/metrics")

    def figures() -> list[dict]:
        found = [api.get(path).json() for path in reads]
        found[0]["lead_retention"].pop("as_of")  # the time of the reading
        return found

    before = figures()
    kpis = {kpi["name"]: kpi["value"] for kpi in before[0]["kpis"]}
    assert kpis["leads_generated"] == 2 and kpis["conversion_rate"] == 0.5
    assert "Chose a rental" in json.dumps(before[0])
    for lead in (won, lost):
        erase(tenant, lead)
    with scope(brokerage=brokerage):
        performance_rollup(brokerage=brokerage, since=timezone.localdate() - dt.timedelta(days=10),
                           until=timezone.localdate())
    assert figures() == before


def test_erasing_twice_changes_nothing_and_says_so(tenant):
    lead = the_lead(tenant)
    erase(tenant, lead)
    again = erase(tenant, lead, reason="")
    assert again.already_erased and "already erased on" in again.message
    assert AuditLog.objects.filter(action="lead.erased").count() == 1


def test_only_an_owner_erases_and_a_reason_is_required(tenant):
    lead = the_lead(tenant)
    for member in (tenant.agent, tenant.support):
        with pytest.raises(PermissionDenied):
            erase(tenant, lead, actor=member)
    with pytest.raises(ValidationError) as refused:
        erase(tenant, lead, reason="  ")
    assert "Say why" in str(refused.value)
    lead.refresh_from_db()
    assert lead.name == NAME and not AuditLog.objects.filter(action="lead.erased").exists()


def test_an_erased_lead_gets_no_follow_up_or_message_again(tenant):
    old = timezone.now() - dt.timedelta(days=30)
    lead = the_lead(tenant, created_at=old)
    forgotten = the_lead(tenant, name="Omar Khalil", email="omar@example.test", phone="", external_id="",
                         created_at=old)
    with scope(brokerage=tenant.brokerage):
        for each in (lead, forgotten):
            interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=each, channel="call",
                            summary="Intro", occurred_at=old)
    erase(tenant, lead)
    with scope(brokerage=tenant.brokerage):
        nurture_sweep(brokerage=tenant.brokerage)
        assert FollowUp.objects.filter(lead=forgotten).exists()  # the sweep did run
        assert not FollowUp.objects.filter(lead=lead).exists()
        with pytest.raises(ValidationError):
            interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, channel="email",
                            summary="Checking in")


def test_the_confirm_page(tenant, client):
    lead = the_lead(tenant)
    url = reverse("nurturing:lead_erase", args=[lead.pk])
    client.force_login(tenant.owner)
    page = client.get(url).content.decode()
    assert "What is erased" in page and "What stays" in page and "cannot be undone" in page
    wrong = client.post(url, {"reason": "Asked by phone", "confirm": "Layla"})
    assert wrong.status_code == 400 and b"Type the lead&#x27;s name exactly as shown, or ERASE." in wrong.content
    assert client.post(url, {"reason": "", "confirm": "ERASE"}).status_code == 400
    assert Lead.objects.get(pk=lead.pk).name == NAME
    done = client.post(url, {"reason": "Asked by phone", "confirm": "  layla   haddad "}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("nurturing:lead", args=[lead.pk])
    assert f"stays as “Erased lead #{lead.pk}”".encode() in done.content
    again = client.get(url).content.decode()
    assert "was erased on" in again and "There is nothing left to erase." in again and "<form method=\"post\" class" \
        not in again
    repeat = client.post(url, {}, follow=True)
    assert b"already erased" in repeat.content
    for member in (tenant.agent, tenant.support):
        client.force_login(member)
        assert client.get(url).status_code == 403


def test_the_api_route(tenant, other_tenant):
    lead = the_lead(tenant)
    url = f"/api/nurturing/leads/{lead.pk}/erase"
    api = api_as(tenant.owner)
    error = assert_error(api.post(url, {"reason": "Asked", "confirm": "Layla"}, format="json"), 400)
    assert list(error["fields"]) == ["confirm"]
    assert list(assert_error(api.post(url, {"confirm": "ERASE"}, format="json"), 400)["fields"]) == ["reason"]
    assert_error(api.post(url, {"reason": "Asked", "confirm": "ERASE", "keep": True}, format="json"), 400)
    assert_error(api_as(tenant.agent).post(url, {"reason": "Asked", "confirm": "ERASE"}, format="json"), 403)
    assert_error(api_as(tenant.support).post(url, {"reason": "Asked", "confirm": "ERASE"}, format="json"), 403)
    assert_error(api_as(other_tenant.owner).post(url, {"reason": "Asked", "confirm": "ERASE"}, format="json"), 404)
    assert Lead.objects.get(pk=lead.pk).name == NAME
    done = api.post(url, {"reason": "Asked by e-mail", "confirm": "ERASE"}, format="json")
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["already_erased"] is False and body["lead"]["name"] == f"Erased lead #{lead.pk}"
    assert body["lead"]["email"] == "" and body["counts"]["interactions"] == 0
    again = api.post(url, {}, format="json").json()
    assert again["already_erased"] is True and again["counts"] == {} and "already erased" in again["message"]
