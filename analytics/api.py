"""The seed's analytics endpoints: `GET /api/brokerage/dashboard` (the owner dashboard's data) and
`GET /api/brokerage/team/performance` (each agent's figures). Both take the pages' filter in the query string —
`period` (a named period), or `start`/`end` (ISO dates, both included), and `agent` on the dashboard — and
answer 400 with the fields to fix on a bad one. Every figure carries the formula that produced it."""

from dataclasses import asdict

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import id_parameter, query_dict

from .forms import AnalyticsFilterForm
from .period import PRESETS, Period
from .selectors.dashboard import dashboard
from .selectors.team import FORMULAS, Totals, agents_of, totals_by_agent
from .services.rollup import brokerage_zone

FILTER_PARAMETERS = [
    OpenApiParameter("period", str, enum=[name for name, _ in PRESETS] + ["custom"],
                     description="A named period (default last_30); `custom` (or leaving it out) with start/end."),
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (the brokerage's calendar)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, included (default today)."),
]


def _filter(view: TenantAPIView, *, with_agent: bool) -> AnalyticsFilterForm:
    """The valid filter (`resolved()` gives the period and agent), or a 400 naming what is wrong."""
    form = AnalyticsFilterForm(query_dict(view.request), brokerage=view.brokerage,
                               zone=brokerage_zone(view.brokerage), with_agent=with_agent)
    if not form.is_valid():
        raise serializers.ValidationError(
            {("period" if name == "__all__" else name): errors for name, errors in form.errors.items()})
    return form


def _period(period: Period) -> dict:
    return {"start": period.start, "end": period.end, "days": period.days, "time_zone": str(period.zone)}


def _totals(totals: Totals) -> dict:
    return {name: str(value) if name in ("commission_earned", "satisfaction_points", "quality_points") else value
            for name, value in totals.to_dict().items()}


class DashboardAPI(TenantAPIView):
    """The owner dashboard's data: KPIs against the previous period (with formulas), the trend, agents needing
    attention and why, team consistency, lead retention and coaching figures. Owners and support staff."""

    method_perms = {"GET": "view_team_performance"}

    @extend_schema(parameters=[*FILTER_PARAMETERS, id_parameter("agent", "One agent's id.")],
                   responses=OpenApiTypes.OBJECT, summary="Owner dashboard")
    def get(self, request):
        form = _filter(self, with_agent=True)
        period, agent_id = form.resolved()
        data = dashboard(brokerage=self.brokerage, period=period, agent_id=agent_id, agents=form.agents)
        return Response({
            "period": _period(period), "previous_period": _period(data.previous), "agent_id": agent_id,
            "has_data": data.has_data,
            "kpis": [{"name": kpi.name, "label": kpi.label, "unit": kpi.unit, "value": _plain(kpi.value),
                      "previous": _plain(kpi.previous), "change": kpi.change, "formula": kpi.formula}
                     for kpi in data.kpis],
            "trend": [{"start": step, **_totals(totals)} for step, totals in data.trend],
            "agents_needing_attention": [{"agent_id": item.agent.pk, "name": item.agent.display_name,
                                          "reasons": item.reasons} for item in data.attention],
            "consistency": {**asdict(data.consistency)},
            "lead_retention": data.retention.to_dict(),
            "coaching": data.coaching.to_dict(),
        })


class TeamPerformanceAPI(TenantAPIView):
    """Every agent's figures for the period (the seed's list of AgentPerformance), with the formulas. Owners and
    support staff."""

    method_perms = {"GET": "view_team_performance"}

    @extend_schema(parameters=FILTER_PARAMETERS, responses=OpenApiTypes.OBJECT, summary="Team performance")
    def get(self, request):
        period, _ = _filter(self, with_agent=False).resolved()
        by_agent = totals_by_agent(self.brokerage, period)
        return Response({
            "period": _period(period), "formulas": FORMULAS,
            "agents": [{"agent_id": agent.pk, "name": agent.display_name, "email": agent.email,
                        "is_active": agent.is_active, "hire_date": agent.hire_date,
                        **_totals(by_agent.get(agent.pk, Totals()))} for agent in agents_of(self.brokerage)],
        })


def _plain(value):
    """Money as exact text, like every amount of the API."""
    return str(value) if value is not None and not isinstance(value, (int, float)) else value


urlpatterns = [
    path("brokerage/dashboard", DashboardAPI.as_view(), name="api-brokerage-dashboard"),
    path("brokerage/team/performance", TeamPerformanceAPI.as_view(), name="api-brokerage-team-performance"),
]
