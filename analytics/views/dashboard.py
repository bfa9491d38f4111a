"""The owner dashboard: KPIs against the previous period, trend, agents needing attention, leakage,
consistency and coaching, for any period and agent, with every table exportable as CSV."""

from django.shortcuts import render
from django.urls import path

from ..selectors.consistency import METRICS
from ..selectors.dashboard import dashboard as dashboard_data
from ..selectors.team import FORMULAS
from ..trends import trend_charts
from .common import analytics_view, csv_response, filter_form


METRIC_NAMES = [metric[0] for metric in METRICS]


@analytics_view()
def dashboard(request):
    form = filter_form(request)
    period, agent_id = form.resolved()
    data = dashboard_data(brokerage=request.brokerage, period=period, agent_id=agent_id, agents=form.agents)
    export = request.GET.get("export")
    stem = f"{request.brokerage.slug}-{period.start}-{period.end}"
    if export == "kpis":
        return csv_response(f"{stem}-kpis.csv", ["figure", "value", "previous period", "unit", "formula"],
                            ([kpi.label, kpi.value, kpi.previous, kpi.unit, kpi.formula] for kpi in data.kpis))
    if export == "attention":
        return csv_response(f"{stem}-needs-attention.csv", ["agent", "email", "reasons"],
                            ([item.agent.display_name, item.agent.email, "; ".join(item.reasons)]
                             for item in data.attention))
    if export == "consistency":
        return csv_response(f"{stem}-consistency.csv", ["agent", "share of the spread (%)", *METRIC_NAMES],
                            ([agent.display_name, round(100 * item.share, 1),
                              *[item.values.get(name, (None,))[0] for name in METRIC_NAMES]]
                             for agent, item in data.contributors))
    charts = trend_charts(request.brokerage, period, data.trend, names=("leads", "response", "quality"))
    context = {"tab": "dashboard", "filter_form": form, "period": period, "data": data, "charts": charts,
               "formulas": FORMULAS}
    return render(request, "analytics/dashboard.html", context, status=400 if form.errors else 200)


urlpatterns = [path("", dashboard, name="dashboard")]
