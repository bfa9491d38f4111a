"""Branded reports: pick a report and a period, preview it on the page, download it as a PDF (audited)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path, reverse

from brokerages.selectors import setting_value

from ..reports import Report, agent_report, report_pdf_download, team_report
from .common import analytics_view, csv_response, filter_form
from .team import team_agent_get


@analytics_view()
def reports(request):
    """The report picker: the period and (optionally) an agent, with links to preview or download."""
    form = filter_form(request)
    period, agent_id = form.resolved()
    agent = next((agent for agent in form.agents if agent.pk == agent_id), None)
    context = {"tab": "reports", "filter_form": form, "period": period, "agent": agent,
               "weekly_enabled": setting_value(request.brokerage, "weekly_report_enabled"),
               "can_change_settings": request.user.is_owner}
    return render(request, "analytics/reports/index.html", context, status=400 if form.errors else 200)


def _preview(request, report: Report, pdf_url: str, form):
    if request.GET.get("export") == "figures":
        return csv_response(report.filename.removesuffix(".pdf") + ".csv",
                            ["figure", "value", "previous period", "formula"],
                            ([kpi.label, kpi.value, kpi.previous, kpi.formula] for kpi in report.kpis))
    if request.GET.get("export") == "agents" and report.kind == "team":
        return csv_response(report.filename.removesuffix(".pdf") + "-agents.csv",
                            ["agent", "email", "leads", "won", "lost", "conversion rate", "commission (AED)",
                             "response time (min)", "client satisfaction", "conversation quality",
                             "share of spread"],
                            ([row.agent.display_name, row.agent.email, row.totals.leads_generated,
                              row.totals.leads_converted, row.totals.leads_lost, row.totals.conversion_rate,
                              row.totals.commission_earned, row.totals.response_time_minutes,
                              row.totals.client_satisfaction, row.totals.conversation_quality, row.share]
                             for row in report.agents))
    context = {"tab": "reports", "filter_form": form, "period": report.period, "report": report,
               "pdf_url": f"{pdf_url}?{report.period.query()}"}
    return render(request, "analytics/reports/preview.html", context, status=400 if form.errors else 200)


def _period_or_400(request):
    """The PDF's period, or the reason it cannot be drawn (a download link with bad dates answers 400 rather
    than a report of another period)."""
    form = filter_form(request, with_agent=False)
    period, _ = form.resolved()
    if form.errors:
        problems = [str(error) for errors in form.errors.values() for error in errors]
        return None, HttpResponse(" ".join(problems), status=400, content_type="text/plain; charset=utf-8")
    return period, None


def _pdf(request, report: Report) -> HttpResponse:
    content = report_pdf_download(brokerage=request.brokerage, actor=request.user, report=report)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    return response


@analytics_view()
def report_team(request):
    form = filter_form(request, with_agent=False)
    period, _ = form.resolved()
    report = team_report(brokerage=request.brokerage, period=period)
    return _preview(request, report, reverse("analytics:report_team_pdf"), form)


@analytics_view()
def report_team_pdf(request):
    period, refusal = _period_or_400(request)
    return refusal or _pdf(request, team_report(brokerage=request.brokerage, period=period))


@analytics_view(lookup=team_agent_get)
def report_agent(request, obj):
    form = filter_form(request, with_agent=False)
    period, _ = form.resolved()
    report = agent_report(brokerage=request.brokerage, agent=obj, period=period)
    return _preview(request, report, reverse("analytics:report_agent_pdf", args=[obj.pk]), form)


@analytics_view(lookup=team_agent_get)
def report_agent_pdf(request, obj):
    period, refusal = _period_or_400(request)
    return refusal or _pdf(request, agent_report(brokerage=request.brokerage, agent=obj, period=period))


urlpatterns = [
    path("reports/", reports, name="reports"),
    path("reports/team/", report_team, name="report_team"),
    path("reports/team.pdf", report_team_pdf, name="report_team_pdf"),
    path("reports/agents/<int:pk>/", report_agent, name="report_agent"),
    path("reports/agents/<int:pk>.pdf", report_agent_pdf, name="report_agent_pdf"),
]
