"""Coaching effectiveness: quality before and after coaching, coached agents against the rest, and the coaching
metrics with their formulas."""

from django.shortcuts import render
from django.urls import path

from ..charts import Series, line_chart
from ..selectors.coaching import FORMULAS, coaching_effect
from ..trends import step_label
from .common import analytics_view, csv_response, filter_form


@analytics_view()
def coaching(request):
    form = filter_form(request, with_agent=False)
    period, _ = form.resolved()
    effect = coaching_effect(brokerage=request.brokerage, period=period)
    if request.GET.get("export") == "sessions":
        return csv_response(f"{request.brokerage.slug}-coaching-{period.start}-{period.end}.csv",
                            ["agent", "started", "ended", "intensity", "quality before", "quality after", "change",
                             "conversations after"],
                            ([item.session.agent.display_name, item.session.started_at.date(),
                              item.session.ended_at.date() if item.session.ended_at else "",
                              item.session.intensity, _rounded(item.before), _rounded(item.after),
                              _rounded(item.change), item.conversations_after] for item in effect.sessions))
    chart = line_chart([step_label(period, step) for step, _, _ in effect.trend],
                       [Series("Coached agents", [coached for _, coached, _ in effect.trend]),
                        Series("Rest of the team", [others for _, _, others in effect.trend])],
                       title="Conversation quality (0–100)",
                       colors=[request.brokerage.primary_color, request.brokerage.secondary_color])
    context = {"tab": "coaching", "filter_form": form, "period": period, "effect": effect, "chart": chart,
               "formulas": FORMULAS, "metrics": effect.metrics}
    return render(request, "analytics/coaching.html", context, status=400 if form.errors else 200)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


urlpatterns = [path("coaching/", coaching, name="coaching")]
