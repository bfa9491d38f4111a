"""Managers' coaching pages: the team overview (quality, trend, session state; start and stop sessions), live
escalations, one agent's drill-down (profile, conversations, plan; generate a plan for them) and the coaching
metrics with every formula and assumption shown."""

import datetime as dt
from decimal import Decimal

from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.selectors import setting_value
from brokerages.settings_registry import get_spec

from ..forms import LookbackForm, MetricsPeriodForm
from ..models import Intensity
from ..realtime import tray_escalations
from ..selectors import conversations as conversation_selectors
from ..selectors.metrics import coaching_metrics
from ..selectors.performance import team_performance_overview
from ..selectors.sessions import coached_agent_get, running_sessions_by_agent
from .common import coaching_view, label
from .performance import plan_context, plan_generate_for, profile_context
from .sessions import session_card_context

RECENT_CONVERSATIONS = 20
RECENT_ESCALATIONS = 50

# The metrics page, in order: (field, label, kind). Kinds say how a value reads: "percent" is already 0–100,
# "rate" a fraction shown as a percentage, "points" a fraction shown in percentage points, "delta" a change in
# quality points.
METRIC_ROWS = (
    ("Business impact", (
        ("training_time_reduction_percentage", "Training time reduction", "percent"),
        ("agent_productivity_increase_percentage", "Agent productivity increase", "percent"),
        ("conversion_rate_improvement", "Conversion rate improvement", "points"),
        ("average_quality_score_improvement", "Average quality score improvement", "delta"),
    )),
    ("Coaching activity", (
        ("total_coaching_sessions", "Coaching sessions", "count"),
        ("total_coaching_alerts", "Coaching alerts", "count"),
        ("total_real_time_interventions", "Real-time interventions", "count"),
        ("average_session_duration_minutes", "Average session duration", "minutes"),
    )),
    ("Effectiveness", (
        ("coaching_adherence_rate", "Coaching adherence", "rate"),
        ("training_completion_rate", "Training completion", "rate"),
        ("performance_improvement_rate", "Agents improving", "rate"),
        ("agent_satisfaction_score", "Agent satisfaction", "score"),
    )),
    ("Return on investment", (
        ("conversations_analysed", "Conversations analysed", "count"),
        ("review_hours_saved", "Review hours saved", "hours"),
        ("value_in_period", "Value in the period", "money"),
        ("cost_in_period", "Cost in the period", "money"),
        ("estimated_annual_value", "Estimated annual value", "money"),
        ("cost_per_coaching_session", "Cost per coaching session", "money"),
        ("roi_percentage", "ROI", "percent"),
    )),
)


def _shown(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "count":
        return f"{value:,}"
    if kind == "money":
        return f"AED {Decimal(value):,.2f}"
    if kind == "percent":
        return f"{value:,.1f}%"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "points":
        return f"{value * 100:+.1f} pp"
    if kind == "delta":
        return f"{value:+.1f} points"
    if kind == "score":
        return f"{value:.1f}"
    if kind == "minutes":
        return f"{value:,.0f} min"
    return f"{value:,.1f} h"


@coaching_view("manage_coaching")
def team(request):
    brokerage = request.brokerage
    form = LookbackForm(request.GET or None)
    days = form.days_lookback()
    running = running_sessions_by_agent(brokerage)
    rows = [(row, running.get(row.agent.pk), [label(area) for area in row.performance.skill_gaps[:2]])
            for row in team_performance_overview(brokerage=brokerage, days_lookback=days)]
    context = {"form": form, "days": days, "rows": rows, "intensities": Intensity.choices,
               "default_intensity": setting_value(brokerage, "default_coaching_intensity")}
    return render(request, "coaching/team.html", context)


@coaching_view("manage_coaching")
def escalations(request):
    brokerage = request.brokerage
    recent = conversation_selectors.alerts(brokerage, request.user, request_perms(request), escalated=True)
    context = {"escalations": tray_escalations(brokerage=brokerage), "recent": recent[:RECENT_ESCALATIONS]}
    return render(request, "coaching/escalations.html", context)


@coaching_view("manage_coaching", lookup=coached_agent_get)
def agent_detail(request, obj):
    form = LookbackForm(request.GET or None)
    days = form.days_lookback()
    conversations = conversation_selectors.conversations(request.brokerage, request.user, request_perms(request),
                                                         agent_id=obj.pk)[:RECENT_CONVERSATIONS]
    context = {"subject": obj, "form": form, "days": days, "conversations": conversations,
               **profile_context(request.brokerage, obj, days),
               **plan_context(request.brokerage, obj, reverse("coaching:agent_training_generate", args=[obj.pk])),
               **session_card_context(request, obj)}
    return render(request, "coaching/agent_detail.html", context)


@require_POST
@coaching_view("manage_coaching", lookup=coached_agent_get)
def agent_training_generate(request, obj):
    plan_generate_for(request, obj)
    return redirect("coaching:agent", pk=obj.pk)


@coaching_view("view_team_performance")
def metrics(request):
    brokerage = request.brokerage
    form = MetricsPeriodForm(request.GET or None)
    start, end = form.period(setting_value(brokerage, "timezone"))
    figures = coaching_metrics(brokerage=brokerage, start=start, end=end)
    sections = [(title, [{"name": name, "label": label, "value": _shown(getattr(figures, name), kind),
                          "formula": figures.formulas.get(name, ""), "reason": figures.reasons.get(name, "")}
                         for name, label, kind in rows]) for title, rows in METRIC_ROWS]
    assumptions = [(get_spec(key).label, value) for key, value in figures.assumptions.items()]
    context = {"form": form, "metrics": figures, "sections": sections, "assumptions": assumptions,
               "start": start, "last_day": (end - dt.timedelta(days=1)).date(),
               "can_change_settings": "manage_brokerage" in request_perms(request)}
    return render(request, "coaching/metrics.html", context, status=400 if form.errors else 200)


urlpatterns = [
    path("coaching/team/", team, name="team"),
    path("coaching/team/escalations/", escalations, name="escalations"),
    path("coaching/team/agents/<int:pk>/", agent_detail, name="agent"),
    path("coaching/team/agents/<int:pk>/training/generate/", agent_training_generate, name="agent_training_generate"),
    path("coaching/metrics/", metrics, name="metrics"),
]
