"""Workflow automations: building them (validated by `nurturing.automation_schema`), running them when a trigger
fires, the nightly idle sweep, and the webhook call an action queues.

A run happens inside the transaction of the event that fired it, each automation in its own savepoint: a failing
action undoes that automation's earlier actions but never the lead or the event, and the run is logged either way.
"""

import json
import logging
import uuid
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from brokerages.models import Brokerage, Role, User
from brokerages.outbound import OutboundError, post
from brokerages.services import audit_record, notify
from brokerages.values import clean_choice, clean_name

from ..automation_schema import (
    ROUND_ROBIN,
    clean_actions,
    clean_automation,
    clean_trigger_conditions,
    conditions_mismatch,
)
from ..models import OPEN_STAGES, AutomationRun, FollowUp, Lead, NurturingSequence, WorkflowAutomation, WorkflowType
from ..selectors.automations import round_robin_agents
from ..steps import merge_context, render
from . import triggers
from .followups import followup_create
from .leads import lead_assign, lead_event_data, lead_update
from .naming import name_free, save_named
from .sequences import enrollment_enrol

logger = logging.getLogger(__name__)

AUTOMATION_FIELDS = ("name", "workflow_type", "trigger_conditions", "actions", "is_active")
WEBHOOK_USER_AGENT = "AgentExcellence-Automations/1"


# --- building -------------------------------------------------------------------------------------------------------


def _clean_name(name) -> str:
    return clean_name(name, what="automation")


def _clean_type(value) -> str:
    return clean_choice(value, WorkflowType, field="workflow_type")


def _check_name_free(brokerage: Brokerage, name: str, pk: int | None) -> None:
    name_free(WorkflowAutomation, brokerage=brokerage, name=name, pk=pk, what="an automation")


def _collect(errors: dict, check, *args, **kwargs):
    """Run one check, keeping its errors with the others so that a person sees every problem at once."""
    try:
        return check(*args, **kwargs)
    except ValidationError as error:
        errors.update(error.message_dict)
        return None


def _save(automation: WorkflowAutomation) -> None:
    save_named(automation, what="an automation", exclude=["brokerage", "created_by", "last_assigned_agent"])


@transaction.atomic
def automation_create(*, brokerage: Brokerage, actor: User | None, name: str, trigger_conditions, actions,
                      workflow_type: str = WorkflowType.NURTURING, is_active: bool = True) -> WorkflowAutomation:
    """A new automation. Both JSON documents are validated against the schema (errors keyed by path, e.g.
    `actions[1].sequence_id`); a name already used in the brokerage raises ValidationError on `name`."""
    errors: dict[str, list[str]] = {}
    name = _collect(errors, _clean_name, name)
    if name:
        _collect(errors, _check_name_free, brokerage, name, None)
    workflow_type = _collect(errors, _clean_type, workflow_type)
    documents = _collect(errors, clean_automation, brokerage=brokerage, trigger_conditions=trigger_conditions,
                         actions=actions)
    if errors:
        raise ValidationError(errors)
    cleaned_trigger, cleaned_actions = documents
    automation = WorkflowAutomation(brokerage=brokerage, name=name, workflow_type=workflow_type,
                                    trigger_conditions=cleaned_trigger, actions=cleaned_actions,
                                    is_active=bool(is_active), created_by=actor if getattr(actor, "pk", None) else None)
    _save(automation)
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.automation_created", resource=automation,
                 details={"name": automation.name, "trigger": cleaned_trigger["trigger"],
                          "actions": [action["type"] for action in cleaned_actions]})
    return automation


@transaction.atomic
def automation_update(*, brokerage: Brokerage, actor: User | None, automation: WorkflowAutomation,
                      data: dict) -> WorkflowAutomation:
    """Change the fields named in `data` (others are refused). The documents given are validated against the
    schema; switching an automation on validates its stored actions too, so one whose sequence or agent has
    gone cannot come back on unnoticed."""
    unknown = set(data) - set(AUTOMATION_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown automation field." for name in sorted(unknown)})
    automation = WorkflowAutomation.objects.select_for_update().get(pk=automation.pk, brokerage=brokerage)
    values = dict(data)
    errors: dict[str, list[str]] = {}
    if "name" in values:
        values["name"] = _collect(errors, _clean_name, values["name"])
        if values["name"]:
            _collect(errors, _check_name_free, brokerage, values["name"], automation.pk)
    if "workflow_type" in values:
        values["workflow_type"] = _collect(errors, _clean_type, values["workflow_type"])
    if "is_active" in values:
        values["is_active"] = bool(values["is_active"])
    if "trigger_conditions" in values:
        values["trigger_conditions"] = _collect(errors, clean_trigger_conditions, values["trigger_conditions"])
    if "actions" in values or (values.get("is_active") and not automation.is_active):
        values["actions"] = _collect(errors, clean_actions, brokerage=brokerage,
                                     actions=values.get("actions", automation.actions))
    if errors:
        raise ValidationError(errors)
    changed = [name for name, value in values.items() if getattr(automation, name) != value]
    if not changed:
        return automation
    for name in changed:
        setattr(automation, name, values[name])
    _save(automation)
    action = "nurturing.automation_updated"
    if changed == ["is_active"]:
        action = "nurturing.automation_activated" if automation.is_active else "nurturing.automation_deactivated"
    audit_record(brokerage=brokerage, actor=actor, action=action, resource=automation,
                 details={"name": automation.name, "fields": sorted(changed)})
    return automation


def automation_set_active(*, brokerage: Brokerage, actor: User | None, automation: WorkflowAutomation,
                          is_active: bool) -> WorkflowAutomation:
    """Switch the automation on (its actions are checked again) or off (it stops running at once)."""
    return automation_update(brokerage=brokerage, actor=actor, automation=automation, data={"is_active": is_active})


# --- running --------------------------------------------------------------------------------------------------------


class _Run:
    """What one run did so far, and what it leaves for after commit."""

    def __init__(self, automation: WorkflowAutomation, lead: Lead, actor: User | None):
        self.automation, self.lead, self.actor = automation, lead, actor
        self.token = uuid.uuid4().hex
        self.results: list[dict] = []
        self.webhooks: dict[int, str] = {}  # action index -> URL, posted once the run is committed


def automations_run(*, trigger: str, lead: Lead, actor: User | None, context: dict) -> list[AutomationRun]:
    """Run the lead's brokerage's active automations listening for `trigger`, oldest first.

    Before: called inside the transaction that caused the event (`triggers.fire`). After: one AutomationRun per
    automation whose trigger applies — skipped (conditions not met, with the reason), succeeded (what each action
    did) or failed (the error; that automation's actions are undone, the lead and the event stand).
    `context` carries the trigger's details: `tag` for tag_added.
    """
    found = WorkflowAutomation.objects.filter(brokerage_id=lead.brokerage_id, is_active=True,
                                              trigger_conditions__trigger=trigger).order_by("created_at", "pk")
    runs = []
    for automation in found:
        if not _trigger_applies(automation.trigger_conditions, lead, context):
            continue
        mismatch = conditions_mismatch(automation.trigger_conditions.get("conditions", {}), lead)
        if mismatch:
            runs.append(AutomationRun.objects.create(
                brokerage_id=lead.brokerage_id, automation=automation, lead=lead, trigger=trigger,
                status=AutomationRun.Status.SKIPPED, detail={"reason": f"Conditions not met: {mismatch}."}))
            continue
        runs.append(_run(automation, lead, trigger=trigger, actor=actor))
    return runs


def _trigger_applies(trigger_conditions: dict, lead: Lead, context: dict) -> bool:
    trigger = trigger_conditions["trigger"]
    if trigger == triggers.TAG_ADDED:
        return context.get("tag") == trigger_conditions.get("tag")
    if trigger == triggers.STAGE_CHANGED:
        return trigger_conditions.get("to_stage") in (None, lead.stage)
    if trigger == triggers.IDLE:
        last_touch = lead.last_contacted_at or lead.created_at
        return timezone.now() - last_touch >= timedelta(days=trigger_conditions["idle_days"])
    return True


def _run(automation: WorkflowAutomation, lead: Lead, *, trigger: str, actor: User | None) -> AutomationRun:
    run = _Run(automation, lead, actor)
    index = 0
    try:
        with transaction.atomic():
            for index, action in enumerate(automation.actions):
                result = _ACTIONS[action["type"]](run, action, index)
                run.results.append({"type": action["type"], "result": result})
    except Exception as error:  # any failure is the run's outcome, never the event's
        if not isinstance(error, ValidationError):
            logger.exception("Automation %s failed on lead %s", automation.pk, lead.pk)
        detail = {"actions": run.results, "failed_action": index,
                  "error": f"{automation.actions[index]['type']}: {_error_text(error)}"}
        if run.results:
            detail["undone"] = "The actions before the failing one were undone."
        return AutomationRun.objects.create(brokerage_id=lead.brokerage_id, automation=automation, lead=lead,
                                            trigger=trigger, status=AutomationRun.Status.FAILED, detail=detail)
    for action_index, url in run.webhooks.items():
        run.results[action_index]["url"] = url
    logged = AutomationRun.objects.create(brokerage_id=lead.brokerage_id, automation=automation, lead=lead,
                                          trigger=trigger, status=AutomationRun.Status.SUCCEEDED,
                                          detail={"actions": run.results})
    if run.webhooks:
        from ..tasks.automations import automation_webhook_call

        for action_index in run.webhooks:
            automation_webhook_call.delay_on_commit(run_id=logged.pk, action_index=action_index)
    return logged


def _error_text(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error) or type(error).__name__


def _enrol(run: _Run, action: dict, index: int) -> str:
    sequence = NurturingSequence.objects.filter(brokerage_id=run.lead.brokerage_id, pk=action["sequence_id"]).first()
    if sequence is None:
        raise ValidationError("the sequence was deleted; pick another one.")
    enrollment = enrollment_enrol(brokerage=run.lead.brokerage, actor=run.actor, lead=run.lead, sequence=sequence)
    return f"Enrolled in “{sequence.name}” ({enrollment.get_status_display().lower()})."


def _assign(run: _Run, action: dict, index: int) -> str:
    lead = run.lead
    if action["agent_id"] == ROUND_ROBIN:
        lead = Lead.objects.select_related("assigned_agent").get(pk=lead.pk)
        if lead.assigned_agent is not None:
            return f"Already held by {lead.assigned_agent.display_name}; round robin skipped it."
        agent = _next_round_robin_agent(run.automation)
        how = " (round robin)"
    else:
        agent = User.objects.filter(brokerage_id=lead.brokerage_id, pk=action["agent_id"]).first()
        if agent is None:
            raise ValidationError("that agent is no longer in the brokerage.")
        how = ""
    run.lead = lead_assign(brokerage=lead.brokerage, actor=run.actor, lead=lead, agent=agent)
    return f"Assigned to {agent.display_name}{how}."


def _next_round_robin_agent(automation: WorkflowAutomation) -> User:
    """The active agent after the last one this automation gave a lead to (by id, wrapping round). The
    automation's row is locked so that two leads arriving together go to two agents."""
    locked = WorkflowAutomation.objects.select_for_update().get(pk=automation.pk)
    agents = round_robin_agents(automation.brokerage_id)
    agent = None
    if locked.last_assigned_agent_id is not None:
        agent = agents.filter(pk__gt=locked.last_assigned_agent_id).first()
    agent = agent or agents.first()
    if agent is None:
        raise ValidationError("the brokerage has no active agent to share leads between.")
    WorkflowAutomation.objects.filter(pk=automation.pk).update(last_assigned_agent=agent)
    return agent


def _add_tag(run: _Run, action: dict, index: int) -> str:
    if action["tag"] in run.lead.tags:
        return f"Already tagged “{action['tag']}”."
    run.lead = lead_update(brokerage=run.lead.brokerage, actor=run.actor, lead=run.lead,
                           data={"tags": [*run.lead.tags, action["tag"]]})
    return f"Tagged “{action['tag']}”."


def _notify(run: _Run, action: dict, index: int) -> str:
    lead = Lead.objects.select_related("assigned_agent", "brokerage").get(pk=run.lead.pk)
    if action["recipient"] == "assigned_agent":
        recipients = [lead.assigned_agent] if lead.assigned_agent and lead.assigned_agent.is_active else []
    else:
        recipients = list(User.objects.filter(brokerage_id=lead.brokerage_id, role=Role.BROKERAGE_OWNER,
                                               is_active=True))
    if not recipients:
        return "Nobody to notify: the lead has no agent yet." if action["recipient"] == "assigned_agent" \
            else "Nobody to notify: the brokerage has no active owner."
    message = render(action["message"], merge_context(lead))
    for recipient in recipients:
        notify(brokerage=lead.brokerage, recipient=recipient, kind="automation", message=message,
               key=f"automation-{run.token}-{index}", url=reverse("nurturing:lead", kwargs={"pk": lead.pk}))
    return "Notified " + ", ".join(recipient.display_name for recipient in recipients) + "."


def _create_followup(run: _Run, action: dict, index: int) -> str:
    followup = followup_create(brokerage=run.lead.brokerage, actor=run.actor, lead=run.lead,
                               reason=FollowUp.Reason.AUTOMATION, channel=action["channel"],
                               instruction=action["instruction"])
    if followup is None:
        return "The lead already has an open automation draft; no second one was added."
    return f"Drafted a follow-up ({followup.get_channel_display()}) to send on {followup.suggested_send_date:%d %b %Y}."


def _call_webhook(run: _Run, action: dict, index: int) -> str:
    run.webhooks[index] = action["url"]
    return f"POST to {action['url']} queued."


_ACTIONS = {
    "enrol_in_sequence": _enrol,
    "assign_agent": _assign,
    "add_tag": _add_tag,
    "notify": _notify,
    "create_followup": _create_followup,
    "call_webhook": _call_webhook,
}


def automations_idle_sweep(*, brokerage: Brokerage, now: datetime) -> int:
    """Run every active idle automation of the brokerage on its open leads whose last touch (last contact, or
    creation for a lead never contacted) is at least `idle_days` old and that meet its conditions.

    Each lead is run once per idle period: a run of the automation on the lead since its last touch (any
    status) means it is not run again until the lead is touched and goes idle anew. Queries: one per automation
    plus the runs' own. Returns how many runs were made. Call it inside the brokerage's scope.
    """
    count = 0
    found = WorkflowAutomation.objects.filter(brokerage=brokerage, is_active=True,
                                              trigger_conditions__trigger=triggers.IDLE).order_by("created_at", "pk")
    for automation in found:
        conditions = automation.trigger_conditions.get("conditions", {})
        cutoff = now - timedelta(days=automation.trigger_conditions["idle_days"])
        already = AutomationRun.objects.filter(automation=automation, lead=OuterRef("pk"),
                                               created_at__gte=OuterRef("last_touch"))
        idle = Lead.objects.filter(brokerage=brokerage, stage__in=OPEN_STAGES).annotate(
            last_touch=Coalesce("last_contacted_at", "created_at")).filter(last_touch__lte=cutoff).filter(
            _database_conditions(conditions)).exclude(Exists(already)).select_related("brokerage").order_by("pk")
        for lead in idle:
            if conditions_mismatch(conditions, lead):
                continue  # area and tag conditions are matched here; a non-match is not an idle event
            with transaction.atomic():
                _run(automation, lead, trigger=triggers.IDLE, actor=None)
            count += 1
    return count


def _database_conditions(conditions: dict) -> Q:
    """The conditions a database filter can carry as well on SQLite as on PostgreSQL (the rest in Python)."""
    query = Q()
    if conditions.get("source"):
        query &= Q(source__in=conditions["source"])
    if conditions.get("stage"):
        query &= Q(stage__in=conditions["stage"])
    if conditions.get("budget_min") is not None or conditions.get("budget_max") is not None:
        query &= Q(budget_min__isnull=False) | Q(budget_max__isnull=False)
    if conditions.get("budget_max") is not None:
        query &= Q(budget_min__isnull=True) | Q(budget_min__lte=conditions["budget_max"])
    if conditions.get("budget_min") is not None:
        query &= Q(budget_max__isnull=True) | Q(budget_max__gte=conditions["budget_min"])
    return query


# --- the webhook action ---------------------------------------------------------------------------------------------


def automation_webhook_deliver(*, run_id: int, action_index: int) -> bool:
    """POST the lead of a succeeded run to the URL of its `call_webhook` action and record the outcome.

    Before: the run exists and its action `action_index` was queued (not yet delivered). After: the action's
    entry in the run's detail says what the receiver answered; a refused or failed call marks the run failed
    (its other actions stand). A run already delivered is left alone, so a retried task posts once.
    Returns whether the receiver accepted the call.
    """
    run = AutomationRun.objects.select_related("automation", "lead", "lead__assigned_agent").get(pk=run_id)
    entry = run.detail["actions"][action_index]
    if "delivered" in entry:
        return bool(entry["delivered"])
    url = entry["url"]
    try:
        if run.lead is None:
            raise OutboundError("the lead was deleted before the call was made")
        answer = post(url, json.dumps(_webhook_payload(run), cls=DjangoJSONEncoder).encode(),
                      headers={"User-Agent": WEBHOOK_USER_AGENT}).raise_for_status()
    except OutboundError as error:
        delivered, outcome = False, f"POST to {url} failed: {error}."
    else:
        delivered, outcome = True, f"POST to {url} answered {answer.status}."
    with transaction.atomic():
        run = AutomationRun.objects.select_for_update().get(pk=run_id)
        run.detail["actions"][action_index].update({"result": outcome, "delivered": delivered})
        if not delivered:
            run.status = AutomationRun.Status.FAILED
            run.detail.update({"failed_action": action_index, "error": f"call_webhook: {outcome}"})
        run.save(update_fields=["detail", "status"])
    return delivered


def _webhook_payload(run: AutomationRun) -> dict:
    return {"event": run.trigger, "automation": {"id": run.automation_id, "name": run.automation.name},
            "run_id": run.pk, "lead": lead_event_data(run.lead)}
