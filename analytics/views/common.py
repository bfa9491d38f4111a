"""What every analytics page shares: who may open it (owners and support staff, `view_team_performance`), the
period/agent filter, and CSV export of any of its tables (`?export=<table>` on the page's own URL)."""

from brokerages.csv_download import csv_response as csv_response  # the pages' `?export=` downloads
from brokerages.web import tenant_view

from ..forms import AnalyticsFilterForm
from ..services.rollup import brokerage_zone

PERM = "view_team_performance"


def analytics_view(lookup=None):
    """`tenant_view` with the analytics permission (another brokerage's object: 404, no permission: 403)."""

    return tenant_view(PERM, lookup=lookup)


def filter_form(request, *, with_agent: bool = True) -> AnalyticsFilterForm:
    """The page's filter, bound to the query string; `form.resolved()` gives the period and agent."""
    return AnalyticsFilterForm(request.GET or None, brokerage=request.brokerage,
                               zone=brokerage_zone(request.brokerage), with_agent=with_agent)
