"""Writes for training: a brokerage's own modules, agents' training plans and the progress through them.

A plan is made from an agent's performance profile by the training engine (`coaching.training_engine`, local or
model-backed per the brokerage's AI provider) and supersedes the agent's previous active plan; the database keeps
one active plan per agent. Moving a plan item changes the agent's profile (modules completed), so it invalidates
the cached profile and refreshes the plan's current metrics.
"""

import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from brokerages.models import Brokerage, User
from brokerages.selectors import setting_value
from brokerages.services import audit_record
from copilot.llm import provider_name_for

from ..models import Area, SkillLevel, TrainingModule, TrainingPlan, TrainingPlanItem
from ..selectors.performance import AgentPerformance, agent_performance, performance_invalidate
from ..selectors.training import WINDOW_KEY, modules_for, plan_metrics
from ..training_engine import ModuleOption, NoSkillGaps, PlanRequest, plan_training

MODULE_FIELDS = ("key", "area", "level", "title", "description", "duration_minutes", "topics",
                 "practice_scenarios")
MAX_MODULE_MINUTES = 480
MAX_TOPICS = 12
MAX_SCENARIOS = 12
MAX_PLAN_DAYS = 365
# Forward moves only: a module is started, then completed (or completed straight away).
STATUS_ORDER = (TrainingPlanItem.Status.NOT_STARTED, TrainingPlanItem.Status.IN_PROGRESS,
                TrainingPlanItem.Status.COMPLETED)


# --- modules --------------------------------------------------------------------------------------------------

def _text_list(value, *, field: str, what: str, max_items: int, max_length: int, required: bool) -> list[str]:
    """A list of short texts given as a list or as text with one per line."""
    if value is None or value == "":
        value = []
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        raise ValidationError({field: f"Give the {what} as a list, or as text with one per line."})
    cleaned = []
    for item in value:
        text = " ".join(str(item).split())
        if len(text) > max_length:
            raise ValidationError({field: f"Keep each of the {what} under {max_length} characters."})
        if text and text not in cleaned:
            cleaned.append(text)
    if required and not cleaned:
        raise ValidationError({field: f"List at least one of the {what}."})
    if len(cleaned) > max_items:
        raise ValidationError({field: f"List at most {max_items} {what}."})
    return cleaned


def _duration(value) -> int:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({"duration_minutes": "Give the duration as a whole number of minutes."}) from None
    if isinstance(value, bool) or not 1 <= minutes <= MAX_MODULE_MINUTES:
        raise ValidationError({"duration_minutes": f"The duration must be from 1 to {MAX_MODULE_MINUTES} minutes."})
    return minutes


def _module_key(brokerage: Brokerage, raw, title: str) -> str:
    key = slugify(str(raw or "").strip() or title).replace("-", "_")[:80]
    if not key:
        raise ValidationError({"key": "Give the module a key of letters, digits and underscores."})
    if TrainingModule.objects.filter(brokerage__isnull=True, key=key).exists():
        raise ValidationError({"key": f"“{key}” is the key of a library module; choose another."})
    if TrainingModule.objects.filter(brokerage=brokerage, key=key).exists():
        raise ValidationError({"key": f"Your brokerage already has a module with the key “{key}”."})
    return key


@transaction.atomic
def training_module_create(*, brokerage: Brokerage, actor: User | None, data: dict) -> TrainingModule:
    """A module of the brokerage's own, visible to it alone, next to the library's.

    `data` holds MODULE_FIELDS: title, area (an Area value), level (a SkillLevel value), duration_minutes
    (1–480) and at least one topic are required; the key defaults to the title slugified and must differ from
    every library key and the brokerage's other modules. Raises ValidationError per field.
    """
    unknown = set(data) - set(MODULE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown module field." for name in sorted(unknown)})
    title = " ".join(str(data.get("title") or "").split())
    if not title:
        raise ValidationError({"title": "Give the module a title."})
    if len(title) > 200:
        raise ValidationError({"title": "Keep the title under 200 characters."})
    area, level = data.get("area"), data.get("level")
    if area not in Area.values:
        raise ValidationError({"area": f"Area must be one of {', '.join(Area.values)}."})
    if level not in SkillLevel.values:
        raise ValidationError({"level": f"Level must be one of {', '.join(SkillLevel.values)}."})
    description = str(data.get("description") or "").strip()
    if len(description) > 2000:
        raise ValidationError({"description": "Keep the description under 2,000 characters."})
    module = TrainingModule(
        brokerage=brokerage, key=_module_key(brokerage, data.get("key"), title), area=area, level=level,
        title=title, description=description, duration_minutes=_duration(data.get("duration_minutes")),
        topics=_text_list(data.get("topics"), field="topics", what="topics", max_items=MAX_TOPICS, max_length=200,
                          required=True),
        practice_scenarios=_text_list(data.get("practice_scenarios"), field="practice_scenarios",
                                      what="practice scenarios", max_items=MAX_SCENARIOS, max_length=600,
                                      required=False))
    # The lists were cleaned above; full_clean would call an empty scenario list "blank".
    module.full_clean(exclude=["brokerage", "topics", "practice_scenarios"], validate_constraints=False)
    try:
        with transaction.atomic():
            module.save()
    except IntegrityError:  # a concurrent create took the key between the check and the insert
        raise ValidationError({"key": f"Your brokerage already has a module with the key “{module.key}”."}) from None
    audit_record(brokerage=brokerage, actor=actor, action="coaching.training_module_created", resource=module,
                 details={"key": module.key, "area": area, "level": level, "minutes": module.duration_minutes})
    return module


# --- plans ----------------------------------------------------------------------------------------------------

def _plan_request(brokerage: Brokerage, agent: User, profile: AgentPerformance, days: int) -> PlanRequest:
    modules = tuple(ModuleOption(module.key, module.area, module.level, module.title, module.duration_minutes,
                                 tuple(str(topic) for topic in module.topics), own=module.brokerage_id is not None)
                    for module in modules_for(brokerage))
    completed = frozenset(TrainingPlanItem.objects.filter(
        brokerage=brokerage, plan__agent=agent, status=TrainingPlanItem.Status.COMPLETED)
        .values_list("module__key", flat=True))
    weekly = setting_value(brokerage, "training_minutes_per_week")
    return PlanRequest(profile=profile, agent_name=agent.display_name, modules=modules, completed_keys=completed,
                       budget_minutes=round(weekly * days / 7), days=days)


def _today(brokerage: Brokerage, now: dt.datetime) -> dt.date:
    return now.astimezone(zoneinfo.ZoneInfo(setting_value(brokerage, "timezone"))).date()


def generate_training_plan(*, brokerage: Brokerage, actor: User | None, agent_performance: AgentPerformance,
                           target_completion_days: int = 30) -> TrainingPlan:
    """A new active plan for the profile's agent, made by the brokerage's engine, superseding their previous
    active plan.

    The engine runs before the transaction (a model call must not hold database locks). Raises ValidationError
    when the agent is not the brokerage's, the days are outside 1–365, or the profile gives no skill gap to plan
    from. The plan's baseline metrics are the profile's figures; every item says why it was picked.
    """
    profile = agent_performance
    if isinstance(target_completion_days, bool) or not isinstance(target_completion_days, int) or \
            not 1 <= target_completion_days <= MAX_PLAN_DAYS:
        raise ValidationError({"target_completion_days": f"Give a number of days from 1 to {MAX_PLAN_DAYS}."})
    agent = User.objects.filter(pk=profile.agent_id, brokerage=brokerage).first()
    if agent is None or profile.tenant_id != brokerage.pk:
        raise ValidationError({"agent": "This agent is not a member of your brokerage."})
    request = _plan_request(brokerage, agent, profile, target_completion_days)
    try:
        proposal = plan_training(request, engine=provider_name_for(brokerage))
    except NoSkillGaps as error:
        raise ValidationError(f"No training plan for {agent.display_name}: {error}") from None
    modules = {module.key: module for module in modules_for(brokerage).filter(
        key__in=[planned.key for planned in proposal.modules])}
    now = timezone.now()
    try:
        with transaction.atomic():
            superseded = list(TrainingPlan.objects.select_for_update().filter(
                brokerage=brokerage, agent=agent, status=TrainingPlan.Status.ACTIVE).values_list("pk", flat=True))
            TrainingPlan.objects.filter(pk__in=superseded).update(status=TrainingPlan.Status.SUPERSEDED)
            baseline = plan_metrics(profile) | {WINDOW_KEY: profile.days_lookback}
            plan = TrainingPlan.objects.create(
                brokerage=brokerage, agent=agent, created_by=actor if getattr(actor, "pk", None) else None,
                created_at=now, target_completion_date=_today(brokerage, now) + dt.timedelta(
                    days=target_completion_days),
                priority_skills=list(proposal.priority_skills), improvement_goals=list(proposal.improvement_goals),
                target_quality_score=proposal.target_quality_score,
                target_conversion_rate=proposal.target_conversion_rate,
                target_expertise_level=proposal.target_expertise_level, baseline_metrics=baseline,
                current_metrics=plan_metrics(profile), rationale=proposal.rationale, engine=proposal.engine,
                degraded=proposal.degraded)
            TrainingPlanItem.objects.bulk_create(
                TrainingPlanItem(brokerage=brokerage, plan=plan, module=modules[planned.key], position=position,
                                 reason=planned.reason)
                for position, planned in enumerate(proposal.modules, start=1))
            audit_record(brokerage=brokerage, actor=actor, action="coaching.training_plan_created", resource=plan,
                         details={"agent_id": agent.pk, "modules": [planned.key for planned in proposal.modules],
                                  "engine": proposal.engine, "degraded": proposal.degraded,
                                  "degraded_reason": proposal.degraded_reason, "superseded": superseded})
    except IntegrityError:  # another plan for the agent was made at the same moment
        raise ValidationError(f"A training plan for {agent.display_name} was created at the same moment; "
                              "reload to see it.") from None
    return plan


@transaction.atomic
def plan_item_set_status(*, brokerage: Brokerage, actor: User | None, item: TrainingPlanItem,
                         status: str) -> TrainingPlanItem:
    """Move a module of an active plan forward: not started → in progress → completed (or straight to completed),
    stamping when it started and finished. Completing the last module completes the plan. The agent's cached
    profile is invalidated and the plan's current metrics refreshed. Setting the status it already has changes
    nothing; moving back, or touching a superseded or completed plan, raises ValidationError."""
    if status not in TrainingPlanItem.Status.values:
        raise ValidationError({"status": f"Status must be one of {', '.join(TrainingPlanItem.Status.values)}."})
    item = TrainingPlanItem.objects.select_for_update().select_related("plan", "plan__agent", "module").get(
        pk=item.pk, brokerage=brokerage)
    plan = item.plan
    if item.status == status:
        return item
    if plan.status != TrainingPlan.Status.ACTIVE:
        raise ValidationError(f"This plan is {plan.get_status_display().lower()}; only the active plan's modules "
                              "can be updated.")
    if STATUS_ORDER.index(status) < STATUS_ORDER.index(item.status):
        raise ValidationError({"status": f"“{item.module.title}” is already "
                                         f"{item.get_status_display().lower()}; it cannot go back."})
    previous, now = item.status, timezone.now()
    item.status = status
    item.started_at = item.started_at or now
    if status == TrainingPlanItem.Status.COMPLETED:
        item.completed_at = now
    item.save(update_fields=["status", "started_at", "completed_at"])
    performance_invalidate(agent=plan.agent)
    plan_completed = not TrainingPlanItem.objects.filter(plan=plan).exclude(
        status=TrainingPlanItem.Status.COMPLETED).exists()
    window = int(plan.baseline_metrics.get(WINDOW_KEY, 30))
    plan.current_metrics = plan_metrics(agent_performance(brokerage=brokerage, agent=plan.agent,
                                                          days_lookback=window))
    fields = ["current_metrics"]
    if plan_completed:
        plan.status = TrainingPlan.Status.COMPLETED
        fields.append("status")
    plan.save(update_fields=fields)
    audit_record(brokerage=brokerage, actor=actor, action="coaching.plan_item_status_changed", resource=item,
                 details={"plan_id": plan.pk, "module": item.module.key, "from": previous, "to": status,
                          "plan_completed": plan_completed})
    return item
