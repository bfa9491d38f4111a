"""Branded reports (the seed's "branded report generation"): the team performance report and an agent's report
for a period, as an HTML preview and an A4 PDF with the brokerage's name, logo and colours.

A `Report` is plain data computed from the rolled-up `TeamPerformance` rows (`analytics.selectors.team`), the
consistency score and the coaching metrics; the same template renders it on a page and in the PDF, so what an
owner previews is what they forward. Every figure is shown with the formula behind it, and the report says when it
was generated and which days it covers.

PDFs are drawn by WeasyPrint with `ReportFetcher`, which loads nothing but the brokerage's own logo from its
storage: no web address, no file path, so a report can neither leak a request to the internet nor read the disk.
"""

import datetime as dt
import mimetypes
import re
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import formataddr, parseaddr
from urllib.parse import urljoin

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from brokerages.models import Brokerage, Role, User
from brokerages.selectors import setting_value
from brokerages.services import audit_record, notify
from brokerages.webhooks import member_data, webhook_emit
from coaching.selectors.metrics import CoachingMetrics, coaching_metrics

from .charts import bar_chart
from .period import Period
from .selectors.consistency import Consistency, consistency_of
from .selectors.dashboard import Kpi
from .selectors.team import FORMULAS, Totals, agents_of, buckets, daily_totals, team_totals, totals_by_agent
from .services.rollup import brokerage_zone
from .templatetags.analytics_format import figure
from .trends import trend_charts


# A base address nothing can be fetched from: relative URLs in the report resolve against it and the fetcher
# only answers the few it was given.
BASE_URL = "https://report.invalid/"
# (figure, label, unit, whether up is good), as the dashboard's KPIs plus the closings an owner forwards.
REPORT_KPIS = (
    ("leads_generated", "Leads generated", "count", True), ("conversion_rate", "Conversion rate", "rate", True),
    ("leads_converted", "Leads won", "count", True), ("properties_sold", "Properties sold", "count", True),
    ("commission_earned", "Commission earned", "money", True),
    ("response_time_minutes", "Response time", "minutes", False),
    ("client_satisfaction", "Client satisfaction", "score5", True),
    ("conversation_quality", "Conversation quality", "score100", True),
)
TOP_AGENTS = 10
COACHING_FIGURES = (
    ("total_coaching_sessions", "Coaching sessions", "count"),
    ("conversations_analysed", "Conversations analysed", "count"),
    ("average_quality_score_improvement", "Quality score improvement", "points"),
    ("conversion_rate_improvement", "Conversion change of coached agents", "rate_points"),
    ("coaching_adherence_rate", "Alerts acted on", "rate"),
    ("training_completion_rate", "Training completed on time", "rate"),
    ("value_in_period", "Value of review time saved", "money"),
    ("cost_in_period", "Coaching cost", "money"),
    ("roi_percentage", "Return on coaching", "percent"),
)
ASSUMPTION_LABELS = {
    "coaching_review_minutes_per_conversation": "{} min of manual review per conversation",
    "coaching_reviewer_hourly_cost_aed": "reviewer's time at AED {:,} an hour",
    "coaching_platform_monthly_cost_aed": "coaching at AED {:,} a month",
}


@dataclass(frozen=True)
class Figure:
    """A labelled figure as shown, with its formula, or why it could not be computed."""

    label: str
    value: str
    formula: str = ""
    reason: str = ""


@dataclass(frozen=True)
class AgentRow:
    agent: User
    totals: Totals
    share: float | None = None  # the agent's share of the team's inconsistency (0–1), None when not compared


@dataclass(frozen=True)
class Comparison:
    """One figure of an agent beside the team's (rates: the team's rate; counts and money: per active agent)."""

    kpi: Kpi
    team: object


@dataclass(frozen=True)
class Report:
    kind: str  # "team" or "agent"
    brokerage: Brokerage
    period: Period
    generated_at: dt.datetime
    title: str
    kpis: list[Kpi]
    charts: list[SafeString]
    agent: User | None = None
    agents: list[AgentRow] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    consistency: Consistency | None = None
    contribution: object = None  # the agent's AgentContribution in the team's consistency
    coaching: list[Figure] = field(default_factory=list)
    assumptions: str = ""
    formulas: list[tuple[str, str]] = field(default_factory=list)
    has_data: bool = False

    @property
    def previous(self) -> Period:
        return self.period.previous()

    @property
    def when(self) -> str:
        """What the document covers, in its title and on every page's footer."""
        return self.period.label

    @property
    def subtitle(self) -> str:
        days = self.period.days
        return f"{self.period.label} ({days} day{'' if days == 1 else 's'}) · compared with {self.previous.label}"

    @property
    def consistency_rows(self) -> list[dict]:
        """The consistency metrics with their team mean as shown (a rate as %, a time in minutes…)."""
        return [{"label": metric.label, "agents": metric.agents, "score": metric.score, "reason": metric.reason,
                 "mean": figure(metric.mean, METRIC_UNITS.get(metric.metric, ""))}
                for metric in (self.consistency.metrics if self.consistency else [])]

    @property
    def contributors(self) -> list[tuple["AgentRow", list[str]]]:
        """The agents with the largest share of the team's spread (five at most), with how they differ."""
        values = {item.agent_id: item.values for item in (self.consistency.agents if self.consistency else [])}
        ranked = sorted((row for row in self.agents if row.share), key=lambda row: -row.share)[:5]
        return [(row, _notes(values.get(row.agent.pk, {}))) for row in ranked]

    @property
    def contribution_notes(self) -> list[str]:
        return _notes(self.contribution.values) if self.contribution else []

    @property
    def filename(self) -> str:
        who = "team" if self.agent is None else f"agent-{self.agent.pk}"
        return f"{self.brokerage.slug}-{who}-report-{self.period.start}-{self.period.end}.pdf"


METRIC_UNITS = {"conversion_rate": "rate", "response_time_minutes": "minutes", "client_satisfaction": "score5"}
METRIC_LABELS = {"conversion_rate": "conversion", "response_time_minutes": "response time",
                 "client_satisfaction": "satisfaction"}


def _notes(values: dict) -> list[str]:
    """"conversion 12.0% (worse than the team)" for each metric an agent was compared on."""
    return [f"{METRIC_LABELS.get(name, name)} {figure(value, METRIC_UNITS.get(name, ''))} "
            + ("(typical)" if direction == "typical" else f"({direction} than the team)")
            for name, (value, direction) in values.items()]


# --- building ----------------------------------------------------------------------------------------------

def _kpis(now: Totals, before: Totals) -> list[Kpi]:
    def value(totals: Totals, name: str):
        return getattr(totals, name) if totals.has_activity else None

    return [Kpi(name, label, unit, value(now, name), value(before, name), up, FORMULAS[name])
            for name, label, unit, up in REPORT_KPIS]


def _coaching(metrics: CoachingMetrics) -> tuple[list[Figure], str]:
    rows = []
    for name, label, unit in COACHING_FIGURES:
        value = getattr(metrics, name)
        if value is None:
            shown = figure(None, "count")
        elif unit == "rate_points":
            shown = f"{100 * value:+.1f} pts".replace("-", "−")
        elif unit == "points":
            shown = f"{value:+.1f} pts".replace("-", "−")
        else:
            shown = figure(value, unit)
        rows.append(Figure(label, shown, metrics.formulas.get(name, ""), metrics.reasons.get(name, "")))
    assumptions = "; ".join(text.format(metrics.assumptions[key]) for key, text in ASSUMPTION_LABELS.items()
                            if key in metrics.assumptions)
    return rows, assumptions


def _formulas(extra: list[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    labels = {name: label for name, label, _, _ in REPORT_KPIS}
    return [(labels.get(name, name.replace("_", " ").capitalize()), text) for name, text in FORMULAS.items()] \
        + list(extra)


def team_report(*, brokerage: Brokerage, period: Period) -> Report:
    """The team performance report of the period: KPIs against the previous period, trends, commission by agent,
    every agent's figures, consistency and coaching. A fixed number of queries whatever the team's size."""
    agents = {agent.pk: agent for agent in agents_of(brokerage)}
    now_by_agent = totals_by_agent(brokerage, period)
    now = Totals.total(now_by_agent.values())
    before = team_totals(brokerage, period.previous())
    consistency = consistency_of(now_by_agent)
    shares = {contribution.agent_id: contribution.share for contribution in consistency.agents}
    rows = [AgentRow(agents[agent_id], totals, shares.get(agent_id)) for agent_id, totals in now_by_agent.items()
            if agent_id in agents]
    rows.sort(key=lambda row: (-row.totals.commission_earned, -row.totals.leads_converted,
                               row.agent.display_name.lower()))
    rows += [AgentRow(agent, Totals()) for agent_id, agent in agents.items()
             if agent.is_active and agent_id not in now_by_agent]
    top = [row for row in rows if row.totals.commission_earned > 0][:TOP_AGENTS]
    charts = list(trend_charts(brokerage, period, buckets(period, daily_totals(brokerage, period))).values())
    charts.insert(1, bar_chart([row.agent.display_name for row in top],
                               [float(row.totals.commission_earned) for row in top],
                               title=f"Commission by agent (top {TOP_AGENTS})", unit="AED",
                               color=brokerage.primary_color))
    start, end = period.bounds()
    coaching, assumptions = _coaching(coaching_metrics(brokerage=brokerage, start=start, end=end))
    return Report(
        kind="team", brokerage=brokerage, period=period, generated_at=timezone.now().astimezone(period.zone),
        title="Team performance report", kpis=_kpis(now, before), charts=charts, agents=rows,
        consistency=consistency, coaching=coaching, assumptions=assumptions,
        formulas=_formulas([("Consistency", consistency.formula)]), has_data=now.has_activity)


def agent_report(*, brokerage: Brokerage, agent: User, period: Period) -> Report:
    """One agent's report of the period: their KPIs against their previous period and beside the team's,
    their trends with the team's rates for comparison, and their part in the team's consistency.

    Before: `agent` is a member of `brokerage` (the view looks them up within it)."""
    if agent.brokerage_id != brokerage.pk:
        raise ValueError("The agent belongs to another brokerage.")
    now_by_agent = totals_by_agent(brokerage, period)
    now = now_by_agent.get(agent.pk, Totals())
    before = team_totals(brokerage, period.previous(), agent.pk)
    team = Totals.total(now_by_agent.values())
    active = sum(1 for totals in now_by_agent.values() if totals.has_activity) or 1
    kpis = _kpis(now, before)
    comparisons = []
    for kpi in kpis:
        team_value = getattr(team, kpi.name) if team.has_activity else None
        if team_value is not None and kpi.unit in ("count", "money"):
            team_value = (Decimal(team_value) / active) if kpi.unit == "money" else team_value / active
        comparisons.append(Comparison(kpi, team_value))
    consistency = consistency_of(now_by_agent)
    contribution = next((item for item in consistency.agents if item.agent_id == agent.pk), None)
    daily_team = daily_totals(brokerage, period)
    charts = list(trend_charts(brokerage, period, buckets(period, daily_totals(brokerage, period, agent.pk)),
                               team_steps=buckets(period, daily_team)).values())
    return Report(
        kind="agent", brokerage=brokerage, period=period, generated_at=timezone.now().astimezone(period.zone),
        title=f"Agent report: {agent.display_name}", kpis=kpis, charts=charts, agent=agent,
        comparisons=comparisons, consistency=consistency, contribution=contribution,
        formulas=_formulas([("Team average", "Rates are the whole team's (e.g. the team's won ÷ closed); counts and "
                                             "money are the team's total ÷ agents with activity in the period."),
                            ("Consistency", consistency.formula)]),
        has_data=now.has_activity)


# --- rendering ---------------------------------------------------------------------------------------------

def render_report_html(report: Report) -> str:
    """The report as a standalone HTML document (its styles inline, A4 page rules for print)."""
    return render_to_string("analytics/reports/document.html", {"report": report})


class ReportFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that answers only the brokerage's logo, read from its storage; every other
    address (http, https, file, data…) is refused, so rendering a report never touches the network or disk."""

    def __init__(self, brokerage: Brokerage):
        super().__init__(allowed_protocols=(), allow_redirects=False)
        self._files = {}
        if brokerage.logo:
            self._files[urljoin(BASE_URL, brokerage.logo.url)] = brokerage.logo

    def fetch(self, url, headers=None):
        stored = self._files.get(url)
        if stored is None:
            raise ValueError(f"A report loads nothing from outside; refused {url[:200]!r}.")
        with stored.open("rb") as handle:
            body = handle.read()
        return URLFetcherResponse(url, body, {"Content-Type": mimetypes.guess_type(stored.name)[0]
                                              or "application/octet-stream"})


# The charts' hidden data tables serve screen readers on the page; a PDF reader has the figures in the report's
# own tables, and laying the hidden ones out would cost a fifth of the rendering time.
HIDDEN_TABLES = re.compile(r'<table class="visually-hidden">.*?</table>', re.S)


def render_pdf(html: str, brokerage: Brokerage) -> bytes:
    """A branded report document as a PDF; the fetcher loads nothing but the brokerage's logo."""
    return HTML(string=html, base_url=BASE_URL, url_fetcher=ReportFetcher(brokerage)).write_pdf()


def render_report_pdf(report: Report) -> bytes:
    """The report as an A4 PDF (page numbers, the brokerage's name in the footer)."""
    return render_pdf(HIDDEN_TABLES.sub("", render_report_html(report)), report.brokerage)


def report_event_data(report: Report, *, size: int, source: str, requested_by: User | None) -> dict:
    """A drawn report as the `report.generated` webhook event carries it (docs/webhooks.md)."""
    return {"report": {"kind": report.kind, "title": report.title, "filename": report.filename, "bytes": size,
                       "period": {"start": report.period.start, "end": report.period.end},
                       "agent": member_data(report.agent)},
            "source": source, "requested_by": member_data(requested_by)}


def report_pdf_download(*, brokerage: Brokerage, actor: User, report: Report) -> bytes:
    """The report as a PDF for `actor` to download. After: the audit log has the download, and the
    brokerage's `report.generated` webhook subscribers hear of it."""
    content = render_report_pdf(report)
    audit_record(brokerage=brokerage, actor=actor, action="analytics.report_downloaded",
                 resource=report.agent, resource_type="" if report.agent else "analytics.team_report",
                 details={"report": report.kind, "start": report.period.start.isoformat(),
                          "end": report.period.end.isoformat(), "bytes": len(content)})
    webhook_emit(brokerage=brokerage, event="report.generated", data=lambda: report_event_data(
        report, size=len(content), source="download", requested_by=actor))
    return content


def weekly_period(brokerage: Brokerage, today: dt.date | None = None) -> Period:
    """The seven whole days before today in the brokerage's zone: the weekly report's period."""
    zone = brokerage_zone(brokerage)
    today = today or timezone.now().astimezone(zone).date()
    return Period(today - dt.timedelta(days=7), today - dt.timedelta(days=1), zone)


# --- the weekly e-mail -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WeeklySend:
    period: Period | None
    sent_to: list[str] = field(default_factory=list)
    skipped: str = ""  # why nothing was sent, when nothing was


def report_weekly_send(*, brokerage: Brokerage, today: dt.date | None = None) -> WeeklySend:
    """E-mail the team report of the seven days before `today` (the brokerage's today by default) as a PDF to
    each active owner, unless the brokerage turned `weekly_report_enabled` off.

    Once per owner and ISO week: an in-app notification keyed by the week marks the send, written in the same
    transaction as the e-mail goes out, so a re-run (or a redelivered task) sends nothing twice, and a send that
    fails leaves no marker and is retried by the next run. The PDF is drawn only if someone still needs it."""
    if not setting_value(brokerage, "weekly_report_enabled"):
        return WeeklySend(None, skipped="The weekly report is turned off for this brokerage.")
    owners = list(User.objects.filter(brokerage=brokerage, role=Role.BROKERAGE_OWNER, is_active=True)
                  .exclude(email="").order_by("pk"))
    if not owners:
        return WeeklySend(None, skipped="The brokerage has no active owner to send it to.")
    period = weekly_period(brokerage, today)
    year, week, _ = (period.end + dt.timedelta(days=1)).isocalendar()
    key = f"analytics:weekly-report:{year}-W{week:02d}"
    url = f"{reverse('analytics:report_team')}?{period.query()}"
    report = content = None
    sent = []
    for owner in owners:
        with transaction.atomic():
            if not notify(brokerage=brokerage, recipient=owner, kind="weekly_report", key=key, url=url,
                          message=f"Your weekly team report for {period.label} was e-mailed to {owner.email}."):
                continue
            if content is None:
                report = team_report(brokerage=brokerage, period=period)
                content = render_report_pdf(report)
            _weekly_email(owner, report, content).send()
        sent.append(owner.email)
    if sent:
        audit_record(brokerage=brokerage, actor=None, action="analytics.weekly_report_sent",
                     resource_type="analytics.team_report",
                     details={"start": period.start.isoformat(), "end": period.end.isoformat(),
                              "recipients": len(sent)})
        webhook_emit(brokerage=brokerage, event="report.generated", data=lambda: report_event_data(
            report, size=len(content), source="weekly_email", requested_by=None))
    return WeeklySend(period, sent, "" if sent else "Every owner already received this week's report.")


def _weekly_email(owner: User, report: Report, content: bytes) -> EmailMultiAlternatives:
    brokerage = report.brokerage
    context = {"report": report, "owner": owner, "url": _absolute(f"{reverse('analytics:report_team')}?"
                                                                 f"{report.period.query()}")}
    sender = formataddr((brokerage.name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    message = EmailMultiAlternatives(f"{brokerage.name}: team report, {report.period.label}",
                                     render_to_string("analytics/email/weekly_report.txt", context), sender,
                                     [owner.email])
    message.attach_alternative(render_to_string("analytics/email/weekly_report.html", context), "text/html")
    message.attach(report.filename, content, "application/pdf")
    return message


def _absolute(url: str) -> str:
    """A link a mail client can open: the site's public address (PUBLIC_BASE_URL) when it is set."""
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}{url}" if base else ""
