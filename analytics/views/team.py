"""Team performance: every agent's figures for the period in a sortable table, and one agent's drill-down."""

from django.shortcuts import get_object_or_404, render
from django.urls import path

from brokerages.models import Brokerage, User

from ..selectors.consistency import consistency_of
from ..selectors.retention import retention_metrics
from ..selectors.team import FORMULAS, Totals, agents_of, buckets, daily_totals, team_totals, totals_by_agent
from ..trends import trend_charts
from .common import analytics_view, csv_response, filter_form

# (column, heading, unit): the table's columns, its sort keys and its CSV, in one place.
COLUMNS = (
    ("leads_generated", "Leads", "count"),
    ("leads_converted", "Won", "count"),
    ("leads_lost", "Lost", "count"),
    ("conversion_rate", "Conversion", "rate"),
    ("properties_sold", "Sold", "count"),
    ("commission_earned", "Commission", "money"),
    ("response_time_minutes", "Response time", "minutes"),
    ("client_satisfaction", "Satisfaction", "score5"),
    ("conversation_quality", "Quality", "score100"),
)
# The consistency metrics as the drill-down shows the agent against the team.
STANDING = (("conversion_rate", "Conversion rate", "rate"), ("response_time_minutes", "Response time", "minutes"),
            ("client_satisfaction", "Client satisfaction", "score5"))
SORTS = {name for name, _, _ in COLUMNS} | {"agent"}


def team_agent_get(brokerage: Brokerage, pk: int) -> User:
    return get_object_or_404(agents_of(brokerage), pk=pk)


@analytics_view()
def team(request):
    form = filter_form(request, with_agent=False)
    period, _ = form.resolved()
    by_agent = totals_by_agent(request.brokerage, period)
    rows = [(agent, by_agent.get(agent.pk, Totals())) for agent in agents_of(request.brokerage)]
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "leads_generated"
    descending = request.GET.get("dir", "desc") != "asc"
    rows = sort_rows(rows, sort, descending)
    if request.GET.get("export") == "agents":
        return csv_response(f"{request.brokerage.slug}-team-{period.start}-{period.end}.csv",
                            ["agent", "email", *[heading for _, heading, _ in COLUMNS]],
                            ([agent.display_name, agent.email, *[getattr(totals, name) for name, _, _ in COLUMNS]]
                             for agent, totals in rows))
    context = {"tab": "team", "filter_form": form, "period": period, "columns": COLUMNS, "rows": rows,
               "sort": sort, "descending": descending, "formulas": FORMULAS,
               "team_totals": Totals.total(by_agent.values())}
    return render(request, "analytics/team.html", context, status=400 if form.errors else 200)


def sort_rows(rows: list[tuple[User, Totals]], sort: str, descending: bool) -> list[tuple[User, Totals]]:
    """Sorted by the column; agents without a figure (None) go last whichever the direction."""
    if sort == "agent":
        return sorted(rows, key=lambda row: row[0].display_name.lower(), reverse=descending)
    known = [row for row in rows if getattr(row[1], sort) is not None]
    unknown = [row for row in rows if getattr(row[1], sort) is None]
    return sorted(known, key=lambda row: getattr(row[1], sort), reverse=descending) + unknown


@analytics_view(lookup=team_agent_get)
def agent(request, obj):
    form = filter_form(request, with_agent=False)
    period, _ = form.resolved()
    previous = period.previous()
    team_now = totals_by_agent(request.brokerage, period)
    now, before = team_now.get(obj.pk, Totals()), team_totals(request.brokerage, previous, obj.pk)
    trend = buckets(period, daily_totals(request.brokerage, period, obj.pk))
    charts = trend_charts(request.brokerage, period, trend, names=("conversion", "response", "quality"))
    contribution = next((item for item in consistency_of(team_now).agents if item.agent_id == obj.pk), None)
    standing = [(label, *contribution.values[name], unit) for name, label, unit in STANDING
                if contribution and name in contribution.values]
    figures = [(name, heading, unit, getattr(now, name), getattr(before, name), FORMULAS[name])
               for name, heading, unit in COLUMNS]
    if request.GET.get("export") == "figures":
        return csv_response(f"{request.brokerage.slug}-{obj.pk}-{period.start}-{period.end}.csv",
                            ["figure", "value", "previous period", "formula"],
                            ([heading, value, previous_value, formula]
                             for _, heading, _, value, previous_value, formula in figures))
    context = {"tab": "team", "filter_form": form, "period": period, "previous": previous, "agent": obj,
               "figures": figures, "charts": charts, "contribution": contribution,
               "standing": standing,
               "retention": retention_metrics(brokerage=request.brokerage, period=period, agent_id=obj.pk)}
    return render(request, "analytics/agent.html", context, status=400 if form.errors else 200)


urlpatterns = [
    path("team/", team, name="team"),
    path("team/agents/<int:pk>/", agent, name="agent"),
]
