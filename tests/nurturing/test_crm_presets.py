"""CRM presets of the lead import: each maps a realistic export of its CRM (names joined, a second phone kept,
the CRM's stage and source words translated, US dates read month first), the right preset is detected from the
headers ("Custom" for a sheet no CRM wrote), and the preset reaches the import through the service and the API's
service and the API."""

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from brokerages.models import AuditLog, Role
from nurturing.crm_presets import PRESETS, preset_detect
from nurturing.models import Lead
from nurturing.services.ingestion import IMPORT_FIELDS, csv_read, leads_import_csv
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")

HUBSPOT = (
    '"Record ID","First Name","Last Name","Email","Phone Number","Mobile Phone Number","Contact owner",'
    '"Lifecycle Stage","Lead Status","Original Source","Create Date","Company Name","Job Title"\n'
    '"51","Layla","Haddad","layla.haddad@example.com","+971 4 123 4567","+971 50 123 4567","Sara Steady",'
    '"Sales Qualified Lead","In Progress","Organic Search","2025-03-01 09:30","Haddad Holdings","CFO"\n'
    '"52","Omar","Saleh","omar.saleh@example.com","","+971 55 765 4321","","Customer","","Referrals",'
    '"2025-02-11 16:05","",""\n'
)
SALESFORCE = (
    "Lead Owner,First Name,Last Name,Title,Company / Account,Lead Source,Rating,Lead Status,Email,Phone,Mobile,"
    "City,Create Date,Description,Lead ID\n"
    'Sara Steady,Sara,Khan,Director,Khan Trading,Web,Hot,Working - Contacted,sara.khan@example.com,'
    '+971 4 555 0101,,Dubai,3/15/2025,"Wants a 3-bed villa, Arabian Ranches",00Q5g00000AbCdE\n'
    "Sara Steady,Ahmed,Ali,,,Phone Inquiry,Cold,Closed - Not Converted,,+971 52 000 1111,,Dubai,12/01/2024,,"
    "00Q5g00000AbCdF\n"
)
ZOHO = (
    "Record Id,Lead Owner,Company,First Name,Last Name,Email,Phone,Mobile,Lead Source,Lead Status,Rating,"
    "Created Time,Description,Tag\n"
    'zcrm_4876876000000424001,sara@palmcrest.test,Noor Realty,Noor,Hassan,noor@example.com,,+971 50 222 3333,'
    'Cold Call,Pre-Qualified,Active,2025-01-20 11:15:00,Investor from Riyadh,"vip,investor"\n'
)
PIPEDRIVE = (
    "Person - ID,Person - Name,Person - Organization,Person - Email - Work,Person - Email - Home,"
    "Person - Phone - Work,Person - Phone - Mobile,Person - Owner,Person - Labels,Person - Person created\n"
    "118,Fatima Zahra,,fatima@example.com,fatima.home@example.com,+971 4 333 2222,+971 56 444 5555,Sara Steady,"
    "Hot lead,2025-04-02 08:00:00\n"
)
FOLLOW_UP_BOSS = (
    "First Name,Last Name,Stage,Source,Assigned To,Email 1,Email 2,Phone 1,Phone 2,Tags,Price,Background,Created\n"
    'John,Miller,Hot Prospect,Zillow,Sara Steady,john@example.com,,(555) 201-3344,,"Buyer, Pre-approved",750000,'
    "Relocating from Austin,04/05/2025 2:30 PM\n"
)


@pytest.fixture
def sara(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Sara Steady",
                       email="sara@palmcrest.test")


def _import(tenant, text: str, preset: str | None, **options):
    return leads_import_csv(brokerage=tenant.brokerage, actor=tenant.owner, data=text.encode(), preset=preset,
                            dry_run=False, **options)


def _lead(email: str = "", phone: str = "") -> Lead:
    return Lead.objects.get(email=email) if email else Lead.objects.get(phone=phone)


def test_hubspot_contacts_join_the_name_keep_both_phones_and_translate_the_lifecycle(tenant, sara):
    report = _import(tenant, HUBSPOT, "hubspot")

    assert (report.created, report.errors, report.duplicates) == (2, [], [])
    assert report.columns_unmapped == ["Lead Status", "Company Name", "Job Title"]
    layla = _lead("layla.haddad@example.com")
    assert (layla.name, layla.phone, layla.stage, layla.source) == (
        "Layla Haddad", "+971501234567", "qualified", "website")
    assert layla.notes == "Other phone: +971 4 123 4567"  # the landline is kept, the mobile is the phone
    assert (layla.assigned_agent, layla.external_id) == (sara, "51")
    assert layla.created_at == dt.datetime(2025, 3, 1, 9, 30, tzinfo=DUBAI)
    omar = _lead("omar.saleh@example.com")
    assert (omar.stage, omar.source, omar.phone, omar.notes, omar.assigned_agent) == (
        "won", "referral", "+971557654321", "", None)
    entry = AuditLog.objects.get(action="nurturing.leads_imported")
    assert entry.details["preset"] == "hubspot" and entry.details["created"] == 2


def test_a_salesforce_report_reads_us_dates_ratings_and_its_statuses(tenant, sara):
    report = _import(tenant, SALESFORCE, "salesforce")

    assert (report.created, report.errors) == (2, [])
    sara_khan = _lead("sara.khan@example.com")
    assert (sara_khan.name, sara_khan.stage, sara_khan.priority, sara_khan.source) == (
        "Sara Khan", "contacted", "high", "website")
    assert sara_khan.phone == "+97145550101"  # no mobile: the other phone becomes the phone
    assert sara_khan.notes == "Wants a 3-bed villa, Arabian Ranches"
    assert sara_khan.created_at == dt.datetime(2025, 3, 15, tzinfo=DUBAI)  # month first
    ahmed = _lead(phone="+971520001111")
    assert (ahmed.stage, ahmed.priority, ahmed.source, ahmed.external_id) == ("lost", "low", "call", "00Q5g00000AbCdF")
    assert ahmed.created_at == dt.datetime(2024, 12, 1, tzinfo=DUBAI)  # 1 December, not 12 January


def test_a_zoho_export_matches_the_owner_by_email_and_splits_tags(tenant, sara):
    report = _import(tenant, ZOHO, "zoho")

    assert (report.created, report.errors) == (1, [])
    assert "Rating" in report.columns_unmapped  # Zoho's rating is an account status, not a priority
    noor = _lead("noor@example.com")
    assert (noor.name, noor.stage, noor.source, noor.tags, noor.phone) == (
        "Noor Hassan", "qualified", "call", ["vip", "investor"], "+971502223333")
    assert (noor.assigned_agent, noor.external_id, noor.notes) == (sara, "zcrm_4876876000000424001",
                                                                   "Investor from Riyadh")


def test_a_pipedrive_people_export_keeps_the_work_phone_and_labels(tenant, sara):
    report = _import(tenant, PIPEDRIVE, "pipedrive")

    assert (report.created, report.errors) == (1, [])
    fatima = _lead("fatima@example.com")
    assert (fatima.name, fatima.phone, fatima.tags, fatima.assigned_agent) == (
        "Fatima Zahra", "+971564445555", ["hot lead"], sara)
    assert fatima.notes == "Other phone: +971 4 333 2222"
    assert report.columns_unmapped == ["Person - Organization", "Person - Email - Home"]


def test_a_follow_up_boss_export_reads_its_stages_price_and_us_times(tenant, sara):
    report = _import(tenant, FOLLOW_UP_BOSS, "follow_up_boss")

    assert (report.created, report.errors) == (1, [])
    john = _lead("john@example.com")
    assert (john.name, john.stage, john.source, john.budget_max, john.budget_min) == (
        "John Miller", "qualified", "portal", Decimal("750000.00"), None)
    assert (john.tags, john.notes, john.phone) == (["buyer", "pre-approved"], "Relocating from Austin", "5552013344")
    assert john.created_at == dt.datetime(2025, 4, 5, 14, 30, tzinfo=DUBAI)


@pytest.mark.parametrize(("text", "expected"), [
    (HUBSPOT, "hubspot"), (SALESFORCE, "salesforce"), (ZOHO, "zoho"), (PIPEDRIVE, "pipedrive"),
    (FOLLOW_UP_BOSS, "follow_up_boss"),
    # Spelling does not matter: case, spaces and punctuation are ignored.
    ("record id,FIRST NAME,last_name,E-MAIL,mobile phone number,lifecycle stage\n", "hubspot"),
    # A plain sheet, or one no CRM wrote, is "Custom": the auto-mapping of common names handles it.
    ("Name,Email,Phone\n", None),
    ("First Name,Last Name,Email,Phone\n", None),
    ("Client,Contact,Colour\n", None),
])
def test_the_preset_is_detected_from_the_headers(text, expected):
    detected = preset_detect(csv_read(text.encode()).headers)
    assert (detected.key if detected else None) == expected


def test_every_preset_maps_to_import_fields_and_says_how_it_combines():
    for preset in PRESETS:
        assert set(preset.columns.values()) - {""} <= set(IMPORT_FIELDS), preset.key
        assert preset.combined, preset.key
        for name, words in preset.values.items():
            assert name in IMPORT_FIELDS and words, preset.key


def test_the_mapping_overrides_a_preset_column_and_unknown_presets_are_named(tenant, sara):
    report = _import(tenant, HUBSPOT, "hubspot", mapping={"Lifecycle Stage": "", "Lead Status": "stage"})
    assert _lead("layla.haddad@example.com").stage == "contacted"  # "In Progress", a HubSpot lead status
    assert _lead("omar.saleh@example.com").stage == "new"  # no status: a new lead
    assert "Lifecycle Stage" in report.columns_unmapped

    with pytest.raises(ValidationError) as caught:
        _import(tenant, HUBSPOT, "hubspt")
    assert caught.value.messages == [
        "“hubspt” is not a CRM preset (use agent_excellence, hubspot, salesforce, zoho, pipedrive, "
        "follow_up_boss)."]


def test_a_stage_the_preset_does_not_know_is_reported_with_its_row(tenant, sara):
    text = SALESFORCE.replace("Working - Contacted", "Nurturing")
    report = _import(tenant, text, "salesforce")
    assert report.created == 1
    assert report.errors == [(2, "unknown stage “Nurturing” (use new, contacted, qualified, viewing, offer, won, "
                                 "lost).")]


def test_without_a_preset_a_second_phone_column_is_still_kept(tenant):
    report = _import(tenant, "Name,Phone,Mobile,Do Not Contact,Next Follow-up\n"
                             "Layla,04 123 4567,050 123 4567,yes,2025-06-01\n"
                             "Omar,,055 765 4321,maybe,soon\n", None)
    assert report.mapping == {"Name": "name", "Phone": "phone", "Mobile": "phone_other",
                              "Do Not Contact": "do_not_contact", "Next Follow-up": "next_followup_date"}
    layla = Lead.objects.get(name="Layla")
    assert (layla.phone, layla.notes, layla.do_not_contact) == ("041234567", "Other phone: 050 123 4567", True)
    assert layla.next_followup_date == dt.date(2025, 6, 1)
    assert report.errors == [(3, "do not contact “maybe” is not yes or no; next follow-up “soon” is not a date "
                                 "(use 2025-03-31).")]


def test_the_api_import_takes_a_preset_and_refuses_an_unknown_one(tenant, sara):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.api_helpers import api_as, assert_error

    client = api_as(tenant.owner)
    response = client.post("/api/nurturing/leads/import", {
        "file": SimpleUploadedFile("contacts.csv", HUBSPOT.encode()), "preset": "hubspot"}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    assert _lead("layla.haddad@example.com").name == "Layla Haddad"  # HubSpot's first and last name, joined
    error = assert_error(client.post("/api/nurturing/leads/import", {
        "file": SimpleUploadedFile("contacts.csv", HUBSPOT.encode()), "preset": "hubspt"}, format="multipart"), 400)
    assert list(error["fields"]) == ["preset"]
    assert Lead.objects.count() == 2
