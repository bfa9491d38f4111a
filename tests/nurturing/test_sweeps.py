"""The nurture sweep (forgotten leads, inactive clients, due sequence steps, idle escalation, sends past quiet
hours), the speed-to-lead watchdog, their Celery tasks and the nurture_sweep command."""

import datetime as dt
import json
import threading
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from brokerages.models import AuditLog, Notification
from brokerages.services import settings_update
from nurturing.models import Enrollment, FollowUp, Interaction, Lead
from nurturing.selectors.followups import LeakageRules, leakage
from nurturing.services.followups import followup_approve_send, followups_create_bulk
from nurturing.services.leads import interaction_log, lead_set_contact_preferences
from nurturing.services.sequences import enrollment_enrol, sequence_create
from nurturing.services.sweeps import nurture_sweep, speed_to_lead_check
from nurturing.tasks import sweeps as tasks
from tests.conftest import make_tenant
from tests.copilot.fake_llm_server import Reply, anthropic_error, anthropic_message
from tests.factories import make_lead

DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)


def aged(lead: Lead, *, created: dt.datetime | None = None, contacted: dt.datetime | None = None,
         stage_changed: dt.datetime | None = None) -> Lead:
    """Move a lead's clock back: when it was created, last contacted, moved to its stage."""
    values = {"created_at": created or timezone.now() - 400 * DAY}
    if contacted is not None:
        values.update(last_contacted_at=contacted, first_contacted_at=contacted)
    if stage_changed is not None:
        values["stage_changed_at"] = stage_changed
    Lead.objects.filter(pk=lead.pk).update(**values)
    lead.refresh_from_db()
    return lead


def lead(tenant, name="Layla Haddad", *, stage="contacted", **fields) -> Lead:
    fields.setdefault("phone", "+971501234567")
    return make_lead(tenant.brokerage, agent=tenant.agent, name=name, stage=stage, **fields)


def sweep(tenant, now=None, **kwargs):
    return nurture_sweep(brokerage=tenant.brokerage, now=now or timezone.now(), **kwargs)


def drafted(result) -> set[tuple[str, str]]:
    return {(item.lead.name, item.reason) for item in result.generated_followups}


# --- who is forgotten, who is inactive -------------------------------------------------------------------------

@pytest.mark.django_db
def test_forgotten_leads_are_found_exactly_at_the_boundary(tenant):
    now = timezone.now()
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"forgotten_lead_days": 7})
    aged(lead(tenant, "Just Past Seven"), contacted=now - 7 * DAY - MINUTE)
    aged(lead(tenant, "Exactly Seven"), contacted=now - 7 * DAY)
    aged(lead(tenant, "Almost Seven"), contacted=now - 7 * DAY + MINUTE)
    aged(lead(tenant, "Never Contacted", stage="new"), created=now - 6 * MINUTE)  # past the 5-minute target
    aged(lead(tenant, "Brand New", stage="new"), created=now - 4 * MINUTE)
    aged(lead(tenant, "Lost Long Ago", stage="lost"), contacted=now - 60 * DAY)

    result = sweep(tenant, now)

    assert result.forgotten_leads_count == 3
    assert drafted(result) == {("Just Past Seven", "forgotten_lead"), ("Exactly Seven", "forgotten_lead"),
                               ("Never Contacted", "forgotten_lead")}
    assert result.forgotten_by_agent == {tenant.agent.pk: 3}


@pytest.mark.django_db
def test_inactive_clients_are_found_exactly_at_the_boundary(tenant):
    now = timezone.now()
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"inactive_client_days": 90})
    aged(lead(tenant, "Quiet Client", stage="won"), contacted=now - 90 * DAY - MINUTE,
         stage_changed=now - 200 * DAY)
    aged(lead(tenant, "Recent Client", stage="won"), contacted=now - 90 * DAY + MINUTE,
         stage_changed=now - 200 * DAY)
    # Contacted long ago, but only won last month: the relationship is fresh.
    aged(lead(tenant, "New Client", stage="won"), contacted=now - 120 * DAY, stage_changed=now - 30 * DAY)

    result = sweep(tenant, now)

    assert result.inactive_clients_count == 1
    assert drafted(result) == {("Quiet Client", "inactive_client")}
    [followup] = result.generated_followups
    assert followup.channel == "email" and "Quiet" in followup.content and followup.subject


@pytest.mark.django_db
def test_a_lead_who_opted_out_is_never_drafted_to(tenant):
    quiet = aged(lead(tenant, "Opted Out"), contacted=timezone.now() - 30 * DAY)
    lead_set_contact_preferences(brokerage=tenant.brokerage, actor=tenant.agent, lead=quiet, do_not_contact=True)
    quiet.refresh_from_db()

    result = sweep(tenant)

    assert result.forgotten_leads_count == 0 and result.generated_followups == []
    item = FollowUp(brokerage=tenant.brokerage, lead=quiet, agent=tenant.agent, reason="manual", channel="sms",
                    content="Hi", suggested_send_date=timezone.localdate())
    assert followups_create_bulk(brokerage=tenant.brokerage, items=[item]) == []
    assert not FollowUp.objects.filter(lead=quiet).exists()


@pytest.mark.django_db
def test_unreachable_leads_are_counted_but_not_drafted(tenant):
    aged(make_lead(tenant.brokerage, agent=tenant.agent, name="No Address", email="", stage="contacted"),
         contacted=timezone.now() - 30 * DAY)

    result = sweep(tenant)

    assert (result.forgotten_leads_count, result.unreachable, result.generated_followups) == (1, 1, [])


# --- idempotence ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_two_sweeps_leave_one_open_draft_per_lead_and_reason(tenant):
    now = timezone.now()
    for number in range(3):
        aged(lead(tenant, f"Quiet Lead {number}"), contacted=now - 20 * DAY)
    aged(lead(tenant, "Quiet Client", stage="won"), contacted=now - 200 * DAY, stage_changed=now - 300 * DAY)

    first = sweep(tenant, now)
    second = sweep(tenant, now + MINUTE)

    assert len(first.generated_followups) == 4 and second.generated_followups == []
    assert second.forgotten_leads_count == 3 and second.inactive_clients_count == 1
    assert FollowUp.objects.filter(brokerage=tenant.brokerage).count() == 4


@pytest.mark.django_db
def test_the_database_refuses_a_second_open_draft_for_a_lead_and_reason(tenant):
    quiet = lead(tenant)
    values = dict(brokerage=tenant.brokerage, lead=quiet, agent=tenant.agent, reason="forgotten_lead",
                  channel="sms", content="Hi", suggested_send_date=timezone.localdate())
    FollowUp.objects.create(**values)

    assert followups_create_bulk(brokerage=tenant.brokerage, items=[FollowUp(**values)]) == []
    with pytest.raises(IntegrityError), transaction.atomic():
        FollowUp.objects.create(**values)
    FollowUp.objects.create(**{**values, "reason": "inactive_client"})  # another reason is another draft


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_sweeps_never_duplicate_drafts():
    with scopes_disabled():
        tenant = make_tenant("Concurrent Realty")
        for number in range(30):
            aged(lead(tenant, f"Quiet Lead {number}"), contacted=timezone.now() - 20 * DAY)
    counts, errors = [], []
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            with scope(brokerage=tenant.brokerage):
                counts.append(len(nurture_sweep(brokerage=tenant.brokerage).generated_followups))
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(counts) == [0, 30]
    with scopes_disabled():
        assert FollowUp.objects.filter(brokerage=tenant.brokerage).count() == 30


@pytest.mark.django_db
def test_a_contacted_lead_leaves_the_forgotten_list(tenant):
    now = timezone.now()
    quiet = aged(lead(tenant, "Quiet Lead"), contacted=now - 20 * DAY)
    [followup] = sweep(tenant, now).generated_followups

    interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=quiet, channel="call",
                    summary="Caught up on the phone; still looking in JVC")
    later = timezone.now()

    followup.refresh_from_db()
    assert followup.status == "dismissed" and followup.dismiss_reason == "The lead was contacted"
    assert leakage(tenant.brokerage, LeakageRules.of(_values(tenant), later)).forgotten == 0
    result = sweep(tenant, later)
    assert result.forgotten_leads_count == 0 and result.generated_followups == []


def _values(tenant) -> dict:
    from brokerages.selectors import settings_values

    return settings_values(tenant.brokerage)


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_number_of_leads(tenant):
    def build(count: int, prefix: str):
        now = timezone.now()
        for number in range(count):
            quiet = lead(tenant, f"{prefix} {number}", areas=["JVC"], budget_max=900_000)
            interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=quiet, channel="whatsapp",
                            summary="Sent options")
            aged(quiet, contacted=now - 20 * DAY)
        aged(lead(tenant, f"{prefix} client", stage="won"), contacted=now - 200 * DAY, stage_changed=now - 300 * DAY)

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            result = sweep(tenant)
        return len(captured.captured_queries), len(result.generated_followups)

    build(3, "Small")
    small, small_drafts = queries()
    build(30, "Large")
    large, large_drafts = queries()

    assert (small_drafts, large_drafts) == (4, 31)
    assert large == small


# --- escalation, sequence steps, sends, automations, model drafts -----------------------------------------------

@pytest.mark.django_db
def test_idle_leads_are_escalated_to_the_owners_once(tenant):
    now = timezone.now()
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"forgotten_lead_days": 7})
    idle = aged(lead(tenant, "Idle Lead"), contacted=now - 15 * DAY)
    aged(lead(tenant, "Merely Forgotten"), contacted=now - 10 * DAY)

    result = sweep(tenant, now)

    assert result.escalated == 1
    idle.refresh_from_db()
    assert idle.escalated_at == now
    [notice] = Notification.objects.filter(recipient=tenant.owner, kind="lead_idle")
    assert "Idle Lead" in notice.message and "14+ days" in notice.message
    assert not Notification.objects.filter(recipient=tenant.agent, kind="lead_idle").exists()
    followup = FollowUp.objects.get(lead=idle)
    assert followup.priority == "high"
    assert sweep(tenant, now + MINUTE).escalated == 0
    assert Notification.objects.filter(kind="lead_idle").count() == 1


@pytest.mark.django_db
def test_due_sequence_steps_are_drafted_once_and_the_enrolment_moves_on(tenant):
    sequence = sequence_create(brokerage=tenant.brokerage, actor=tenant.owner, name="New lead welcome",
                               sequence_type="new_lead", steps=[
                                   {"delay_days": 0, "channel": "sms", "body": "Hi {{ first_name }}, {{ agent_name }} "
                                                                               "here about {{ areas }}."},
                                   {"delay_days": 2, "channel": "whatsapp",
                                    "instruction": "Share a market update for their areas"}])
    warm = lead(tenant, "Omar Saeed", areas=["Dubai Hills"], stage="contacted")
    enrollment = enrollment_enrol(brokerage=tenant.brokerage, actor=tenant.agent, lead=warm, sequence=sequence)
    now = timezone.now() + MINUTE

    first = sweep(tenant, now)

    assert first.steps_drafted == 1
    [step] = [item for item in first.generated_followups if item.reason == "sequence_step"]
    assert (step.sequence_id, step.step_index, step.channel, step.engine) == (sequence.pk, 0, "sms", "template")
    assert step.content == f"Hi Omar, {tenant.agent.display_name} here about Dubai Hills."
    enrollment.refresh_from_db()
    assert enrollment.next_step == 1 and enrollment.next_due_at == now + 2 * DAY
    assert sweep(tenant, now + MINUTE).steps_drafted == 0

    second = sweep(tenant, now + 2 * DAY + MINUTE)
    [step] = [item for item in second.generated_followups if item.reason == "sequence_step"]
    assert step.step_index == 1 and step.engine == "local"
    assert "Prices and availability for property in Dubai Hills have been moving" in step.content
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED


@pytest.mark.django_db
def test_the_sweep_sends_what_waited_for_quiet_hours(tenant):
    now = timezone.now()
    quiet = aged(lead(tenant, "Quiet Lead", email="layla@example.test"), contacted=now - 20 * DAY)
    [followup] = sweep(tenant, now).generated_followups
    FollowUp.objects.filter(pk=followup.pk).update(channel="email", subject="Checking in", status="approved",
                                                   send_after=now - MINUTE)
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"})

    result = sweep(tenant, now)

    assert result.sent == 1
    followup.refresh_from_db()
    assert followup.status == "sent" and followup.interaction.lead == quiet
    assert [message.to for message in mail.outbox] == [["layla@example.test"]]


@pytest.mark.django_db
def test_sweep_rewrites_new_drafts_with_the_model_engine(claude, fake):
    body = {"subject": "", "content": "Hi Layla, Omar here. Still keen on a villa in Dubai Hills? — Omar, Palm Crest"}
    fake.script(Reply(body=anthropic_message(json.dumps(body))))
    aged(lead(claude, "Layla Haddad", areas=["Dubai Hills"]), contacted=timezone.now() - 20 * DAY)

    result = sweep(claude)

    assert result.redrafted == 1
    followup = FollowUp.objects.get()
    assert (followup.engine, followup.degraded, followup.content) == ("anthropic", False, body["content"])
    prompt = fake.requests[0].body["messages"][0]["content"]
    assert '<data label="lead">' in prompt and "Dubai Hills" in prompt


@pytest.mark.django_db
def test_a_failing_model_leaves_the_local_draft_marked_degraded(claude, fake):
    fake.script(Reply(status=500, body=anthropic_error(500)))
    aged(lead(claude, "Layla Haddad"), contacted=timezone.now() - 20 * DAY)

    sweep(claude)

    followup = FollowUp.objects.get()
    assert (followup.engine, followup.degraded) == ("local", True)
    assert followup.content.startswith("Hi Layla")


@pytest.mark.django_db
def test_the_sweep_is_audited_when_it_does_something(tenant):
    sweep(tenant)
    assert not AuditLog.objects.filter(action="nurturing.swept").exists()
    aged(lead(tenant), contacted=timezone.now() - 20 * DAY)
    sweep(tenant)
    entry = AuditLog.objects.get(action="nurturing.swept")
    assert entry.details["drafts"] == 1 and entry.details["forgotten_leads"] == 1


# --- speed to lead ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_speed_to_lead_alerts_the_agent_then_the_owner_once(tenant):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"response_time_target_minutes": 5, "escalation_minutes": 60})
    fresh = lead(tenant, "Fresh Lead", stage="new")
    created = fresh.created_at

    assert speed_to_lead_check(brokerage=tenant.brokerage, now=created + 4 * MINUTE).alerted == 0
    assert speed_to_lead_check(brokerage=tenant.brokerage, now=created + 6 * MINUTE).alerted == 1
    [alert] = Notification.objects.filter(kind="speed_to_lead")
    assert alert.recipient == tenant.agent and "Fresh Lead has waited 6 minutes" in alert.message
    assert alert.url == f"/leads/{fresh.pk}/"
    assert speed_to_lead_check(brokerage=tenant.brokerage, now=created + 30 * MINUTE).alerted == 0

    escalation = speed_to_lead_check(brokerage=tenant.brokerage, now=created + 61 * MINUTE)
    assert (escalation.alerted, escalation.escalated) == (0, 1)
    [escalated] = Notification.objects.filter(kind="speed_to_lead_escalation")
    assert escalated.recipient == tenant.owner and tenant.agent.display_name in escalated.message
    assert speed_to_lead_check(brokerage=tenant.brokerage, now=created + 90 * MINUTE).escalated == 0
    fresh.refresh_from_db()
    assert fresh.response_alerted_at == created + 6 * MINUTE and fresh.escalated_at == created + 61 * MINUTE
    assert Notification.objects.count() == 2


@pytest.mark.django_db
def test_a_contacted_lead_raises_no_speed_to_lead_alert(tenant):
    fresh = lead(tenant, "Fresh Lead", stage="new")
    interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=fresh, channel="call", summary="Intro call")
    fresh.refresh_from_db()
    assert fresh.first_contacted_at is not None and fresh.response_minutes == 0

    result = speed_to_lead_check(brokerage=tenant.brokerage, now=fresh.created_at + 90 * MINUTE)

    assert (result.alerted, result.escalated) == (0, 0)


@pytest.mark.django_db
def test_an_unassigned_new_lead_alerts_the_owners(tenant):
    fresh = make_lead(tenant.brokerage, name="Nobody's Lead")

    speed_to_lead_check(brokerage=tenant.brokerage, now=fresh.created_at + 10 * MINUTE)

    assert list(Notification.objects.values_list("recipient", flat=True)) == [tenant.owner.pk]


# --- tasks and command ------------------------------------------------------------------------------------------

@pytest.fixture
def eager(settings):
    """Tasks run inline, as a worker would run them (Celery reads the setting; restored after the test)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.mark.django_db
def test_the_sweep_task_fans_out_one_run_per_brokerage(tenant, other_tenant, eager,
                                                       django_capture_on_commit_callbacks):
    aged(lead(tenant), contacted=timezone.now() - 20 * DAY)
    aged(lead(other_tenant, "Other Lead"), contacted=timezone.now() - 20 * DAY)

    with django_capture_on_commit_callbacks(execute=True) as callbacks, scope():
        tasks.nurture_sweep_all()

    assert len(callbacks) == 2
    assert FollowUp.objects.filter(brokerage=tenant.brokerage).count() == 1
    assert FollowUp.objects.filter(brokerage=other_tenant.brokerage).count() == 1
    with scope():
        assert tasks.nurture_sweep_brokerage(brokerage_id=tenant.brokerage.pk)["forgotten_leads"] == 1
        assert tasks.nurture_sweep_brokerage(brokerage_id=10**9) is None


@pytest.mark.django_db
def test_the_speed_to_lead_task_runs_per_brokerage(tenant, eager, django_capture_on_commit_callbacks):
    Lead.objects.filter(pk=lead(tenant, stage="new").pk).update(created_at=timezone.now() - 10 * MINUTE)

    with django_capture_on_commit_callbacks(execute=True), scope():
        tasks.speed_to_lead_all()

    assert Notification.objects.filter(recipient=tenant.agent, kind="speed_to_lead").count() == 1


@pytest.mark.django_db
def test_the_send_due_task_sends_approved_messages(tenant, eager, django_capture_on_commit_callbacks, outbox):
    quiet = aged(lead(tenant), contacted=timezone.now() - 20 * DAY)
    [followup] = sweep(tenant).generated_followups
    FollowUp.objects.filter(pk=followup.pk).update(status="approved", send_after=timezone.now() - MINUTE)
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"})

    with django_capture_on_commit_callbacks(execute=True), scope():
        tasks.send_due_all()

    assert [message.to for message in outbox] == [quiet.phone]
    assert Interaction.objects.filter(lead=quiet, direction="outbound").count() == 1


@pytest.mark.django_db
def test_the_command_sweeps_one_brokerage_and_prints_the_counts(tenant, other_tenant):
    aged(lead(tenant), contacted=timezone.now() - 20 * DAY)
    aged(lead(other_tenant, "Other Lead"), contacted=timezone.now() - 20 * DAY)
    out = StringIO()

    with scope():
        call_command("nurture_sweep", "--brokerage", tenant.brokerage.slug, stdout=out)

    assert out.getvalue().startswith(f"{tenant.brokerage.name}: 1 forgotten leads, 0 inactive clients, 1 new drafts")
    assert not FollowUp.objects.filter(brokerage=other_tenant.brokerage).exists()
    with pytest.raises(CommandError, match="No brokerage has the slug 'nowhere'"), scope():
        call_command("nurture_sweep", "--brokerage", "nowhere")


@pytest.mark.django_db
def test_the_command_sweeps_every_brokerage(tenant, other_tenant):
    out = StringIO()
    with scope():
        call_command("nurture_sweep", stdout=out)
    assert sorted(line.split(":")[0] for line in out.getvalue().splitlines()) == sorted(
        [tenant.brokerage.name, other_tenant.brokerage.name])


@pytest.mark.django_db
def test_approving_the_sent_quiet_hours_message_is_not_sent_twice(tenant, outbox):
    quiet = aged(lead(tenant), contacted=timezone.now() - 20 * DAY)
    [followup] = sweep(tenant).generated_followups
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"})
    followup_approve_send(brokerage=tenant.brokerage, actor=tenant.agent, followup=followup)

    assert sweep(tenant).sent == 0
    assert [message.to for message in outbox] == [quiet.phone]
