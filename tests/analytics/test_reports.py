"""Branded reports: figures from the rolled-up rows, the brokerage's brand, a PDF that loads nothing from
outside, and the report pages' access rules."""

import datetime as dt
import io
import re
import zoneinfo
from decimal import Decimal

import pypdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from analytics.models import TeamPerformance
from analytics.period import Period
from analytics.reports import BASE_URL, ReportFetcher, agent_report, render_report_html, render_report_pdf, team_report
from brokerages.models import AuditLog, Role
from tests.factories import UserFactory
from tests.images import png_bytes

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")
MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), DUBAI)
QUERY = {"period": "custom", "start": "2026-03-01", "end": "2026-03-31"}


def day(tenant, agent, date, **figures) -> TeamPerformance:
    return TeamPerformance.objects.create(brokerage=tenant.brokerage, agent=agent, metric_date=date, **figures)


@pytest.fixture
def team(tenant):
    """Two agents with March figures and one February day (the previous period), plus a colleague who left
    without activity (absent from the report) and one who is active but idle (listed as such)."""
    tenant.agent.full_name = "Omar Haddad"
    tenant.agent.save()
    ana = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Ana Costa")
    UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Gone Agent", is_active=False)
    UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Idle Ibrahim")
    day(tenant, ana, dt.date(2026, 3, 3), leads_generated=6, leads_converted=2, leads_lost=1, properties_sold=2,
        commission_earned=Decimal("9000"), response_time_minutes=10, leads_responded=6,
        client_satisfaction_score=Decimal("5.00"), satisfaction_ratings=2)
    day(tenant, ana, dt.date(2026, 3, 20), leads_generated=4, leads_converted=1, properties_sold=1,
        commission_earned=Decimal("3000"), response_time_minutes=40, leads_responded=4)
    day(tenant, tenant.agent, dt.date(2026, 3, 10), leads_generated=5, leads_converted=1, leads_lost=3,
        commission_earned=Decimal("4000"), response_time_minutes=120, leads_responded=5, conversations=2,
        conversation_quality=Decimal("64.50"))
    day(tenant, ana, dt.date(2026, 2, 10), leads_generated=5, leads_converted=1, leads_lost=1,
        commission_earned=Decimal("2000"))
    return {"ana": ana, "omar": tenant.agent}


def kpi_block(html: str, name: str) -> str:
    return re.search(rf'id="kpi-{name}">(.*?)</div>\s*</div>', html, re.S).group(1)


def test_team_report_figures_come_from_the_rows(tenant, team):
    report = team_report(brokerage=tenant.brokerage, period=MARCH)
    html = render_report_html(report)
    # Leads 6 + 4 + 5; won 4 of 8 closed; commission 9,000 + 3,000 + 4,000; previous: 5 leads, AED 2,000.
    assert "15" in kpi_block(html, "leads_generated") and "+200%" in kpi_block(html, "leads_generated")
    assert "50.0%" in kpi_block(html, "conversion_rate")
    assert "AED 16,000" in kpi_block(html, "commission_earned")
    assert "+700%" in kpi_block(html, "commission_earned")
    # Response time: (10×6 + 40×4 + 120×5) ÷ 15 leads = 54.7 min.
    assert "55 min" in kpi_block(html, "response_time_minutes")
    assert "nothing to compare with" in kpi_block(html, "conversation_quality")  # none scored in February


def test_team_report_lists_agents_by_commission_and_the_idle_ones_last(tenant, team):
    html = render_report_html(team_report(brokerage=tenant.brokerage, period=MARCH))
    table = re.search(r'<table class="data fixed" id="agents">.*?</table>', html, re.S).group(0)
    assert table.index("Ana Costa") < table.index("Omar Haddad") < table.index("Idle Ibrahim")
    assert "No activity in the period" in table
    assert "Gone Agent" not in table
    assert "<td>12,000</td>" in table and "<td>25.0%</td>" in table  # Ana's commission; Omar: 1 won of 4 closed


def test_report_carries_the_brokerages_name_colours_and_logo(tenant, team):
    brokerage = tenant.brokerage
    brokerage.primary_color, brokerage.secondary_color = "#0A7E8C", "#F2A900"
    brokerage.logo = SimpleUploadedFile("logo.png", png_bytes((40, 20)), content_type="image/png")
    brokerage.save()
    html = render_report_html(team_report(brokerage=brokerage, period=MARCH))
    assert brokerage.name in html
    assert "#0A7E8C" in html and "#F2A900" in html
    assert f'src="{brokerage.logo_url}"' in html
    assert "1 Mar – 31 Mar 2026" in html and "compared with 29 Jan – 28 Feb 2026" in html


def test_names_are_escaped_in_the_report(tenant, team):
    tenant.brokerage.name = "<script>alert(1)</script> Realty"
    tenant.brokerage.save()
    team["ana"].full_name = "<img src=x onerror=alert(1)>"
    team["ana"].save()
    html = render_report_html(team_report(brokerage=tenant.brokerage, period=MARCH))
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Realty" in html


def test_report_explains_every_figure_and_when_it_was_generated(tenant, team):
    html = render_report_html(team_report(brokerage=tenant.brokerage, period=MARCH))
    assert "Leads won ÷ leads closed (won + lost) in the period." in html
    assert "100 ÷ (1 + CV)" in html
    assert re.search(r'id="generated">Generated \d{1,2} \w+ \d{4}, \d\d:\d\d \(Asia/Dubai\)', html)
    assert "Return on coaching" in html and "Assumptions" in html


def test_a_team_without_data_gets_an_honest_report(tenant):
    report = team_report(brokerage=tenant.brokerage, period=MARCH)
    html = render_report_html(report)
    assert not report.has_data
    assert "no leads, closings or scored conversations recorded" in html
    assert "No data for this period" in html
    assert render_report_pdf(report).startswith(b"%PDF")


def pdf_text(content: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_is_a4_with_the_brokerage_name_page_numbers_and_the_logo(tenant, team):
    brokerage = tenant.brokerage
    brokerage.logo = SimpleUploadedFile("logo.png", png_bytes((40, 20)), content_type="image/png")
    brokerage.save()
    content = render_report_pdf(team_report(brokerage=brokerage, period=MARCH))
    assert content.startswith(b"%PDF")
    reader, text = pdf_text(content)
    assert brokerage.name in text and "Team performance report" in text
    assert "AED 16,000" in text and "Ana Costa" in text
    assert f"Page 1 of {len(reader.pages)}" in text
    width, height = (float(value) for value in reader.pages[0].mediabox[2:])
    assert (round(width * 25.4 / 72), round(height * 25.4 / 72)) == (210, 297)
    assert len(reader.pages[0].images) == 1  # the logo, fetched from storage


def test_fetcher_serves_the_logo_and_refuses_everything_else(tenant):
    brokerage = tenant.brokerage
    brokerage.logo = SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png")
    brokerage.save()
    fetcher = ReportFetcher(brokerage)
    logo = fetcher.fetch(BASE_URL.rstrip("/") + brokerage.logo_url)
    assert logo.read() == png_bytes() and logo.content_type == "image/png"
    for url in ("http://example.com/logo.png", "https://169.254.169.254/latest/meta-data/", "file:///etc/passwd",
                f"https://example.com{brokerage.logo_url}", BASE_URL + "media/other.png"):
        with pytest.raises(ValueError, match="loads nothing from outside"):
            fetcher.fetch(url)


def test_a_remote_image_in_the_report_is_not_fetched(tenant, team, monkeypatch):
    """Even if a remote address or a file path reached the markup, rendering would not open it."""
    import urllib.request

    opened = []

    def record(self, url, *args, **kwargs):
        opened.append(getattr(url, "full_url", url))
        raise OSError("offline")

    monkeypatch.setattr(urllib.request.OpenerDirector, "open", record)
    monkeypatch.setattr("analytics.reports.render_report_html",
                        lambda report: '<img src="https://example.com/x.png"><img src="file:///etc/hostname">'
                                       '<link rel="stylesheet" href="http://example.com/x.css">'
                                       f"<p>{report.brokerage.name}</p>")
    _, text = pdf_text(render_report_pdf(team_report(brokerage=tenant.brokerage, period=MARCH)))
    assert tenant.brokerage.name in text
    assert opened == []


def test_agent_report_compares_the_agent_with_their_past_and_the_team(tenant, team):
    report = agent_report(brokerage=tenant.brokerage, agent=team["ana"], period=MARCH)
    html = render_report_html(report)
    assert "Agent report: Ana Costa" in html
    comparisons = re.search(r'id="comparisons">.*?</table>', html, re.S).group(0)
    # Ana: 10 leads (was 5: +100%); team: 15 leads over 2 active agents = 7.5; Ana converts 3 of 4 = 75.0%.
    assert re.search(r"Leads generated</td><td>10</td><td>5</td>\s*<td class=\"better\">\+100%</td><td>7.5</td>",
                     comparisons)
    assert "75.0%" in comparisons and "Omar Haddad" not in html.split('id="comparisons"')[0]
    # Response times 22 min (Ana) and 120 min (Omar), each over 5+ first contacts: Ana is the faster half.
    assert "response time 22 min (better than the team)" in html
    _, text = pdf_text(render_report_pdf(report))
    assert "Ana Costa" in text and tenant.brokerage.name in text


def test_an_agent_without_enough_data_is_not_compared(tenant, team):
    newcomer = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="New Nadia")
    day(tenant, newcomer, dt.date(2026, 3, 30), leads_generated=2)
    html = render_report_html(agent_report(brokerage=tenant.brokerage, agent=newcomer, period=MARCH))
    assert "New Nadia did not have enough data in the period to be compared with the team." in html


def test_a_team_of_one_gets_no_consistency_score_but_the_reason(tenant, team):
    html = render_report_html(agent_report(brokerage=tenant.brokerage, agent=team["ana"],
                                           period=Period(dt.date(2026, 2, 1), dt.date(2026, 2, 28), DUBAI)))
    assert 'id="consistency-score"' not in html
    assert "Not enough data yet: consistency compares at least two agents" in html


def test_agent_report_shows_the_agents_part_in_the_teams_spread(tenant, team):
    slow = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Slow Sami")
    for agent, minutes in ((team["ana"], 10), (team["omar"], 12), (slow, 300)):
        day(tenant, agent, dt.date(2026, 3, 25), leads_responded=10, response_time_minutes=minutes)
    html = render_report_html(agent_report(brokerage=tenant.brokerage, agent=slow, period=MARCH))
    contribution = re.search(r'id="agent-contribution">(.*?)</p>', html, re.S).group(1)
    assert "Slow Sami accounts for" in contribution and "(worse than the team)" in contribution


# --- pages -------------------------------------------------------------------------------------------------

def test_the_reports_page_offers_the_team_and_the_chosen_agents_report(login, tenant, team):
    response = login(tenant.owner).get(reverse("analytics:reports"), {**QUERY, "agent": team["ana"].pk})
    assert response.status_code == 200
    body = response.content.decode()
    assert f'{reverse("analytics:report_team_pdf")}?start=2026-03-01&amp;end=2026-03-31' in body
    assert reverse("analytics:report_agent_pdf", args=[team["ana"].pk]) in body
    assert "Every Monday morning" in body


def test_team_preview_shows_the_report_inside_the_page(login, tenant, team):
    response = login(tenant.support).get(reverse("analytics:report_team"), QUERY)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="report-preview"' in body and "AED 16,000" in body
    assert f'{reverse("analytics:report_team_pdf")}?start=2026-03-01&amp;end=2026-03-31' in body


def test_team_pdf_download_is_named_and_audited(login, tenant, team):
    response = login(tenant.owner).get(reverse("analytics:report_team_pdf"), QUERY)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{tenant.brokerage.slug}-team-report-2026-03-01-2026-03-31.pdf"')
    assert response.content.startswith(b"%PDF")
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="analytics.report_downloaded")
    assert entry.actor == tenant.owner and entry.details["start"] == "2026-03-01"


def test_agent_pdf_is_audited_against_the_agent(login, tenant, team):
    response = login(tenant.owner).get(reverse("analytics:report_agent_pdf", args=[team["ana"].pk]), QUERY)
    assert response.status_code == 200
    assert f"-agent-{team['ana'].pk}-report-2026-03-01-2026-03-31.pdf" in response["Content-Disposition"]
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="analytics.report_downloaded")
    assert (entry.resource_type, entry.resource_id, entry.details["report"]) == (
        "brokerages.user", str(team["ana"].pk), "agent")


def test_a_pdf_with_reversed_dates_answers_400_with_the_reason(login, tenant):
    response = login(tenant.owner).get(reverse("analytics:report_team_pdf"),
                                       {"period": "custom", "start": "2026-03-31", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "swap the dates" in response.content.decode()
    assert not AuditLog.objects.filter(action="analytics.report_downloaded").exists()


def test_another_brokerages_agent_report_is_not_found(login, tenant, other_tenant):
    client = login(tenant.owner)
    for name in ("analytics:report_agent", "analytics:report_agent_pdf"):
        assert client.get(reverse(name, args=[other_tenant.agent.pk])).status_code == 404


def test_a_member_who_is_not_an_agent_has_no_agent_report(login, tenant):
    assert login(tenant.owner).get(reverse("analytics:report_agent", args=[tenant.support.pk])).status_code == 404


def test_agents_cannot_open_reports(login, tenant):
    client = login(tenant.agent)
    for url in (reverse("analytics:reports"), reverse("analytics:report_team"),
                reverse("analytics:report_team_pdf"), reverse("analytics:report_agent", args=[tenant.agent.pk]),
                reverse("analytics:report_agent_pdf", args=[tenant.agent.pk])):
        assert client.get(url).status_code == 403, url


def test_the_previews_tables_export_as_csv(login, tenant, team):
    response = login(tenant.owner).get(reverse("analytics:report_team"), {**QUERY, "export": "agents"})
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().splitlines()
    assert lines[0].startswith("agent,email,leads,won,lost")
    assert lines[1].startswith("Ana Costa,") and ",12000" in lines[1]
