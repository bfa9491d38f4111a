"""What every analytics page shares: who may open it (owners and support staff, `view_team_performance`), the
period/agent filter, and CSV export of any of its tables (`?export=<table>` on the page's own URL)."""

import csv
from django.http import HttpResponse

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


def csv_response(filename: str, header: list[str], rows) -> HttpResponse:
    """A CSV download. Cells a spreadsheet would run as a formula (=, +, -, @ first) are quoted with a leading
    apostrophe, since names and notes come from users."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe_cell(value) for value in row])
    return response


def _safe_cell(value):
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value
