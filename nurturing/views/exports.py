"""Pages: CSV exports of leads, interactions and follow-ups, and the page that gathers them.

Each download takes its list's filters in the query string (the lead list's "Export CSV" link passes the list's
own query), holds what that member sees (an agent: their leads' rows; `manage_leads`: the brokerage's) and
streams (nurturing.services.exports). Filters that are not understood answer 400 with the page naming them, never
an export of everything.
"""

from django.shortcuts import render
from django.urls import path

from brokerages.csv_download import csv_streaming_response
from brokerages.permissions import request_perms
from brokerages.web import tenant_view

from ..forms.ingestion import FollowUpExportForm, InteractionExportForm
from ..forms.leads import LeadFilterForm
from ..selectors.leads import assignable_agents
from ..services import exports as services


def _agents(request):
    """Managers filter by agent (the brokerage's own only); an agent exports their own work."""
    return assignable_agents(request.brokerage) if "manage_leads" in request_perms(request) else None


def _forms(request, **bound) -> dict:
    """The three export forms; the one in `bound` carries the request's filters and their errors."""
    agents = _agents(request)
    return {"lead_form": bound.get("lead_form") or LeadFilterForm(agents=agents),
            "interaction_form": bound.get("interaction_form") or InteractionExportForm(agents=agents),
            "followup_form": bound.get("followup_form") or FollowUpExportForm(agents=agents)}


def _refused(request, **bound):
    return render(request, "nurturing/exports.html", _forms(request, **bound), status=400)


@tenant_view("work_leads")
def exports(request):
    return render(request, "nurturing/exports.html", _forms(request))


def _export(request, form_class, form_name: str, export, options):
    """Stream `export` with the filters of its form in the query string, or answer 400 naming bad ones."""
    form = form_class(request.GET or None, agents=_agents(request))
    if form.is_bound and not form.is_valid():
        return _refused(request, **{form_name: form})
    csv = export(brokerage=request.brokerage, actor=request.user, perms=request_perms(request), **options(form))
    return csv_streaming_response(request, csv.filename, csv.header, csv.rows, bom=True)


@tenant_view("work_leads")
def leads_export(request):
    return _export(request, LeadFilterForm, "lead_form", services.leads_export,
                   lambda form: {"filters": form.filters()})


@tenant_view("work_leads")
def interactions_export(request):
    return _export(request, InteractionExportForm, "interaction_form", services.interactions_export,
                   lambda form: {"filters": form.filters()})


@tenant_view("work_leads")
def followups_export(request):
    def options(form):
        values = form.cleaned_data if form.is_bound else {}
        return {"status": values.get("status", ""), "agent_id": values.get("agent")}

    return _export(request, FollowUpExportForm, "followup_form", services.followups_export, options)


urlpatterns = [
    path("exports/", exports, name="exports"),
    path("leads/export/", leads_export, name="leads_export"),
    path("interactions/export/", interactions_export, name="interactions_export"),
    path("followups/export/", followups_export, name="followups_export"),
]
