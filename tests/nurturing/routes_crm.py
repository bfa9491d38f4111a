"""Isolation cases for the CRM connector's exports (merged into tests/test_isolation.py's ROUTES).

Every member exports what their lists show them: an agent the leads they hold (and those leads' interactions and
follow-ups), owners and support staff every lead of the brokerage. The downloads take no object in the URL; a
filter naming another brokerage's agent is refused (tests/nurturing/test_crm_exports.py). The import routes are
in routes_ingestion.py."""

from tests.isolation import EVERYONE, Case

ROUTES = {
    "nurturing:exports": [Case(EVERYONE)],
    "nurturing:leads_export": [Case(EVERYONE)],
    "nurturing:interactions_export": [Case(EVERYONE)],
    "nurturing:followups_export": [Case(EVERYONE)],
}
