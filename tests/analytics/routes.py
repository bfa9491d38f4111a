"""Isolation cases of the dashboard, team, agent drill-down and coaching analytics pages and the two analytics API
routes: owners and support staff (`view_team_performance`) only; another brokerage's agent answers 404."""

from tests.isolation import MANAGERS, Case

from .routes_leads import ROUTES as LEAD_ROUTES
from .routes_reports import ROUTES as REPORT_ROUTES


def agent_pk(tenant, member) -> dict:
    return {"pk": tenant.agent.pk}


ROUTES = {
    "analytics:dashboard": [Case(MANAGERS), Case(MANAGERS, label="CSV export", data={"export": "kpis"})],
    "analytics:team": [Case(MANAGERS), Case(MANAGERS, label="CSV export", data={"export": "agents"})],
    "analytics:agent": [Case(MANAGERS, objects=agent_pk),
                        Case(MANAGERS, objects=agent_pk, label="CSV export", data={"export": "figures"})],
    "analytics:coaching": [Case(MANAGERS), Case(MANAGERS, label="CSV export", data={"export": "sessions"})],
    "api-brokerage-dashboard": [Case(MANAGERS, api=True)],
    "api-brokerage-team-performance": [Case(MANAGERS, api=True)],
    **LEAD_ROUTES,
    **REPORT_ROUTES,
}
