"""Isolation cases of the lead analytics page: owners and support staff (`view_team_performance`) may open it and
download its tables; agents get 403. (That a page shows only its own brokerage's leads is in test_leads_page.)"""

from tests.isolation import MANAGERS, Case

ROUTES = {
    "analytics:leads": [
        Case(MANAGERS),
        Case(MANAGERS, label="CSV export", data={"export": "by_agent", "period": "last_90"}),
    ],
}
