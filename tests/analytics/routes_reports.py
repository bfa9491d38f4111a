"""Isolation cases of the branded reports: owners and support staff (`view_team_performance`) may pick, preview
and download them, agents get 403; an agent's report names an agent of the brokerage, so another brokerage's
agent answers 404 (whoever asks). What a report contains is in test_reports."""

from tests.isolation import MANAGERS, Case


def agent_pk(tenant, member) -> dict:
    return {"pk": tenant.agent.pk}


PERIOD = {"period": "last_30"}

ROUTES = {
    "analytics:reports": [Case(MANAGERS, data={"period": "last_90"})],
    "analytics:report_team": [Case(MANAGERS, data=PERIOD),
                              Case(MANAGERS, label="CSV export", data={**PERIOD, "export": "agents"})],
    "analytics:report_team_pdf": [Case(MANAGERS, data=PERIOD)],
    "analytics:report_agent": [Case(MANAGERS, objects=agent_pk, data=PERIOD)],
    "analytics:report_agent_pdf": [Case(MANAGERS, objects=agent_pk, data=PERIOD)],
}
