"""Reads of the training library and of agents' training plans. Each takes the tenant explicitly."""

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User

from ..models import TrainingModule, TrainingPlan, TrainingPlanItem
from ..permissions import visible_to
from .performance import AgentPerformance, agent_performance

# Baseline and current metrics of a plan: these profile figures, plus the quality score of each area.
PLAN_METRICS = ("overall_quality_score", "conversion_rate", "objection_resolution_rate",
                "appointment_scheduling_rate")
# Stored with the baseline so progress is measured over the same window the plan was made from.
WINDOW_KEY = "days_lookback"


def modules_for(brokerage: Brokerage, *, include_inactive: bool = False) -> QuerySet[TrainingModule]:
    """The library's modules and the brokerage's own (never another brokerage's), by area and level."""
    modules = TrainingModule.objects.filter(Q(brokerage__isnull=True) | Q(brokerage=brokerage))
    if not include_inactive:
        modules = modules.filter(is_active=True)
    return modules


def module_get(brokerage: Brokerage, pk: int) -> TrainingModule:
    return get_object_or_404(modules_for(brokerage, include_inactive=True), pk=pk)


def _with_items(plans: QuerySet[TrainingPlan]) -> QuerySet[TrainingPlan]:
    return plans.select_related("brokerage", "agent", "created_by").prefetch_related(
        Prefetch("items", queryset=TrainingPlanItem.objects.select_related("module").order_by("position")))


def active_plan(*, brokerage: Brokerage, agent: User) -> TrainingPlan | None:
    """The agent's active plan with its items and modules, or None."""
    return _with_items(TrainingPlan.objects.filter(brokerage=brokerage, agent=agent,
                                                   status=TrainingPlan.Status.ACTIVE)).first()


def plans_of(*, brokerage: Brokerage, agent: User) -> QuerySet[TrainingPlan]:
    """Every plan of the agent, newest first (superseded and completed ones included)."""
    return _with_items(TrainingPlan.objects.filter(brokerage=brokerage, agent=agent))


def plans(brokerage: Brokerage, user: User, perms: frozenset[str], *, agent_id: int | None = None,
          status: str = "") -> QuerySet[TrainingPlan]:
    """The plans the user may see (their own, or every agent's for managers), newest first."""
    found = visible_to(user, perms, TrainingPlan.objects.filter(brokerage=brokerage))
    if agent_id:
        found = found.filter(agent_id=agent_id)
    if status:
        found = found.filter(status=status)
    return _with_items(found).order_by("-created_at", "-pk")


def plan_get(brokerage: Brokerage, pk: int) -> TrainingPlan:
    return get_object_or_404(_with_items(TrainingPlan.objects.filter(brokerage=brokerage)), pk=pk)


def plan_item_get(brokerage: Brokerage, pk: int) -> TrainingPlanItem:
    return get_object_or_404(TrainingPlanItem.objects.select_related("plan", "module", "plan__agent"),
                             brokerage=brokerage, pk=pk)


def plan_metrics(profile: AgentPerformance) -> dict[str, float]:
    """The figures a plan tracks, flat: PLAN_METRICS and each area's quality score (keyed by area). Figures
    without data are left out rather than stored as zero."""
    metrics = {name: getattr(profile, name) for name in PLAN_METRICS}
    metrics.update(profile.quality_scores_by_area)
    return {name: value for name, value in metrics.items() if value is not None}


def plan_progress(plan: TrainingPlan) -> dict:
    """Where the plan stands: module keys by status, completion, minutes, and its effectiveness so far —
    `current_metrics` from the agent's fresh profile over the plan's window and `improvement_metrics`
    (current − baseline, for figures known at both times)."""
    items = list(plan.items.all())
    by_status = {status: [item.module.key for item in items if item.status == status]
                 for status in TrainingPlanItem.Status.values}
    completed = by_status[TrainingPlanItem.Status.COMPLETED]
    window = int(plan.baseline_metrics.get(WINDOW_KEY, 30))
    current = plan_metrics(agent_performance(brokerage=plan.brokerage, agent=plan.agent, days_lookback=window))
    baseline = {name: value for name, value in plan.baseline_metrics.items() if name != WINDOW_KEY}
    improvement = {name: round(current[name] - value, 4 if "rate" in name else 1)
                   for name, value in baseline.items() if name in current}
    return {
        "completed_modules": completed,
        "in_progress_modules": by_status[TrainingPlanItem.Status.IN_PROGRESS],
        "not_started_modules": by_status[TrainingPlanItem.Status.NOT_STARTED],
        "completion_percentage": round(len(completed) / len(items) * 100, 1) if items else 0.0,
        "minutes_total": sum(item.module.duration_minutes for item in items),
        "minutes_completed": sum(item.module.duration_minutes for item in items
                                 if item.status == TrainingPlanItem.Status.COMPLETED),
        "baseline_metrics": baseline,
        "current_metrics": current,
        "improvement_metrics": improvement,
    }
