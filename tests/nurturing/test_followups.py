"""Working the follow-up queue: drafting one, editing, approving and sending (e-mail, SMS/WhatsApp, calls),
quiet hours, dismissing, failures and retries, and the pages and API that do it."""

import datetime as dt
import json
import zoneinfo

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from brokerages.models import AuditLog, Notification
from brokerages.services import settings_update
from nurturing.messaging import MessageError
from nurturing.models import FollowUp, Interaction, Lead
from nurturing.schedule import BrokerageClock, next_allowed_send
from nurturing.services.followups import (
    followup_approve_send,
    followup_create,
    followup_dismiss,
    followup_edit,
    followup_mark_called,
    followups_send_due,
)
from nurturing.services.leads import lead_set_contact_preferences
from nurturing.services.sweeps import nurture_sweep
from tests.api_helpers import api_as, assert_error
from tests.copilot.fake_llm_server import Reply, anthropic_message
from tests.factories import make_lead

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")
DAY = dt.timedelta(days=1)


def no_quiet_hours(tenant):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"})


@pytest.fixture
def layla(tenant):
    tenant.agent.full_name = "Omar Khalid"
    tenant.agent.save()
    no_quiet_hours(tenant)
    return make_lead(tenant.brokerage, agent=tenant.agent, name="Layla Haddad", email="layla@example.test",
                     phone="+971501234567", areas=["Dubai Hills"], property_type="villa", stage="contacted")


def create(tenant, lead, channel="email", reason=FollowUp.Reason.MANUAL) -> FollowUp:
    return followup_create(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, reason=reason, channel=channel)


# --- quiet hours ---------------------------------------------------------------------------------------------------

def at(hour: int, minute: int = 0, day: int = 10) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=DUBAI)


@pytest.mark.parametrize(("start", "end", "now", "expected"), [
    (dt.time(21), dt.time(8), at(20, 59), at(20, 59)),  # before quiet hours
    (dt.time(21), dt.time(8), at(21), at(8, day=11)),  # they start: wait for the next morning
    (dt.time(21), dt.time(8), at(23, 30), at(8, day=11)),
    (dt.time(21), dt.time(8), at(3), at(8)),  # after midnight: this morning
    (dt.time(21), dt.time(8), at(8), at(8)),  # they have just ended
    (dt.time(13), dt.time(15), at(14), at(15)),  # a window that does not wrap
    (dt.time(13), dt.time(15), at(16), at(16)),
    (dt.time(0), dt.time(0), at(3), at(3)),  # equal start and end: no quiet hours
])
def test_quiet_hours(start, end, now, expected):
    assert BrokerageClock(DUBAI, start, end).next_allowed_send(now) == expected


@pytest.mark.django_db
def test_quiet_hours_follow_the_brokerages_time_zone(tenant):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"timezone": "Europe/London", "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"})
    # 22:00 in Dubai is 18:00 in London: not quiet there.
    assert next_allowed_send(tenant.brokerage, at(22)) == at(22)
    assert next_allowed_send(tenant.brokerage, at(2)) == dt.datetime(2025, 3, 10, 8, tzinfo=zoneinfo.ZoneInfo(
        "Europe/London"))


# --- creating and editing -------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_one_open_draft_per_lead_and_reason(tenant, layla):
    first = create(tenant, layla)

    assert first.agent == tenant.agent and first.status == "draft" and first.engine == "local"
    assert create(tenant, layla) is None
    assert create(tenant, layla, reason=FollowUp.Reason.AUTOMATION) is not None
    assert AuditLog.objects.filter(action="nurturing.followup_created").count() == 2


@pytest.mark.django_db
def test_no_draft_for_a_lead_who_opted_out(tenant, layla):
    lead_set_contact_preferences(brokerage=tenant.brokerage, actor=tenant.agent, lead=layla, do_not_contact=True)

    with pytest.raises(ValidationError, match="asked not to be contacted"):
        create(tenant, layla)


@pytest.mark.django_db
def test_suggested_send_date_is_the_leads_next_follow_up_date_when_ahead(tenant, layla):
    ahead = timezone.localdate() + 3 * DAY
    Lead.objects.filter(pk=layla.pk).update(next_followup_date=ahead)

    assert create(tenant, layla).suggested_send_date == ahead


@pytest.mark.django_db
def test_editing_an_approved_follow_up_makes_it_a_draft_again(tenant, layla):
    followup = create(tenant, layla, channel="call")
    followup = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)
    assert followup.status == "approved"

    edited = followup_edit(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup,
                           data={"channel": "whatsapp", "content": "Hi Layla, quick one: still keen on Dubai Hills?"})

    assert (edited.status, edited.channel) == ("draft", "whatsapp")
    assert AuditLog.objects.get(action="nurturing.followup_edited").details["fields"] == ["channel", "content"]


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "field"), [
    ({"content": "  "}, "content"),
    ({"subject": ""}, "subject"),  # an e-mail needs a subject
    ({"channel": "sms", "content": "x" * 700}, "content"),
    ({"suggested_send_date": dt.date(2020, 1, 1)}, "suggested_send_date"),
    ({"status": "sent"}, "status"),
])
def test_bad_edits_are_refused_with_the_field_named(tenant, layla, data, field):
    followup = create(tenant, layla)

    with pytest.raises(ValidationError) as caught:
        followup_edit(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup, data=data)

    assert field in caught.value.message_dict
    followup.refresh_from_db()
    assert followup.status == "draft"


# --- sending ------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_edit_and_send_creates_an_interaction_and_a_branded_email(tenant, layla):
    tenant.brokerage.primary_color = "#0A3D62"
    tenant.brokerage.save()
    Lead.objects.filter(pk=layla.pk).update(last_contacted_at=timezone.now() - 30 * DAY)
    [followup] = nurture_sweep(brokerage=tenant.brokerage).generated_followups
    followup = followup_edit(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup, data={
        "channel": "email", "subject": "Villas in Dubai Hills",
        "content": "Hi Layla,\n\nTwo villas just came up in Dubai Hills.\n\nOmar"})

    sent = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)

    assert sent.status == "sent" and sent.sent_at is not None
    interaction = Interaction.objects.get(lead=layla)
    assert sent.interaction == interaction and interaction.agent == tenant.agent
    assert (interaction.channel, interaction.direction) == ("email", "outbound")
    assert "Villas in Dubai Hills" in interaction.summary
    [message] = mail.outbox
    assert message.to == ["layla@example.test"] and message.subject == "Villas in Dubai Hills"
    assert message.from_email == "Omar Khalid at Palm Crest Realty <no-reply@localhost>"
    assert message.reply_to == [tenant.agent.email]
    assert message.body.startswith("Hi Layla,\n\nTwo villas just came up") and "Palm Crest Realty" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "#0A3D62" in html and "Palm Crest Realty" in html
    assert "<p style=\"margin:0 0 14px 0;\">Two villas just came up in Dubai Hills.</p>" in html
    layla.refresh_from_db()
    assert layla.last_contacted_at == interaction.occurred_at
    # The lead is no longer forgotten: the next sweep leaves it alone.
    assert nurture_sweep(brokerage=tenant.brokerage).forgotten_leads_count == 0


@pytest.mark.django_db
def test_quiet_hours_delay_the_send_until_they_end(tenant, layla):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"quiet_hours_start": "21:00", "quiet_hours_end": "08:00"})
    night = (timezone.now() - 3 * DAY).astimezone(DUBAI).replace(hour=23, minute=30, second=0, microsecond=0)
    followup = create(tenant, layla)

    approved = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup, now=night)

    morning = (night + DAY).replace(hour=8, minute=0)
    assert (approved.status, approved.send_after) == ("approved", morning)
    assert mail.outbox == []
    assert followups_send_due(brokerage=tenant.brokerage, now=morning - dt.timedelta(minutes=1)) == []
    [sent] = followups_send_due(brokerage=tenant.brokerage, now=morning + dt.timedelta(minutes=5))
    assert sent.pk == followup.pk and sent.status == "sent" and len(mail.outbox) == 1
    assert Interaction.objects.get(lead=layla).agent == tenant.agent  # sent in the agent's name
    assert followups_send_due(brokerage=tenant.brokerage, now=morning + dt.timedelta(minutes=6)) == []


@pytest.mark.django_db
def test_sms_and_whatsapp_go_through_the_message_backend(tenant, layla, outbox):
    for channel in ("sms", "whatsapp"):
        followup = create(tenant, layla, channel=channel, reason=FollowUp.Reason.AUTOMATION if channel == "sms"
                          else FollowUp.Reason.MANUAL)
        followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)

    assert [(message.channel, message.to) for message in outbox] == [("sms", "+971501234567"),
                                                                      ("whatsapp", "+971501234567")]
    assert outbox[0].sender == "Omar Khalid at Palm Crest Realty" and outbox[0].body.startswith("Hi Layla")
    assert Interaction.objects.filter(lead=layla, direction="outbound").count() == 2


class BrokenBackend:
    def send(self, message):
        raise MessageError("The SMS provider refused the number.")


@pytest.mark.django_db
def test_a_failed_send_is_recorded_and_can_be_retried(tenant, layla, settings, outbox):
    followup = create(tenant, layla, channel="sms")
    settings.NURTURING_MESSAGE_BACKEND = f"{__name__}.BrokenBackend"

    failed = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)

    assert (failed.status, failed.error) == ("failed", "The SMS provider refused the number.")
    assert not Interaction.objects.filter(lead=layla).exists()
    assert AuditLog.objects.filter(action="nurturing.followup_failed").exists()
    settings.NURTURING_MESSAGE_BACKEND = "nurturing.messaging.LocmemBackend"
    retried = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=failed)
    assert (retried.status, retried.error) == ("sent", "") and len(outbox) == 1


@pytest.mark.django_db
def test_a_follow_up_is_sent_at_most_once(tenant, layla):
    followup = create(tenant, layla)
    followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)

    with pytest.raises(ValidationError, match="already sent"):
        followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(("channel", "missing", "message"), [
    ("email", "email", "has no e-mail address"), ("whatsapp", "phone", "has no phone number")])
def test_sending_needs_the_channels_address(tenant, layla, channel, missing, message):
    followup = create(tenant, layla, channel=channel)
    Lead.objects.filter(pk=layla.pk).update(**{missing: ""})

    with pytest.raises(ValidationError, match=message):
        followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)


@pytest.mark.django_db
def test_a_call_becomes_a_task_and_marking_it_called_logs_it(tenant, layla):
    followup = create(tenant, layla, channel="call")

    approved = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)
    assert (approved.status, approved.send_after) == ("approved", None)
    assert followups_send_due(brokerage=tenant.brokerage, now=timezone.now() + DAY) == []

    called = followup_mark_called(brokerage=tenant.brokerage, actor=tenant.agent, followup=approved,
                                  note="Booked a viewing for Saturday")
    assert called.status == "sent"
    assert called.interaction.channel == "call" and "Booked a viewing for Saturday" in called.interaction.summary
    with pytest.raises(ValidationError, match="Only a call"):
        followup_mark_called(brokerage=tenant.brokerage, actor=tenant.agent, followup=create(tenant, layla))


@pytest.mark.django_db
def test_dismissing_requires_a_reason(tenant, layla):
    followup = create(tenant, layla)

    with pytest.raises(ValidationError) as caught:
        followup_dismiss(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup, reason="   ")
    assert "reason" in caught.value.message_dict

    dismissed = followup_dismiss(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup,
                                 reason="Already spoke to them")
    assert (dismissed.status, dismissed.dismiss_reason) == ("dismissed", "Already spoke to them")
    with pytest.raises(ValidationError, match="already dismissed"):
        followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=dismissed)


# --- pages --------------------------------------------------------------------------------------------------------

def htmx(client, method, url, data=None):
    return getattr(client, method)(url, data or {}, HTTP_HX_REQUEST="true")


@pytest.mark.django_db
def test_an_agent_sees_only_their_own_queue_in_groups(tenant, layla, login):
    other_agent_lead = make_lead(tenant.brokerage, agent=tenant.owner, name="Nadia Karim", email="o@example.test")
    due = create(tenant, layla)
    call = followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent,
                                 followup=create(tenant, layla, channel="call", reason=FollowUp.Reason.AUTOMATION))
    create(tenant, other_agent_lead)

    page = login(tenant.agent).get(reverse("nurturing:followups")).content.decode()

    assert "My follow-up queue" in page and "Layla Haddad" in page and "Nadia Karim" not in page
    assert f'id="followup-{due.pk}"' in page and f'id="followup-{call.pk}"' in page
    assert page.index("Due today and overdue") < page.index(f'id="followup-{due.pk}"') < page.index("Calls to make") \
        < page.index(f'id="followup-{call.pk}"')
    assert "Leakage" not in page and "Run sweep now" not in page


@pytest.mark.django_db
def test_managers_see_the_team_queue_leakage_and_filter_by_agent(tenant, layla, login):
    Lead.objects.filter(pk=layla.pk).update(last_contacted_at=timezone.now() - 30 * DAY)
    owner_lead = make_lead(tenant.brokerage, agent=tenant.owner, name="Nadia Karim", email="o@example.test")
    create(tenant, owner_lead)
    nurture_sweep(brokerage=tenant.brokerage)
    client = login(tenant.support)

    page = client.get(reverse("nurturing:followups")).content.decode()
    assert "Team follow-up queue" in page and "Layla Haddad" in page and "Nadia Karim" in page
    assert "forgotten leads" in page and "Oldest untouched" in page
    assert "Run sweep now" not in page  # support staff do not run sweeps
    filtered = htmx(client, "get", reverse("nurturing:followups") + f"?agent={tenant.owner.pk}").content.decode()
    assert "Nadia Karim" in filtered and "Layla Haddad" not in filtered


@pytest.mark.django_db
def test_edit_inline_then_send_from_the_page(tenant, layla, login):
    followup = create(tenant, layla)
    client = login(tenant.agent)
    prefix = f"f{followup.pk}"

    form = htmx(client, "get", reverse("nurturing:followup_edit", args=[followup.pk])).content.decode()
    assert f'name="{prefix}-content"' in form and "<form" in form
    card = htmx(client, "post", reverse("nurturing:followup_edit", args=[followup.pk]), {
        f"{prefix}-channel": "email", f"{prefix}-subject": "Dubai Hills villas",
        f"{prefix}-content": "Hi Layla, two new villas came up.",
        f"{prefix}-suggested_send_date": timezone.localdate().isoformat()}).content.decode()
    assert card.lstrip().startswith("<article") and "two new villas came up" in card

    sent = htmx(client, "post", reverse("nurturing:followup_send", args=[followup.pk])).content.decode()
    assert "Sent, and logged on the lead" in sent
    assert mail.outbox[0].body.startswith("Hi Layla, two new villas came up.")


@pytest.mark.django_db
def test_page_errors_are_shown_on_the_card(tenant, layla, login):
    followup = create(tenant, layla)
    Lead.objects.filter(pk=layla.pk).update(email="")
    client = login(tenant.agent)

    card = htmx(client, "post", reverse("nurturing:followup_send", args=[followup.pk])).content.decode()
    assert "Layla Haddad has no e-mail address" in card

    card = htmx(client, "post", reverse("nurturing:followup_dismiss", args=[followup.pk]), {"reason": ""}).content
    assert "Say why you are dismissing it" in card.decode()
    followup.refresh_from_db()
    assert followup.status == "draft"
    card = htmx(client, "post", reverse("nurturing:followup_dismiss", args=[followup.pk]), {"reason": "Duplicate"})
    assert "dismissed: Duplicate" in card.content.decode()


@pytest.mark.django_db
def test_another_agents_follow_up_is_forbidden(tenant, layla, login):
    followup = create(tenant, make_lead(tenant.brokerage, agent=tenant.owner, name="Nadia Karim",
                                        email="o@example.test"))

    response = login(tenant.agent).post(reverse("nurturing:followup_send", args=[followup.pk]))

    assert response.status_code == 403 and mail.outbox == []


@pytest.mark.django_db
def test_owner_runs_the_sweep_from_the_page(tenant, layla, login):
    Lead.objects.filter(pk=layla.pk).update(last_contacted_at=timezone.now() - 30 * DAY)

    report = htmx(login(tenant.owner), "post", reverse("nurturing:followups_sweep")).content.decode()

    assert "Sweep done: 1 forgotten lead, 0 inactive clients, 1 new draft" in report
    assert FollowUp.objects.filter(lead=layla, reason="forgotten_lead").exists()


@pytest.mark.django_db
def test_draft_a_follow_up_from_the_lead(tenant, layla, login):
    client = login(tenant.agent)

    response = client.post(reverse("nurturing:followup_new", args=[layla.pk]))

    followup = FollowUp.objects.get(lead=layla, reason="manual")
    assert response.status_code == 302 and response["Location"].endswith(f"#followup-{followup.pk}")
    again = client.post(reverse("nurturing:followup_new", args=[layla.pk]), follow=True)
    assert "already has a draft waiting" in again.content.decode()


@pytest.mark.django_db
def test_notifications_list_and_mark_read(tenant, login):
    mine = Notification.objects.create(brokerage=tenant.brokerage, recipient=tenant.agent, kind="speed_to_lead",
                                       message="Layla has waited 7 minutes", key="a", url="/leads/1/")
    Notification.objects.create(brokerage=tenant.brokerage, recipient=tenant.owner, kind="lead_idle",
                                message="Someone else's notice", key="b")
    client = login(tenant.agent)

    page = client.get(reverse("nurturing:notifications")).content.decode()
    assert "Layla has waited 7 minutes" in page and "Someone else's notice" not in page and "Mark all 1 read" in page
    row = htmx(client, "post", reverse("nurturing:notification_read", args=[mine.pk])).content.decode()
    assert "Read" in row
    mine.refresh_from_db()
    assert mine.read_at is not None
    other = Notification.objects.get(key="b")
    assert client.post(reverse("nurturing:notification_read", args=[other.pk])).status_code == 403


# --- API ----------------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_monitor_leads_returns_the_seeds_shape(tenant, layla):
    Lead.objects.filter(pk=layla.pk).update(last_contacted_at=timezone.now() - 30 * DAY)
    client = make_lead(tenant.brokerage, agent=tenant.owner, name="Old Client", stage="won", email="c@example.test")
    Lead.objects.filter(pk=client.pk).update(stage_changed_at=timezone.now() - 400 * DAY,
                                             created_at=timezone.now() - 500 * DAY)

    owner = api_as(tenant.owner).post("/api/nurturing/monitor/leads").json()

    assert (owner["forgotten_leads_count"], owner["inactive_clients_count"]) == (1, 1)
    assert {item["lead_name"] for item in owner["generated_followups"]} == {"Layla Haddad", "Old Client"}
    item = next(item for item in owner["generated_followups"] if item["lead_name"] == "Layla Haddad")
    assert set(item) == {"id", "lead_id", "lead_name", "content", "suggested_send_date", "priority", "channel",
                         "reason", "status"}
    assert (item["lead_id"], item["reason"], item["status"]) == (layla.pk, "forgotten_lead", "draft")
    # An agent sees only their own leads' share (nothing new is drafted the second time).
    agent = api_as(tenant.agent).post("/api/nurturing/monitor/leads").json()
    assert agent == {"forgotten_leads_count": 1, "inactive_clients_count": 0, "generated_followups": []}
    assert_error(api_as(tenant.support).post("/api/nurturing/monitor/leads"), 403)


@pytest.mark.django_db
def test_followup_api_list_edit_send_dismiss(tenant, layla):
    email = create(tenant, layla)
    sms = create(tenant, layla, channel="sms", reason=FollowUp.Reason.AUTOMATION)
    create(tenant, make_lead(tenant.brokerage, agent=tenant.owner, name="Nadia Karim", email="o@example.test"))
    client = api_as(tenant.agent)

    listed = client.get("/api/nurturing/followups?status=draft").json()
    assert listed["count"] == 2 and {row["lead_name"] for row in listed["results"]} == {"Layla Haddad"}
    assert_error(client.get("/api/nurturing/followups?status=nope"), 400)

    patched = client.patch(f"/api/nurturing/followups/{email.pk}", {"subject": "Dubai Hills"}, format="json").json()
    assert patched["subject"] == "Dubai Hills"
    error = assert_error(client.patch(f"/api/nurturing/followups/{email.pk}", {"status": "sent"}, format="json"), 400)
    assert "status" in error["fields"]

    sent = client.post(f"/api/nurturing/followups/{email.pk}/send").json()
    assert sent["status"] == "sent" and sent["interaction_id"] and len(mail.outbox) == 1
    assert_error(client.post(f"/api/nurturing/followups/{email.pk}/send"), 400)

    error = assert_error(client.post(f"/api/nurturing/followups/{sms.pk}/dismiss", {}, format="json"), 400)
    assert "reason" in error["fields"]
    dismissed = client.post(f"/api/nurturing/followups/{sms.pk}/dismiss", {"reason": "Duplicate"}, format="json")
    assert dismissed.json()["status"] == "dismissed"


@pytest.mark.django_db
def test_followup_api_refuses_another_agents_and_another_brokerages(tenant, other_tenant, layla):
    owners = create(tenant, make_lead(tenant.brokerage, agent=tenant.owner, name="Nadia Karim",
                                      email="o@example.test"))
    assert_error(api_as(tenant.agent).get(f"/api/nurturing/followups/{owners.pk}"), 403)
    assert_error(api_as(other_tenant.owner).post(f"/api/nurturing/followups/{owners.pk}/send"), 404)
    assert api_as(other_tenant.owner).get("/api/nurturing/followups").json()["count"] == 0


@pytest.mark.django_db
def test_the_api_is_documented(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert "post" in paths["/api/nurturing/monitor/leads"]
    for path in ("/api/nurturing/followups", "/api/nurturing/followups/{id}", "/api/nurturing/followups/{id}/send",
                 "/api/nurturing/followups/{id}/dismiss"):
        assert path in paths
    monitor = schema["components"]["schemas"]["NurturingLeadMonitoring"]
    assert set(monitor["properties"]) == {"forgotten_leads_count", "inactive_clients_count", "generated_followups"}


@pytest.mark.django_db
def test_rewrite_with_ai_from_the_card(claude, fake, login):
    lead = make_lead(claude.brokerage, agent=claude.agent, name="Layla Haddad", phone="+971501234567")
    followup = create(claude, lead, channel="whatsapp")
    fake.script(Reply(status=500, body={"type": "error", "error": {"type": "api_error", "message": "down"}}))
    client = login(claude.agent)

    card = htmx(client, "post", reverse("nurturing:followup_redraft", args=[followup.pk])).content.decode()
    assert "the AI provider failed, so the local engine wrote it" in card

    rewritten = "Hi Layla, Omar here: two new villas came up. Shall I send them?"
    fake.script(Reply(body=anthropic_message(json.dumps({"subject": "", "content": rewritten}))))
    card = htmx(client, "post", reverse("nurturing:followup_redraft", args=[followup.pk])).content.decode()
    followup.refresh_from_db()
    assert (followup.content, followup.engine, followup.degraded) == (rewritten, "anthropic", False)
    assert "Drafted by the Anthropic engine" in card and "Rewrite with AI" in card
