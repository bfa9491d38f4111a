"""The mapping step of the import as a person meets it: the detected CRM preselected, a preset applied with a
plain submit or swapped in by htmx, every column still changeable, the preview of the first rows as they will be
stored with each row's problem, required fields named; and files that cannot be imported refused whole with a
message a person can act on."""

import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from brokerages.models import AuditLog, Role
from nurturing.models import Lead
from nurturing.services import ingestion as services
from tests.factories import UserFactory, make_lead

from .test_crm_presets import HUBSPOT

pytestmark = pytest.mark.django_db


@pytest.fixture
def sara(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Sara Steady",
                       email="sara@palmcrest.test")


def _upload(client, text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    response = client.post(reverse("nurturing:import"), {"file": SimpleUploadedFile("export.csv", data)})
    assert response.status_code == 302, response.content.decode()[:500]
    return response["Location"]


def _selected(page: str, name: str) -> str:
    """The value chosen in the select called `name` of a rendered page."""
    select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
    chosen = re.search(r'<option value="([^"]*)" selected>', select)
    return chosen.group(1) if chosen else ""


def test_the_detected_preset_is_preselected_and_the_preview_shows_leads_as_stored(login, tenant, sara):
    client = login(tenant.owner)
    map_url = _upload(client, HUBSPOT)

    response = client.get(map_url)
    page = response.content.decode()
    assert response.status_code == 200
    assert '<option value="hubspot" selected>HubSpot contacts export</option>' in page
    assert '<option value="first_name" selected>' in page and '<option value="phone_other" selected>' in page
    assert "First Name + Last Name make the name." in page  # how the preset combines split values
    preview = response.context["preview_rows"]
    assert [row["cells"][:7] for row in preview] == [
        ["Layla Haddad", "layla.haddad@example.com", "+971501234567", "Qualified", "Website", "", "Sara Steady"],
        ["Omar Saleh", "omar.saleh@example.com", "+971557654321", "Won", "Referral", "", "Unassigned"],
    ]
    assert preview[0]["cells"][7] == "2025-03-01 09:30"
    assert "Notes: Other phone: +971 4 123 4567" in preview[0]["cells"][8]
    assert [row["outcome"] for row in preview] == ["New lead", "New lead"]
    assert "Not imported (no lead field chosen): Lead Status, Company Name, Job Title." in page
    assert not Lead.objects.exists()  # the preview stores nothing


def test_custom_is_preselected_for_an_unknown_sheet_and_a_preset_applies_without_javascript(login, tenant, sara):
    client = login(tenant.support)
    # Part of a Salesforce report, retyped: too little of it to tell, so the names alone decide at first.
    map_url = _upload(client, "Given Name,Surname,Email,Lead Status,Rating\n"
                              "Sara,Khan,sara.khan@example.com,Working - Contacted,Hot\n")

    response = client.get(map_url)
    assert '<option value="" selected>Custom (map the columns yourself)</option>' in response.content.decode()
    assert response.context["preview_rows"][0]["outcome"].startswith("unknown stage “Working - Contacted”")

    response = client.post(map_url, {"action": "preset", "preset": "salesforce", "run_automations": "on"})
    page = response.content.decode()
    form = response.context["form"]
    assert '<option value="salesforce" selected>Salesforce leads report</option>' in page
    assert form.initial["run_automations"] is True
    assert [form[f"col_{index}"].value() for index in range(5)] == [
        "first_name", "last_name", "email", "stage", "priority"]
    assert response.context["preview_rows"][0]["cells"][:4] == ["Sara Khan", "sara.khan@example.com", "",
                                                                "Contacted"]
    assert response.context["preview_rows"][0]["outcome"] == "New lead"

    response = client.post(map_url, {**form.initial, **{f"col_{index}": form[f"col_{index}"].value()
                                                         for index in range(5)}, "action": "import"})
    assert "Import finished" in response.content.decode()
    lead = Lead.objects.get()
    assert (lead.name, lead.stage, lead.priority) == ("Sara Khan", "contacted", "high")
    assert lead.pk and not lead.assigned_agent


def test_htmx_swaps_the_mapping_form_when_a_preset_or_a_column_changes(login, tenant, sara):
    client = login(tenant.owner)
    map_url = _upload(client, HUBSPOT)
    headers = services.csv_read(HUBSPOT.encode()).headers
    htmx = {"HTTP_HX_REQUEST": "true"}

    response = client.post(map_url, {"action": "preset", "preset": ""}, **htmx)
    page = response.content.decode()
    assert page.lstrip().startswith('<form id="mapping"') and "<html" not in page
    # Custom: the names alone decide. HubSpot's "Lead Status" is now the stage, the lifecycle is not mapped.
    assert _selected(page, f"col_{headers.index('Lead Status')}") == "stage"
    assert _selected(page, f"col_{headers.index('Lifecycle Stage')}") == ""

    chosen = {f"col_{index}": value for index, value in enumerate(
        ["external_id", "first_name", "last_name", "email", "", "phone", "agent", "stage", "", "source",
         "created_at", "", ""])}
    response = client.post(map_url, {**chosen, "preset": "hubspot", "action": "preview"}, **htmx)
    page = response.content.decode()
    assert response.status_code == 200 and page.lstrip().startswith('<form id="mapping"')
    assert _selected(page, f"col_{headers.index('Phone Number')}") == ""  # the person's choice is kept
    assert "<td>+971501234567</td>" in page and "Other phone: +971 4" not in page  # the landline is ignored
    assert not Lead.objects.exists()


def test_the_preview_shows_each_rows_problem_and_duplicates(login, tenant):
    make_lead(tenant.brokerage, name="Existing", email="taken@example.com")
    client = login(tenant.owner)
    map_url = _upload(client, "Name,Email,Stage\nGood,good@example.com,new\nBad,not-mail,Limbo\n"
                              "Again,TAKEN@example.com,\n")

    rows = client.get(map_url).context["preview_rows"]
    assert [(row["number"], row["cells"][0], row["outcome"]) for row in rows] == [
        (2, "Good", "New lead"),
        (3, "Bad", "“not-mail” is not an e-mail address; unknown stage “Limbo” (use new, contacted, qualified, "
                   "viewing, offer, won, lost)."),
        (4, "Again", "Skipped: already a lead: Existing has the e-mail taken@example.com."),
    ]
    assert [row["kind"] for row in rows] == ["", "error", "muted"]


def test_unmapped_required_fields_are_named_and_nothing_is_imported(login, tenant):
    client = login(tenant.owner)
    map_url = _upload(client, "First Name,Company\nLayla,Haddad Holdings\n")

    page = client.get(map_url).content.decode()
    assert "Before anything can be imported:" in page
    assert "Map a column to the e-mail or the phone: leads are matched and reached by them." in page

    response = client.post(map_url, {"col_0": "first_name", "col_1": "", "action": "import"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Nothing was imported: the columns cannot be imported as mapped." in page
    assert not Lead.objects.exists() and not AuditLog.objects.filter(action="nurturing.leads_imported").exists()
    assert client.get(map_url).status_code == 200  # the upload is kept to fix the mapping


@pytest.mark.parametrize(("data", "message"), [
    ("Name,Email\nJosé Núñez,jose@example.com\n".encode("latin-1"),
     "The file is not UTF-8 text (byte 15 cannot be read). In Excel, save it as “CSV UTF-8 (Comma delimited)”."),
    ("Name,Email\nLayla,l@example.com\n".encode("utf-16"), "The file is not UTF-8 text"),
    (b"\n\n", "The first row must name the columns (e.g. Full Name, E-mail, Mobile)."),
    (b"", "The submitted file is empty."),
])
def test_a_file_that_cannot_be_read_is_refused_with_what_to_do(login, tenant, settings, data, message):
    response = login(tenant.owner).post(reverse("nurturing:import"),
                                        {"file": SimpleUploadedFile("export.csv", data)})
    assert response.status_code == 200 and message in response.content.decode()
    assert not Lead.objects.exists()
    assert not (Path(settings.MEDIA_ROOT) / "imports").exists()


def test_the_service_refuses_a_file_or_mapping_whole(tenant):
    for data, message in (
            (b"", "The file is empty."),
            ("Name,Email\nJosé,j@example.com\n".encode("cp1252"), "The file is not UTF-8 text"),
            (b"Name,Company\nLayla,Acme\n", "Map a column to the e-mail or the phone"),
            (b"Company,Email\nAcme,a@example.com\n", "Map a column to the lead's name")):
        with pytest.raises(ValidationError) as caught:
            services.leads_import_csv(brokerage=tenant.brokerage, actor=tenant.owner, data=data, preset="hubspot",
                                      dry_run=False)
        assert caught.value.messages[0].startswith(message)
    assert not Lead.objects.exists()
