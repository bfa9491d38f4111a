"""Lead analytics: what became of the period's leads — speed to lead, contact rate, leakage (with the leaking leads
to open), the stage funnel, retention at 30/60/90 days, lost reasons, and the same figures by agent and by source.
Every table downloads as CSV with `?export=<table>` on this page's URL (the current filter kept)."""

from django.http import Http404
from django.shortcuts import render
from django.urls import path

from brokerages.permissions import request_perms
from nurturing.models import Stage
from nurturing.selectors.activity import has_leads

from ..selectors.retention import RETENTION_DAYS, LeadRetentionMetrics, leaking_leads, retention_metrics
from .common import analytics_view, csv_response, filter_form

LEAKING_SHOWN = 50
LEAKING_EXPORTED = 10_000


@analytics_view()
def lead_analytics(request):
    form = filter_form(request)
    period, agent_id = form.resolved()
    brokerage = request.brokerage
    metrics = retention_metrics(brokerage=brokerage, period=period, agent_id=agent_id)
    export = request.GET.get("export")
    if export:
        return _export(export, metrics, brokerage, agent_id)
    agents = {pk: name for pk, name in form.fields["agent"].choices if pk}
    query = request.GET.copy()
    query.pop("export", None)
    context = {
        "tab": "leads", "filter_form": form, "period": period, "metrics": metrics, "agent_id": agent_id,
        "agent_name": agents.get(agent_id, ""), "agents": agents, "query": query.urlencode(),
        # An empty period of a brokerage with leads needs another period; an empty CRM needs leads.
        "crm_empty": not metrics.leads and not has_leads(brokerage),
        "can_import": "manage_leads" in request_perms(request),
        "can_connect_webhook": "manage_nurturing" in request_perms(request),
        "leaking": _named(leaking_leads(brokerage, period, agent_id=agent_id, limit=LEAKING_SHOWN), metrics)
        if metrics.leaking else [],
        # Leakage is judged at the end of the period, or now while the period is still running.
        "judged_now": metrics.as_of < period.bounds()[1],
    }
    return render(request, "analytics/leads.html", context, status=400 if form.errors else 200)


def _named(leads: list[dict], metrics: LeadRetentionMetrics) -> list[dict]:
    """The leaking leads with their agent's name and stage label (names come from the breakdown rows)."""
    names = {row.key: row.label for row in metrics.by_agent}
    return [{**item, "agent": names.get(item["agent_id"], "Unassigned"), "stage_label": Stage(item["stage"]).label}
            for item in leads]


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


ROW_HEADER = ["leads", "contacted", "contact rate", "within 5 minutes rate", "leaking", "leakage rate", "won",
              "lost", "win rate", *[f"retained at {days} days rate" for days in RETENTION_DAYS]]


def _row_cells(figures) -> list:
    return [figures.leads, figures.contacted, _rate(figures.contact_rate), _rate(figures.within_5_minutes_rate),
            figures.leaking, _rate(figures.leakage_rate), figures.won, figures.lost, _rate(figures.win_rate),
            *[_rate(figures.retention_rate(days)) for days in RETENTION_DAYS]]


def _export(table: str, metrics: LeadRetentionMetrics, brokerage, agent_id):
    """The CSV of one table of the page; an unknown table is a 404 naming the known ones."""
    period = metrics.period
    name = f"{brokerage.slug}-leads-{table}-{period.start}-{period.end}.csv"
    if table == "speed_to_lead":
        return csv_response(name, ["first contact", "leads", "share"],
                            ([band.label, band.count, _rate(band.share)] for band in metrics.speed_to_lead))
    if table == "funnel":
        return csv_response(name, ["stage", "leads that reached it", "share of the period's leads",
                                   "conversion from the previous stage"],
                            ([step.label, step.reached, _rate(step.share), _rate(step.step_rate)]
                             for step in metrics.funnel))
    if table == "retention":
        return csv_response(name, ["days", "leads old enough", "retained", "rate", "note"],
                            ([window.days, window.old_enough, window.retained, _rate(window.rate), window.reason]
                             for window in metrics.retention))
    if table == "lost_reasons":
        return csv_response(name, ["reason", "leads", "share of lost leads"],
                            ([reason.label, reason.count, _rate(reason.share)] for reason in metrics.lost_reasons))
    if table == "by_agent":
        return csv_response(name, ["agent", *ROW_HEADER],
                            ([row.label, *_row_cells(row.figures)] for row in metrics.by_agent))
    if table == "by_source":
        return csv_response(name, ["source", *ROW_HEADER],
                            ([row.label, *_row_cells(row.figures)] for row in metrics.by_source))
    if table == "leaking":
        leads = _named(leaking_leads(brokerage, period, agent_id=agent_id, limit=LEAKING_EXPORTED), metrics)
        return csv_response(name, ["lead id", "lead", "agent", "stage", "created at", "last contacted at"],
                            ([item["id"], item["name"], item["agent"], item["stage_label"],
                              _local(item["created_at"], period), _local(item["last_contacted_at"], period)]
                             for item in leads))
    raise Http404(f"No table “{table}” on this page; pick one of: speed_to_lead, funnel, retention, lost_reasons, "
                  "by_agent, by_source, leaking.")


def _local(moment, period) -> str | None:
    """A timestamp on the brokerage's clock, as a spreadsheet reads it."""
    return moment.astimezone(period.zone).strftime("%Y-%m-%d %H:%M") if moment else None


urlpatterns = [
    path("leads/", lead_analytics, name="leads"),
]
