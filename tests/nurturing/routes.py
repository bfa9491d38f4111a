"""The nurturing engine's isolation cases, one module per area."""

from . import routes_automations, routes_followups, routes_ingestion, routes_leads, routes_sequences

ROUTES = {
    **routes_leads.ROUTES,
    **routes_sequences.ROUTES,
    **routes_followups.ROUTES,
    **routes_automations.ROUTES,
    **routes_ingestion.ROUTES,
}
