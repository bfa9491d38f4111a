"""The owner dashboard: KPIs against the previous period, trend, agents needing attention, leakage,
consistency and coaching, for any period and agent, with every table exportable as CSV."""

from django.shortcuts import render
from django.urls import path

from ..charts import Series, line_chart
from ..selectors.consistency import METRICS
from ..selectors.dashboard import dashboard as dashboard_data
from ..selectors.team import FORMULAS
from .common import analytics_view, csv_response, filter_form


METRIC_NAMES = [metric[0] for metric in METRICS]


@analytics_view()
def dashboard(request):
    form = filter_form(request)
    period, agent_id = form.resolved()
    data = dashboard_data(brokerage=request.brokerage, period=period, agent_id=agent_id)
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
    labels = [f"{step:%-d %b}" for step, _ in data.trend]
    charts = {
        "leads": line_chart(labels, [Series("Leads generated", [t.leads_generated for _, t in data.trend]),
                                     Series("Leads won", [t.leads_converted for _, t in data.trend])],
                            title="Leads generated and won", colors=_brand(request)),
        "response": line_chart(labels, [Series("Response time", [t.response_time_minutes for _, t in data.trend])],
                               title="Mean response time", unit="min", colors=_brand(request)),
        "quality": line_chart(labels, [Series("Conversation quality",
                                              [t.conversation_quality for _, t in data.trend])],
                              title="Conversation quality (0–100)", colors=_brand(request)),
    }
    context = {"tab": "dashboard", "filter_form": form, "period": period, "data": data, "charts": charts,
               "formulas": FORMULAS}
    return render(request, "analytics/dashboard.html", context, status=400 if form.errors else 200)


def _brand(request) -> list[str]:
    return [request.brokerage.primary_color, request.brokerage.secondary_color]


urlpatterns = [path("", dashboard, name="dashboard")]
