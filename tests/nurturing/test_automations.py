"""Workflow automations: the schema's errors, what runs when a trigger fires (conditions, round robin, the run
log), that a failing automation never costs the lead, the idle sweep, and the webhook action."""

import datetime as dt
import json
import threading
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from brokerages.models import AuditLog, Notification, Role
from nurturing.automation_schema import clean_automation, conditions_mismatch
from nurturing.models import AutomationRun, Enrollment, FollowUp, Lead, NurturingSequence
from nurturing.services import automations as services
from nurturing.services.leads import interaction_log, lead_change_stage, lead_create, lead_update
from nurturing.tasks.automations import automation_webhook_call
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db

STEPS = [{"delay_days": 0, "channel": "email", "body": "Hello {{ first_name }}"}]


@pytest.fixture
def sequence(tenant):
    return NurturingSequence.objects.create(brokerage=tenant.brokerage, name="New lead welcome",
                                            sequence_type="new_lead", steps=STEPS)


def _automation(tenant, actions, trigger="lead_created", name="Automation", **trigger_fields):
    return services.automation_create(brokerage=tenant.brokerage, actor=tenant.owner, name=name,
                                      trigger_conditions={"trigger": trigger, **trigger_fields}, actions=actions)


def _new_lead(tenant, **fields):
    fields.setdefault("name", "Layla Haddad")
    fields.setdefault("email", f"lead{Lead.objects.count() + 1}@example.test")
    return lead_create(brokerage=tenant.brokerage, actor=tenant.owner, data=fields)


def _errors(call) -> dict:
    with pytest.raises(ValidationError) as caught:
        call()
    return caught.value.message_dict


# --- the schema -----------------------------------------------------------------------------------------------------


def test_schema_errors_name_the_path_of_every_problem(tenant, other_tenant, sequence):
    retired = NurturingSequence.objects.create(brokerage=tenant.brokerage, name="Old", sequence_type="new_lead",
                                               steps=STEPS, is_active=False)
    foreign = NurturingSequence.objects.create(brokerage=other_tenant.brokerage, name="Theirs",
                                               sequence_type="new_lead", steps=STEPS)
    errors = _errors(lambda: clean_automation(brokerage=tenant.brokerage, trigger_conditions={
        "trigger": "idle", "idle_days": 0, "conditions": {"source": ["website", "carrier pigeon"],
                                                          "budget_min": "3000000", "budget_max": "1000000",
                                                          "colour": ["red"]},
    }, actions=[
        {"type": "enrol_in_sequence", "sequence_id": sequence.pk},
        {"type": "enrol_in_sequence", "sequence_id": retired.pk},
        {"type": "enrol_in_sequence", "sequence_id": foreign.pk},
        {"type": "assign_agent", "agent_id": other_tenant.agent.pk},
        {"type": "notify", "recipient": "everyone", "message": "Hi {{ shoe_size }}"},
        {"type": "call_webhook", "url": "ftp://example.com/hook"},
        {"type": "teleport"},
        {"type": "add_tag", "tag": "hot", "colour": "red"},
    ]))
    assert errors == {
        "trigger_conditions.idle_days": ["must be a whole number of days from 1 to 365."],
        "trigger_conditions.conditions.colour": [
            "unknown condition; use source, stage, area, tag, budget_min, budget_max."],
        "trigger_conditions.conditions.source": [
            "unknown value(s) carrier pigeon; use website, portal, referral, walk_in, social, call, event, import, "
            "other."],
        "trigger_conditions.conditions.budget_max": ["is below budget_min."],
        "actions[1].sequence_id": ["no such active sequence."],
        "actions[2].sequence_id": ["no such active sequence."],
        "actions[3].agent_id": ['no such active agent in this brokerage (or use "round_robin").'],
        "actions[4].recipient": ["must be one of assigned_agent, owners."],
        "actions[4].message": [
            "unknown merge field(s) shoe_size (known: first_name, name, agent_name, agent_phone, brokerage_name, "
            "areas, property_type, budget)."],
        "actions[5].url": ["must be a full http:// or https:// address."],
        "actions[6].type": [
            "must be one of enrol_in_sequence, assign_agent, add_tag, notify, create_followup, call_webhook."],
        "actions[7].colour": ["not a field of add_tag (it takes tag)."],
    }


def test_schema_checks_trigger_parameters_and_required_fields(tenant):
    errors = _errors(lambda: clean_automation(brokerage=tenant.brokerage, trigger_conditions={
        "trigger": "lead_created", "idle_days": 3}, actions=[{"type": "notify", "recipient": "owners"}]))
    assert errors == {"trigger_conditions.idle_days": ["only the idle trigger takes idle_days."],
                      "actions[0].message": ["required."]}
    assert _errors(lambda: clean_automation(brokerage=tenant.brokerage, trigger_conditions={"trigger": "tag_added"},
                                            actions=[])) == {
        "trigger_conditions.tag": ["the tag_added trigger needs tag."], "actions": ["give at least one action."]}
    assert _errors(lambda: clean_automation(brokerage=tenant.brokerage, trigger_conditions={"trigger": "sunrise"},
                                            actions="enrol")) == {
        "trigger_conditions.trigger": [
            "must be one of lead_created, stage_changed, idle, tag_added, inbound_message."],
        "actions": ["must be a list of actions."]}


def test_schema_refuses_private_webhook_addresses(tenant, settings):
    def check(url):
        return clean_automation(brokerage=tenant.brokerage, trigger_conditions={"trigger": "lead_created"},
                                actions=[{"type": "call_webhook", "url": url}])

    for url in ("http://127.0.0.1:8000/hook", "http://10.0.0.5/hook", "http://169.254.169.254/latest/meta-data",
                "http://[::1]/hook"):
        assert _errors(lambda url=url: check(url)) == {
            "actions[0].url": ["points at a private or local network address; use a public address."]}, url
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    assert check("http://127.0.0.1:8000/hook")[1] == [{"type": "call_webhook", "url": "http://127.0.0.1:8000/hook"}]


def test_schema_normalises_what_it_keeps(tenant):
    trigger, actions = clean_automation(brokerage=tenant.brokerage, trigger_conditions={
        "trigger": "tag_added", "tag": " VIP ", "conditions": {"area": "Dubai Marina, JBR", "tag": ["Hot"],
                                                               "budget_min": "1,500,000", "stage": []}},
        actions=[{"type": "assign_agent", "agent_id": str(tenant.agent.pk)},
                 {"type": "assign_agent", "agent_id": "round_robin"}])
    assert trigger == {"trigger": "tag_added", "tag": "vip", "conditions": {
        "area": ["Dubai Marina", "JBR"], "tag": ["hot"], "budget_min": "1500000"}}
    assert actions == [{"type": "assign_agent", "agent_id": tenant.agent.pk},
                       {"type": "assign_agent", "agent_id": "round_robin"}]


def test_conditions_match_any_listed_value_and_overlapping_budgets(tenant):
    lead = make_lead(tenant.brokerage, source="portal", areas=["Dubai Marina"], tags=["investor"],
                     budget_min=Decimal("1000000"), budget_max=Decimal("2000000"))
    assert conditions_mismatch({"source": ["website", "portal"], "area": ["dubai marina", "JVC"],
                                "tag": ["investor", "vip"], "budget_min": "1800000", "budget_max": "5000000"},
                               lead) == ""
    assert conditions_mismatch({"budget_min": "2500000"}, lead) == "budget ends at 2,000,000, below 2,500,000"
    assert conditions_mismatch({"area": ["Palm Jumeirah"]}, lead).startswith("areas (Dubai Marina) include none")
    no_budget = make_lead(tenant.brokerage)
    assert conditions_mismatch({"budget_max": "900000"}, no_budget) == "the lead has no budget"


# --- building -------------------------------------------------------------------------------------------------------


def test_create_update_and_switching_are_validated_and_audited(tenant, sequence):
    automation = _automation(tenant, [{"type": "enrol_in_sequence", "sequence_id": sequence.pk}], name="Welcome")
    assert AuditLog.objects.filter(action="nurturing.automation_created", resource_id=str(automation.pk)).exists()
    assert _errors(lambda: _automation(tenant, [{"type": "add_tag", "tag": "x"}], name="welcome")) == {
        "name": ["There is already an automation called “welcome”."]}

    assert _errors(lambda: services.automation_update(
        brokerage=tenant.brokerage, actor=tenant.owner, automation=automation,
        data={"actions": [{"type": "enrol_in_sequence", "sequence_id": 999999}]})) == {
        "actions[0].sequence_id": ["no such active sequence."]}

    services.automation_set_active(brokerage=tenant.brokerage, actor=tenant.owner, automation=automation,
                                   is_active=False)
    NurturingSequence.objects.filter(pk=sequence.pk).update(is_active=False)
    # Its sequence was switched off meanwhile: it cannot come back on until that is fixed.
    assert _errors(lambda: services.automation_set_active(brokerage=tenant.brokerage, actor=tenant.owner,
                                                          automation=automation, is_active=True)) == {
        "actions[0].sequence_id": ["no such active sequence."]}
    assert list(AuditLog.objects.filter(resource_id=str(automation.pk)).values_list("action", flat=True)) == [
        "nurturing.automation_deactivated", "nurturing.automation_created"]


# --- running --------------------------------------------------------------------------------------------------------


def test_a_new_lead_is_assigned_round_robin_and_enrolled(tenant, sequence):
    second = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    gone = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, is_active=False)
    third = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    automation = _automation(tenant, [{"type": "assign_agent", "agent_id": "round_robin"},
                                      {"type": "enrol_in_sequence", "sequence_id": sequence.pk}])

    holders = []
    for _ in range(4):
        lead = _new_lead(tenant)
        lead.refresh_from_db()
        holders.append(lead.assigned_agent)
        assert Enrollment.objects.get(lead=lead).sequence == sequence
    # Active agents by id, wrapping round; the deactivated one and the owner are never given a lead.
    assert holders == [tenant.agent, second, third, tenant.agent]
    assert gone not in holders
    run = AutomationRun.objects.filter(automation=automation).first()
    assert run.status == "succeeded" and run.trigger == "lead_created"
    assert run.detail == {"actions": [
        {"type": "assign_agent", "result": f"Assigned to {tenant.agent.display_name} (round robin)."},
        {"type": "enrol_in_sequence", "result": "Enrolled in “New lead welcome” (active)."}]}


def test_round_robin_leaves_a_lead_that_already_has_an_agent(tenant):
    _automation(tenant, [{"type": "assign_agent", "agent_id": "round_robin"}])
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    lead = lead_create(brokerage=tenant.brokerage, actor=colleague, data={"name": "Own Lead", "phone": "0501234567"},
                       assigned_agent=colleague)
    lead.refresh_from_db()
    assert lead.assigned_agent == colleague
    assert AutomationRun.objects.get(lead=lead).detail["actions"][0]["result"].startswith("Already held by")


def test_conditions_filter_which_leads_an_automation_acts_on(tenant):
    automation = _automation(tenant, [{"type": "add_tag", "tag": "luxury"}], conditions={
        "source": ["portal"], "budget_min": "5000000"})
    rich = _new_lead(tenant, source="portal", budget_min=Decimal("4000000"), budget_max=Decimal("8000000"))
    modest = _new_lead(tenant, source="portal", budget_max=Decimal("900000"))
    walk_in = _new_lead(tenant, source="walk_in", budget_max=Decimal("9000000"))

    rich.refresh_from_db(), modest.refresh_from_db(), walk_in.refresh_from_db()
    assert rich.tags == ["luxury"] and modest.tags == [] and walk_in.tags == []
    runs = {run.lead_id: run for run in AutomationRun.objects.filter(automation=automation)}
    assert runs[modest.pk].status == "skipped"
    assert runs[modest.pk].detail == {"reason": "Conditions not met: budget ends at 900,000, below 5,000,000."}
    assert runs[walk_in.pk].detail == {"reason": "Conditions not met: source is walk_in, not one of portal."}


def test_trigger_parameters_tag_stage_and_inbound(tenant):
    tagged = _automation(tenant, [{"type": "notify", "recipient": "owners", "message": "VIP: {{ name }}"}],
                         trigger="tag_added", name="VIP", tag="vip")
    qualified = _automation(tenant, [{"type": "add_tag", "tag": "qualified"}], trigger="stage_changed",
                            name="Qualified", to_stage="qualified")
    replied = _automation(tenant, [{"type": "notify", "recipient": "assigned_agent",
                                    "message": "{{ first_name }} wrote back"}], trigger="inbound_message",
                          name="Replied")
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Sara Khan")

    lead_update(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, data={"tags": ["investor"]})
    assert not AutomationRun.objects.filter(automation=tagged).exists()  # another tag: not this trigger
    lead_update(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, data={"tags": ["investor", "vip"]})
    assert Notification.objects.get(recipient=tenant.owner, kind="automation").message == "VIP: Sara Khan"

    lead_change_stage(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, stage="contacted")
    assert not AutomationRun.objects.filter(automation=qualified).exists()
    lead_change_stage(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, stage="qualified")
    lead.refresh_from_db()
    assert "qualified" in lead.tags

    interaction_log(brokerage=tenant.brokerage, actor=None, lead=lead, channel="whatsapp", direction="inbound",
                    summary="Is it still available?")
    assert Notification.objects.get(recipient=tenant.agent, kind="automation").message == "Sara wrote back"
    assert AutomationRun.objects.get(automation=replied).status == "succeeded"


def test_a_failing_action_is_logged_and_never_costs_the_lead(tenant, sequence):
    automation = _automation(tenant, [{"type": "add_tag", "tag": "welcomed"},
                                      {"type": "assign_agent", "agent_id": "round_robin"},
                                      {"type": "enrol_in_sequence", "sequence_id": sequence.pk}])
    tenant.agent.is_active = False
    tenant.agent.save()  # nobody left to share leads between

    lead = _new_lead(tenant, name="Nadia Aziz")

    lead.refresh_from_db()
    assert lead.name == "Nadia Aziz" and lead.assigned_agent is None
    assert lead.tags == []  # the run's earlier action was undone with it
    assert not Enrollment.objects.filter(lead=lead).exists()
    run = AutomationRun.objects.get(automation=automation, lead=lead)
    assert run.status == "failed"
    assert run.detail == {
        "actions": [{"type": "add_tag", "result": "Tagged “welcomed”."}], "failed_action": 1,
        "error": "assign_agent: the brokerage has no active agent to share leads between.",
        "undone": "The actions before the failing one were undone."}


def test_one_failing_automation_does_not_stop_the_next(tenant, sequence):
    _automation(tenant, [{"type": "enrol_in_sequence", "sequence_id": sequence.pk}], name="A enrol")
    _automation(tenant, [{"type": "add_tag", "tag": "new"}], name="B tag")
    NurturingSequence.objects.filter(pk=sequence.pk).update(is_active=False)

    lead = _new_lead(tenant)

    lead.refresh_from_db()
    assert lead.tags == ["new"]
    statuses = dict(AutomationRun.objects.filter(lead=lead).values_list("automation__name", "status"))
    assert statuses == {"A enrol": "failed", "B tag": "succeeded"}
    assert "switched off" in AutomationRun.objects.get(lead=lead, automation__name="A enrol").detail["error"]


def test_inactive_automations_do_not_run(tenant):
    automation = _automation(tenant, [{"type": "add_tag", "tag": "x"}])
    services.automation_set_active(brokerage=tenant.brokerage, actor=tenant.owner, automation=automation,
                                   is_active=False)
    lead = _new_lead(tenant)
    assert not AutomationRun.objects.filter(lead=lead).exists()


# --- the idle sweep -------------------------------------------------------------------------------------------------


def test_idle_sweep_runs_once_per_idle_period(tenant):
    automation = _automation(tenant, [{"type": "notify", "recipient": "owners", "message": "{{ name }} went quiet"}],
                             trigger="idle", idle_days=7, conditions={"stage": ["new", "contacted"]})
    now = timezone.now()
    quiet = make_lead(tenant.brokerage, agent=tenant.agent, name="Quiet Qasim", created_at=now - dt.timedelta(days=9))
    fresh = make_lead(tenant.brokerage, agent=tenant.agent, name="Fresh Fatima", created_at=now - dt.timedelta(days=2))
    won = make_lead(tenant.brokerage, agent=tenant.agent, created_at=now - dt.timedelta(days=30), stage="won")
    qualified = make_lead(tenant.brokerage, agent=tenant.agent, created_at=now - dt.timedelta(days=30),
                          stage="qualified")

    assert services.automations_idle_sweep(brokerage=tenant.brokerage, now=now) == 1
    assert services.automations_idle_sweep(brokerage=tenant.brokerage, now=now + dt.timedelta(days=3)) == 0
    assert list(AutomationRun.objects.filter(automation=automation).values_list("lead", flat=True)) == [quiet.pk]
    assert not AutomationRun.objects.filter(lead__in=[fresh, won, qualified]).exists()

    # Touched after its run, then quiet again for a full period: a new idle period, a new run.
    interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=quiet, channel="call", summary="Chased")
    assert services.automations_idle_sweep(brokerage=tenant.brokerage, now=now + dt.timedelta(days=5)) == 1
    assert AutomationRun.objects.filter(automation=automation).latest("pk").lead == fresh
    assert services.automations_idle_sweep(brokerage=tenant.brokerage, now=now + dt.timedelta(days=8)) == 1
    assert AutomationRun.objects.filter(automation=automation, lead=quiet).count() == 2
    assert Notification.objects.filter(recipient=tenant.owner, message="Quiet Qasim went quiet").count() == 2


def test_idle_sweep_queries_do_not_grow_with_leads(tenant):
    _automation(tenant, [{"type": "add_tag", "tag": "idle"}], trigger="idle", idle_days=3,
                conditions={"area": ["JVC"]})
    old = timezone.now() - dt.timedelta(days=10)

    def leads(matching, other):
        for _ in range(matching):
            make_lead(tenant.brokerage, created_at=old, areas=["JVC"])
        for _ in range(other):
            make_lead(tenant.brokerage, created_at=old, areas=["Dubai Marina"])

    def sweep_queries(expected_runs):
        with CaptureQueriesContext(connection) as captured:
            assert services.automations_idle_sweep(brokerage=tenant.brokerage, now=timezone.now()) == expected_runs
        return len(captured)

    leads(0, 10)
    base = sweep_queries(0)  # leads that miss a condition cost nothing
    assert base == 2
    leads(1, 10)
    one_run = sweep_queries(1) - base
    leads(5, 10)
    assert sweep_queries(5) - base == 5 * one_run  # each matching lead costs its own run and nothing more


# --- the webhook action ---------------------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list = []
    status = 200

    def do_POST(self):  # noqa: N802 - the standard library's name
        length = int(self.headers["Content-Length"])
        type(self).received.append((self.headers["Content-Type"], json.loads(self.rfile.read(length))))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received, _Receiver.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/lead", _Receiver
    server.shutdown()


def test_webhook_action_posts_the_lead_after_commit(tenant, settings, receiver, django_capture_on_commit_callbacks,
                                                    monkeypatch):
    url, handler = receiver
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    automation = _automation(tenant, [{"type": "call_webhook", "url": url}])
    queued = []
    monkeypatch.setattr(automation_webhook_call, "delay_on_commit", lambda **kwargs: queued.append(kwargs))

    lead = _new_lead(tenant, name="Omar Saleh", budget_max=Decimal("2500000"))
    run = AutomationRun.objects.get(automation=automation)
    assert queued == [{"run_id": run.pk, "action_index": 0}]
    assert handler.received == []  # nothing leaves before the lead is committed

    automation_webhook_call(**queued[0])
    automation_webhook_call(**queued[0])  # a retried task posts once

    assert len(handler.received) == 1
    content_type, payload = handler.received[0]
    assert content_type == "application/json"
    assert payload["event"] == "lead_created" and payload["automation"] == {"id": automation.pk,
                                                                            "name": "Automation"}
    assert payload["lead"]["id"] == lead.pk and payload["lead"]["name"] == "Omar Saleh"
    assert payload["lead"]["budget_max"] == "2500000.00"
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert run.detail["actions"][0] == {"type": "call_webhook", "url": url, "delivered": True,
                                        "result": f"POST to {url} answered 200."}


def test_webhook_action_runs_as_a_celery_task_in_its_own_tenant_scope(tenant, settings, receiver,
                                                                      django_capture_on_commit_callbacks):
    from django_scopes import scope

    url, handler = receiver
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    _automation(tenant, [{"type": "call_webhook", "url": url}])
    with django_capture_on_commit_callbacks() as callbacks:
        _new_lead(tenant)
    assert len(callbacks) == 1 and handler.received == []

    settings.CELERY_TASK_ALWAYS_EAGER = True
    with scope():  # no tenant scope, as in a worker: the task must open the run's own
        callbacks[0]()

    assert len(handler.received) == 1
    assert AutomationRun.objects.get().detail["actions"][0]["delivered"] is True


def test_webhook_action_failures_are_logged(tenant, settings, receiver, monkeypatch):
    url, handler = receiver
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    automation = _automation(tenant, [{"type": "add_tag", "tag": "sent"}, {"type": "call_webhook", "url": url}])
    monkeypatch.setattr(automation_webhook_call, "delay_on_commit", lambda **kwargs: None)
    lead = _new_lead(tenant)
    run = AutomationRun.objects.get(automation=automation)

    handler.status = 500
    assert services.automation_webhook_deliver(run_id=run.pk, action_index=1) is False
    run.refresh_from_db()
    assert run.status == "failed"
    assert run.detail["error"] == f"call_webhook: POST to {url} failed: the receiver answered 500."
    lead.refresh_from_db()
    assert lead.tags == ["sent"]  # what the run already did stands


def test_webhook_action_refuses_private_targets_at_call_time(tenant, settings, receiver, monkeypatch):
    url, handler = receiver
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True  # allowed when saved...
    automation = _automation(tenant, [{"type": "call_webhook", "url": url.replace("127.0.0.1", "localhost")}])
    monkeypatch.setattr(automation_webhook_call, "delay_on_commit", lambda **kwargs: None)
    _new_lead(tenant)
    run = AutomationRun.objects.get(automation=automation)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False  # ...but not when called: the name resolves to loopback

    assert services.automation_webhook_deliver(run_id=run.pk, action_index=0) is False

    assert handler.received == []
    run.refresh_from_db()
    assert run.status == "failed" and "is a private or local address" in run.detail["error"]


def test_create_followup_drafts_once_for_the_agent_to_review(tenant):
    automation = _automation(tenant, [{"type": "create_followup", "channel": "email",
                                       "instruction": "Welcome them and ask when they can view"}],
                             trigger="tag_added", tag="hot")
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Hana Yusuf", email="hana@example.test")

    lead = lead_update(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, data={"tags": ["hot"]})
    draft = FollowUp.objects.get(lead=lead)
    assert (draft.reason, draft.channel, draft.status, draft.agent) == ("automation", "email", "draft", tenant.agent)
    assert "Hana" in draft.content
    run = AutomationRun.objects.get(automation=automation)
    assert run.detail["actions"][0]["result"].startswith("Drafted a follow-up (E-mail) to send on ")

    lead = lead_update(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, data={"tags": []})
    lead_update(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, data={"tags": ["hot"]})
    assert FollowUp.objects.filter(lead=lead).count() == 1  # one open draft per lead and reason
    assert AutomationRun.objects.filter(automation=automation).first().detail["actions"][0]["result"] == (
        "The lead already has an open automation draft; no second one was added.")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL (SQLite runs one writer)")
def test_leads_arriving_together_go_to_different_agents(tenant):
    from django_scopes import scope

    others = [UserFactory(brokerage=tenant.brokerage, role=Role.AGENT) for _ in range(3)]
    _automation(tenant, [{"type": "assign_agent", "agent_id": "round_robin"}])
    start = threading.Barrier(4)
    created, failures = [], []

    def arrive(number):
        try:
            start.wait(timeout=10)
            with scope(brokerage=tenant.brokerage):  # as a request would be
                created.append(_new_lead(tenant, email=f"together{number}@example.test").pk)
        except Exception as error:  # reported below: an exception in a thread would go unseen
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=arrive, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    holders = set(Lead.objects.filter(pk__in=created).values_list("assigned_agent", flat=True))
    assert holders == {tenant.agent.pk, *(agent.pk for agent in others)}
