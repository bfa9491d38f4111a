"""The agent's own development pages: "My performance" (the profile: quality by area, trend, strengths,
weaknesses, skill gaps, peer percentile) and "My training plan" (modules with their status, progress, baseline
against current, generating a new plan). Managers reach the same for any agent from the team pages."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from ..forms import LookbackForm, PlanGenerateForm, PlanItemStatusForm
from ..permissions import can_update_plan_item
from ..selectors.performance import agent_performance
from ..selectors.training import active_plan, plan_item_get, plan_progress
from ..services.training import generate_training_plan, plan_item_set_status
from .common import back, coaching_view, fragment, label, profile_bars

ITEM = "coaching/partials/plan_item.html"


def profile_context(brokerage, agent, days: int) -> dict:
    profile = agent_performance(brokerage=brokerage, agent=agent, days_lookback=days)
    return {
        "profile": profile,
        "areas": profile_bars(profile.quality_scores_by_area, profile.team_quality_scores_by_area),
        "expertise": profile_bars(profile.expertise_scores_by_area),
        "strengths": [label(area) for area in profile.strengths],
        "weaknesses": [label(area) for area in profile.weaknesses],
        "improvement_areas": [label(area) for area in profile.improvement_areas],
        "skill_gaps": [{"label": label(gap.area), "gap": gap} for gap in profile.skill_gap_details],
        "series": [{"day": point["at"][:10], "score": point["score"]} for point in profile.quality_series],
    }


def plan_context(brokerage, agent, generate_url: str) -> dict:
    plan = active_plan(brokerage=brokerage, agent=agent)
    progress = plan_progress(plan) if plan is not None else None
    metrics = []
    if progress is not None:
        for name in sorted(set(progress["baseline_metrics"]) | set(progress["current_metrics"])):
            metrics.append({"label": label(name), "rate": name.endswith("_rate"),
                            "baseline": progress["baseline_metrics"].get(name),
                            "current": progress["current_metrics"].get(name),
                            "change": progress["improvement_metrics"].get(name)})
    return {"plan": plan, "progress": progress, "plan_metrics": metrics, "plan_agent": agent,
            "priority_skills": [label(skill) for skill in plan.priority_skills] if plan else [],
            "generate_form": PlanGenerateForm(), "generate_url": generate_url}


@coaching_view("use_coaching")
def my_performance(request):
    form = LookbackForm(request.GET or None)
    days = form.days_lookback()
    context = {"form": form, "days": days, "subject": request.user,
               **profile_context(request.brokerage, request.user, days)}
    return render(request, "coaching/performance.html", context)


@coaching_view("use_coaching")
def my_training(request):
    return render(request, "coaching/training.html",
                  plan_context(request.brokerage, request.user, reverse("coaching:training_generate")))


def plan_generate_for(request, agent):
    """Generate a plan for `agent` from their 30-day profile; errors (no skill gap yet, bad days) are shown."""
    form = PlanGenerateForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            messages.error(request, " ".join(errors))
        return None
    try:
        plan = generate_training_plan(
            brokerage=request.brokerage, actor=request.user,
            agent_performance=agent_performance(brokerage=request.brokerage, agent=agent, days_lookback=30),
            target_completion_days=form.cleaned_data["target_completion_days"])
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return None
    messages.success(request, f"New training plan for {agent.display_name}: {plan.items.count()} modules by "
                              f"{plan.target_completion_date:%d %b %Y}.")
    return plan


@require_POST
@coaching_view("use_coaching")
def my_training_generate(request):
    plan_generate_for(request, request.user)
    return redirect("coaching:training")


@require_POST
@coaching_view(lookup=plan_item_get, allow=can_update_plan_item)
def plan_item_status(request, obj):
    form = PlanItemStatusForm(request.POST)
    error = ""
    item = obj
    if form.is_valid():
        try:
            item = plan_item_set_status(brokerage=request.brokerage, actor=request.user, item=obj,
                                        status=form.cleaned_data["status"])
        except ValidationError as problem:
            error = " ".join(problem.messages)
    else:
        error = " ".join(error for errors in form.errors.values() for error in errors)
    if fragment(request):
        return render(request, ITEM, {"item": item, "plan": item.plan, "error": error})
    if error:
        messages.error(request, error)
    if item.plan.agent_id == request.user.pk:
        return back(request, "coaching:training")
    return back(request, "coaching:agent", pk=item.plan.agent_id)


urlpatterns = [
    path("coaching/performance/", my_performance, name="performance"),
    path("coaching/training/", my_training, name="training"),
    path("coaching/training/generate/", my_training_generate, name="training_generate"),
    path("coaching/training/items/<int:pk>/status/", plan_item_status, name="plan_item_status"),
]
