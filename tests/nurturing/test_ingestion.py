"""CSV import of leads: the mapping of common headers, per-row problems by row number, duplicates against the
brokerage and within the file, the dry run, limits, and the same import through the page, the API and the
management command."""

import datetime as dt
import io
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from brokerages.models import AuditLog, Role
from nurturing.models import AutomationRun, Lead
from nurturing.services import ingestion as services
from nurturing.services.automations import automation_create
from tests.api_helpers import api_as, assert_error
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")

CRM_EXPORT = (
    "Full Name,Mobile,E-mail,Lead Source,Min Budget,Max Budget,Area/Community,Property Type,Stage/Status,Agent,"
    "Tags,Notes,Created,Favourite Colour\n"
    "Layla Haddad,050 123 4567,Layla@Example.com,Bayut,\"1,200,000\",1.5M,\"Dubai Marina; JBR\",Flat,Qualified,"
    "{agent},\"investor, cash\",Wants sea view,2025-03-01,blue\n"
    "Omar Saleh,+971 55 765 4321,omar@example.com,Referral,,2000000,Downtown,Villa,New,Omar Farouk,,,31/03/2025,\n"
)


@pytest.fixture
def omar(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Farouk",
                       email="omar@palmcrest.test")


def _import(tenant, text, mapping=None, dry_run=False, **options):
    data = text.encode() if isinstance(text, str) else text
    return services.leads_import_csv(brokerage=tenant.brokerage, actor=tenant.owner, data=data, mapping=mapping,
                                     dry_run=dry_run, **options)


def test_a_crm_export_is_mapped_and_imported(tenant, omar):
    report = _import(tenant, CRM_EXPORT.format(agent=tenant.agent.email.upper()))

    assert (report.created, report.errors, report.duplicates) == (2, [], [])
    assert report.columns_unmapped == ["Favourite Colour"]
    assert report.mapping == {"Full Name": "name", "Mobile": "phone", "E-mail": "email", "Lead Source": "source",
                              "Min Budget": "budget_min", "Max Budget": "budget_max", "Area/Community": "areas",
                              "Property Type": "property_type", "Stage/Status": "stage", "Agent": "agent",
                              "Tags": "tags", "Notes": "notes", "Created": "created_at"}
    layla = Lead.objects.get(email="layla@example.com")
    assert (layla.name, layla.phone, layla.source, layla.stage, layla.property_type) == (
        "Layla Haddad", "0501234567", "portal", "qualified", "apartment")
    assert (layla.budget_min, layla.budget_max) == (Decimal("1200000.00"), Decimal("1500000.00"))
    assert layla.areas == ["Dubai Marina", "JBR"] and layla.tags == ["investor", "cash"]
    assert layla.notes == "Wants sea view" and layla.assigned_agent == tenant.agent
    assert layla.created_at == dt.datetime(2025, 3, 1, tzinfo=DUBAI)  # the brokerage's clock
    assert tenant.agent.has_perm("nurturing.work_lead", layla)  # assigned through the real service
    omar_lead = Lead.objects.get(email="omar@example.com")
    assert omar_lead.assigned_agent == omar and omar_lead.phone == "+971557654321"
    assert omar_lead.created_at == dt.datetime(2025, 3, 31, tzinfo=DUBAI)
    entry = AuditLog.objects.get(action="nurturing.leads_imported")
    assert entry.details == {"created": 2, "duplicates": 0, "errors": 0, "rows": 2, "run_automations": False}


def test_every_problem_of_a_row_is_reported_with_its_row_number(tenant, omar):
    text = ("Name,Email,Phone,Budget,Min Budget,Max Budget,Stage,Agent,Property Type\n"
            "Good Lead,good@example.com,,,,,,,\n"
            "Bad Email,not-an-email,,,,,,,\n"
            "Bad Budget,b@example.com,,lots,,,,,\n"
            "Min Above Max,m@example.com,,,3000000,1000000,,,\n"
            "Unknown Stage,s@example.com,,,,,Hot prospect,,\n"
            "Unknown Agent,a@example.com,,,,,,Nobody Here,\n"
            ",nameless@example.com,,,,,,,\n"
            "No Contact,,,,,,,,\n"
            "Many Problems,x,,,,,Limbo,ghost@example.com,Castle\n"
            "Too,many@example.com,,,,,,,,,extra\n")
    report = _import(tenant, text)

    assert report.created == 1 and report.rows == 10
    assert report.errors == [
        (3, "“not-an-email” is not an e-mail address."),
        (4, "budget “lots” is not an amount."),
        (5, "the minimum budget 3,000,000 is above the maximum 1,000,000."),
        (6, "unknown stage “Hot prospect” (use new, contacted, qualified, viewing, offer, won, lost)."),
        (7, "no active agent “Nobody Here” in the brokerage."),
        (8, "no name."),
        (9, "needs an e-mail or a phone number."),
        (10, "“x” is not an e-mail address; unknown property type “Castle” (use apartment, villa, townhouse, "
             "penthouse, office, retail, land); unknown stage “Limbo” (use new, contacted, qualified, viewing, "
             "offer, won, lost); no active agent “ghost@example.com” in the brokerage."),
        (11, "has 11 cells but the header names 9 columns (a separator inside an unquoted value?)."),
    ]
    assert list(Lead.objects.values_list("name", flat=True)) == ["Good Lead"]


def test_duplicates_of_existing_leads_and_of_earlier_rows_are_skipped(tenant):
    make_lead(tenant.brokerage, name="Existing Email", email="taken@example.com")
    make_lead(tenant.brokerage, name="Existing Phone", phone="+971501112222")
    make_lead(tenant.brokerage, name="Existing Id", email="id@example.com", external_id="CRM-7")
    text = ("ID,Name,Email,Phone\n"
            "CRM-1,First,new@example.com,\n"
            "CRM-2,Same Email,TAKEN@example.com,\n"
            "CRM-3,Same Phone,,00971 50 111 2222\n"
            "CRM-7,Same Id,other@example.com,\n"
            "CRM-4,Repeat In File,new@example.com,\n"
            "CRM-5,Phone Once,,0509998888\n"
            "CRM-6,Phone Twice,p2@example.com,050-999-8888\n")
    report = _import(tenant, text)

    assert report.created == 2 and report.errors == []
    assert report.duplicates == [
        (3, "already a lead: Existing Email has the e-mail taken@example.com"),
        (4, "already a lead: Existing Phone has the phone +971501112222"),
        (5, "already a lead: Existing Id has the external id CRM-7"),
        (6, "same e-mail as row 2"),
        (8, "same phone as row 7"),
    ]
    assert Lead.objects.filter(brokerage=tenant.brokerage).count() == 5


def test_a_dry_run_checks_everything_and_writes_nothing(tenant):
    text = "Name,Email\nOne,one@example.com\nTwo,bad\nOne Again,one@example.com\n"
    before = AuditLog.objects.count()

    report = _import(tenant, text, dry_run=True)

    assert (report.created, report.dry_run) == (1, True)
    assert report.errors == [(3, "“bad” is not an e-mail address.")]
    assert report.duplicates == [(4, "same e-mail as row 2")]
    assert not Lead.objects.exists() and AuditLog.objects.count() == before


def test_the_mapping_can_be_overridden_and_is_checked(tenant):
    text = "Client,Contact,Comments\nSara Khan,sara@example.com,Call after 6\n"
    with pytest.raises(ValidationError) as caught:
        _import(tenant, text)
    assert caught.value.messages == ["Map a column to the e-mail or the phone: leads are matched and reached by them."]

    report = _import(tenant, text, mapping={"Client": "name", "Contact": "email", "Comments": ""})
    assert report.created == 1 and report.columns_unmapped == ["Comments"]

    for mapping, message in (
            ({"Nope": "name"}, "There is no column “Nope” (the columns are Client, Contact, Comments)."),
            ({"Client": "shoe_size"}, "“shoe_size” is not a lead field"),
            ({"Client": "email", "Contact": "email"}, "Both “Client” and “Contact” are mapped to E-mail")):
        with pytest.raises(ValidationError) as caught:
            _import(tenant, text, mapping=mapping)
        assert caught.value.messages[0].startswith(message)


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    ("Name,Email\nLayla,l@example.com\n".encode("utf-16"), "The file is not UTF-8 text"),
    (b"Name,Name\nA,B\n", "Two columns are called “Name”; rename one."),
    (b"\n\n", "The first row must name the columns"),
    (b"x" * (5 * 1024 * 1024 + 1), "The file is 5.0 MB; the limit is 5 MB."),
    (b"Name,Email\n" + b"a,a@example.com\n" * 20_001, "The file has more than 20,000 rows"),
])
def test_files_that_cannot_be_imported_are_refused_whole(tenant, data, message):
    with pytest.raises(ValidationError) as caught:
        _import(tenant, data)
    assert caught.value.messages[0].startswith(message)
    assert not Lead.objects.exists()


def test_bom_semicolons_and_quoted_newlines_are_read(tenant):
    text = '\ufeffName;Email;Notes\n"Haddad, Layla";layla@example.com;"line one\nline two"\n'
    report = _import(tenant, text)
    assert report.created == 1
    lead = Lead.objects.get()
    assert lead.name == "Haddad, Layla" and lead.notes == "line one\nline two"


def test_a_row_that_fails_when_stored_does_not_stop_the_others(tenant):
    text = f"Name,Email\n{'N' * 201},long@example.com\nFine,fine@example.com\n"
    report = _import(tenant, text)
    assert report.created == 1 and report.errors[0][0] == 2 and "at most 200 characters" in report.errors[0][1]


def test_automations_run_for_imported_leads_only_when_asked(tenant):
    automation_create(brokerage=tenant.brokerage, actor=tenant.owner, name="Tag",
                      trigger_conditions={"trigger": "lead_created"}, actions=[{"type": "add_tag", "tag": "new"}])
    _import(tenant, "Name,Email\nQuiet,q@example.com\n")
    assert not AutomationRun.objects.exists()
    _import(tenant, "Name,Email\nLoud,l@example.com\n", run_automations=True)
    assert Lead.objects.get(email="l@example.com").tags == ["new"]
    assert Lead.objects.get(email="q@example.com").tags == []


# --- the management command -----------------------------------------------------------------------------------------


def test_the_command_imports_with_a_mapping_and_reports(tenant, tmp_path: Path):
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text("Client,Contact,Colour\nSara Khan,sara@example.com,red\nBad,nope,\n")
    out, err = io.StringIO(), io.StringIO()

    call_command("import_leads", "--brokerage", tenant.brokerage.slug, str(csv_file), "--dry-run",
                 "--map", "Client=name", "--map", "Contact=email", stdout=out, stderr=err)
    assert not Lead.objects.exists()
    assert "1 would be created (dry run: nothing stored), 0 duplicates, 1 with problems." in out.getvalue()
    assert "Not imported (unknown columns): Colour" in out.getvalue()
    assert "row 3: “nope” is not an e-mail address." in err.getvalue()

    call_command("import_leads", "--brokerage", tenant.brokerage.slug, str(csv_file),
                 "--map", "Client=name", "--map", "Contact=email", stdout=out, stderr=err)
    assert Lead.objects.get().name == "Sara Khan"

    with pytest.raises(CommandError, match="No brokerage with slug 'nope'"):
        call_command("import_leads", "--brokerage", "nope", str(csv_file))
    with pytest.raises(CommandError, match="Map a column to the e-mail or the phone"):
        call_command("import_leads", "--brokerage", tenant.brokerage.slug, str(csv_file))
    with pytest.raises(CommandError, match='--map takes "CSV Header=field"'):
        call_command("import_leads", "--brokerage", tenant.brokerage.slug, str(csv_file), "--map", "Client")


# --- the pages ------------------------------------------------------------------------------------------------------


def test_upload_map_check_and_import_through_the_pages(login, tenant, settings):
    client = login(tenant.support)
    text = "Client,E-mail,Budget\nSara Khan,sara@example.com,2M\nBad,nope,\n"

    response = client.post(reverse("nurturing:import"), {"file": SimpleUploadedFile("leads.csv", text.encode())})
    assert response.status_code == 302
    map_url = response["Location"]
    page = client.get(map_url).content.decode()
    assert "Sara Khan · Bad" in page  # first values of the column
    assert "2 rows in the file, columns separated by commas." in page
    assert '<option value="email" selected>E-mail</option>' in page  # auto-mapped
    mapping = {"col_0": "name", "col_1": "email", "col_2": "budget"}

    page = client.post(map_url, {**mapping, "action": "check"}).content.decode()
    assert "Check: nothing was stored" in page and "“nope” is not an e-mail address." in page
    assert not Lead.objects.exists()

    page = client.post(map_url, {**mapping, "action": "import"}).content.decode()
    assert "Import finished" in page
    assert Lead.objects.get().budget_max == Decimal("2000000.00")
    assert client.get(map_url).status_code == 404  # the upload is gone once imported
    assert not list((Path(settings.MEDIA_ROOT) / "imports").iterdir())


def test_a_file_that_cannot_be_read_is_refused_at_upload(login, tenant, settings):
    page = login(tenant.owner).post(reverse("nurturing:import"), {
        "file": SimpleUploadedFile("leads.csv", "Name\nLayla\n".encode("utf-16"))}).content.decode()
    assert "The file is not UTF-8 text" in page
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists()


def test_another_brokerages_upload_cannot_be_opened(login, tenant, other_tenant):
    upload_id = services.import_upload_store(brokerage=tenant.brokerage, data=b"Name,Email\nA,a@example.com\n")
    assert login(other_tenant.owner).get(reverse("nurturing:import_map", args=[upload_id])).status_code == 404
    assert login(tenant.owner).get(reverse("nurturing:import_map", args=["..%2F..%2Fetc"])).status_code == 404
    assert login(tenant.agent).get(reverse("nurturing:import_map", args=[upload_id])).status_code == 403


# --- the API --------------------------------------------------------------------------------------------------------


def test_api_import_reports_rows_and_dry_runs(tenant):
    client = api_as(tenant.owner)
    upload = SimpleUploadedFile("leads.csv", b"Client,Mail\nSara Khan,sara@example.com\nBad,nope\n")
    response = client.post("/api/nurturing/leads/import", {
        "file": upload, "dry_run": "true", "mapping": '{"Client": "name", "Mail": "email"}'}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json() == {
        "dry_run": True, "rows": 2, "created": 1, "duplicates": [], "columns_unmapped": [],
        "errors": [{"row": 3, "message": "“nope” is not an e-mail address."}],
        "mapping": {"Client": "name", "Mail": "email"}}
    assert not Lead.objects.exists()

    error = assert_error(client.post("/api/nurturing/leads/import", {
        "file": SimpleUploadedFile("leads.csv", b"Name\n"), "mapping": "[1]"}, format="multipart"), 400)
    assert error["fields"] == {"mapping": ['Give an object of texts, e.g. {"Mobile": "phone"}.']}
    assert_error(api_as(tenant.agent).post("/api/nurturing/leads/import", {}, format="multipart"), 403)
