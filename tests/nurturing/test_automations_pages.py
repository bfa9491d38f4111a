"""The automation builder as an owner uses it (forms, never JSON), what agents may read, and the API."""

import pytest
from django.urls import reverse

from brokerages.models import Role
from nurturing.models import AutomationRun, NurturingSequence, WorkflowAutomation
from nurturing.services.automations import automation_create
from nurturing.services.leads import lead_create
from tests.api_helpers import api_as, assert_error
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

STEPS = [{"delay_days": 0, "channel": "email", "body": "Hello {{ first_name }}"}]


@pytest.fixture
def sequence(tenant):
    return NurturingSequence.objects.create(brokerage=tenant.brokerage, name="Welcome", sequence_type="new_lead",
                                            steps=STEPS)


def _form(**overrides) -> dict:
    data = {"name": "Portal leads", "workflow_type": "nurturing", "trigger": "lead_created", "is_active": "on",
            "actions-TOTAL_FORMS": "2", "actions-INITIAL_FORMS": "1", "actions-MIN_NUM_FORMS": "0",
            "actions-MAX_NUM_FORMS": "10"}
    data.update(overrides)
    return data


def _automation(tenant, name="Tagger", actions=None, **trigger):
    return automation_create(brokerage=tenant.brokerage, actor=tenant.owner, name=name,
                             trigger_conditions={"trigger": "lead_created", **trigger},
                             actions=actions or [{"type": "add_tag", "tag": "new"}])


def test_an_owner_builds_an_automation_with_forms(login, tenant, sequence):
    client = login(tenant.owner)
    assert "Add an action" in client.get(reverse("nurturing:automation_new")).content.decode()

    response = client.post(reverse("nurturing:automation_new"), _form(**{
        "sources": ["portal", "website"], "budget_min": "1000000", "areas": "Dubai Marina, JVC",
        "idle_days": "30",  # belongs to another trigger: ignored
        "actions-0-type": "assign_agent", "actions-0-agent": "round_robin",
        "actions-1-type": "enrol_in_sequence", "actions-1-sequence": str(sequence.pk)}))

    automation = WorkflowAutomation.objects.get(name="Portal leads")
    assert response.status_code == 302 and response["Location"] == reverse("nurturing:automation",
                                                                           args=[automation.pk])
    assert automation.trigger_conditions == {"trigger": "lead_created", "conditions": {
        "source": ["portal", "website"], "area": ["Dubai Marina", "JVC"], "budget_min": "1000000"}}
    assert automation.actions == [{"type": "assign_agent", "agent_id": "round_robin"},
                                  {"type": "enrol_in_sequence", "sequence_id": sequence.pk}]
    assert automation.is_active and automation.created_by == tenant.owner

    page = client.get(response["Location"]).content.decode()
    assert "Assign to the next agent (round robin)" in page and "Enrol in “Welcome”" in page
    assert "source is Property portal or Website" in page


def test_the_builder_shows_errors_next_to_their_fields(login, tenant, sequence):
    _automation(tenant, name="Taken")
    client = login(tenant.owner)

    page = client.post(reverse("nurturing:automation_new"), _form(**{
        "name": "taken", "trigger": "idle", "budget_min": "3000000", "budget_max": "1000000",
        "actions-0-type": "notify", "actions-0-recipient": "owners", "actions-0-message": "Hi {{ shoe }}",
        "actions-1-type": "add_tag"})).content.decode()

    assert not WorkflowAutomation.objects.filter(name__iexact="portal leads").exists()
    assert "Required for this action." in page  # the tag of action 2
    page = client.post(reverse("nurturing:automation_new"), _form(**{
        "name": "taken", "trigger": "idle", "budget_min": "3000000", "budget_max": "1000000",
        "actions-TOTAL_FORMS": "1", "actions-0-type": "notify", "actions-0-recipient": "owners",
        "actions-0-message": "Hi {{ shoe }}"})).content.decode()
    assert "There is already an automation called “taken”." in page
    assert "The idle trigger needs idle_days." in page
    assert "Is below budget_min." in page
    assert "Unknown merge field(s) shoe" in page


def test_an_action_row_is_drawn_for_the_chosen_type(login, tenant, sequence):
    client = login(tenant.owner)
    url = reverse("nurturing:automation_action_form")

    row = client.get(url, {"index": "1", "actions-1-type": "enrol_in_sequence"}).content.decode()
    assert 'name="actions-1-sequence"' in row and "Welcome" in row and 'name="actions-1-url"' not in row
    assert "hx-swap-oob" not in row

    added = client.get(url, {"actions-TOTAL_FORMS": "2"}).content.decode()
    assert 'name="actions-2-type"' in added and "Action 3" in added
    assert 'id="id_actions-TOTAL_FORMS" hx-swap-oob="true"' in added and 'value="3"' in added
    assert "At most 10 actions" in client.get(url, {"actions-TOTAL_FORMS": "10"}).content.decode()


def test_the_edit_page_is_filled_from_the_automation(login, tenant, sequence):
    automation = _automation(tenant, actions=[{"type": "enrol_in_sequence", "sequence_id": sequence.pk},
                                              {"type": "call_webhook", "url": "https://crm.example.com/hook"}],
                             conditions={"tag": ["vip"]})
    page = login(tenant.owner).get(reverse("nurturing:automation_edit", args=[automation.pk])).content.decode()
    assert 'value="Tagger"' in page and 'value="vip"' in page
    assert f'<option value="{sequence.pk}" selected>Welcome</option>' in page
    assert 'value="https://crm.example.com/hook"' in page


def test_agents_read_the_list_and_their_own_runs_only(login, tenant):
    automation = _automation(tenant)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    lead_create(brokerage=tenant.brokerage, actor=tenant.owner, data={"name": "Mine Mansour", "phone": "0501"},
                assigned_agent=tenant.agent)
    lead_create(brokerage=tenant.brokerage, actor=tenant.owner, data={"name": "Theirs Tamimi", "phone": "0502"},
                assigned_agent=colleague)
    assert AutomationRun.objects.filter(automation=automation).count() == 2

    client = login(tenant.agent)
    page = client.get(reverse("nurturing:automations")).content.decode()
    assert "Tagger" in page and "New automation" not in page and "Switch off" not in page
    page = client.get(reverse("nurturing:automation", args=[automation.pk])).content.decode()
    assert "Mine Mansour" in page and "Theirs Tamimi" not in page and "Edit" not in page

    page = login(tenant.owner).get(reverse("nurturing:automation", args=[automation.pk])).content.decode()
    assert "Mine Mansour" in page and "Theirs Tamimi" in page and "Tagged “new”." in page


def test_switching_on_an_automation_whose_sequence_was_retired_explains_why_not(login, tenant, sequence):
    automation = _automation(tenant, actions=[{"type": "enrol_in_sequence", "sequence_id": sequence.pk}])
    client = login(tenant.owner)
    client.post(reverse("nurturing:automation_toggle", args=[automation.pk]))
    automation.refresh_from_db()
    assert not automation.is_active
    NurturingSequence.objects.filter(pk=sequence.pk).update(is_active=False)

    page = client.post(reverse("nurturing:automation_toggle", args=[automation.pk]), {"next": "detail"},
                       follow=True).content.decode()

    automation.refresh_from_db()
    assert not automation.is_active
    assert "stays off until it is fixed: Action 1 (sequence): no such active sequence." in page


# --- API ------------------------------------------------------------------------------------------------------------


def test_api_creates_reads_and_changes_automations(tenant, sequence):
    owner = api_as(tenant.owner)
    body = {"name": "Portal", "trigger_conditions": {"trigger": "lead_created", "conditions": {"source": ["portal"]}},
            "actions": [{"type": "assign_agent", "agent_id": "round_robin"},
                        {"type": "enrol_in_sequence", "sequence_id": sequence.pk}]}
    created = owner.post("/api/nurturing/automations", body, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["workflow_type"] == "nurturing" and data["is_active"] is True
    assert data["trigger_conditions"] == body["trigger_conditions"] and data["actions"] == body["actions"]

    changed = owner.patch(f"/api/nurturing/automations/{data['id']}", {"is_active": False}, format="json")
    assert changed.status_code == 200 and changed.json()["is_active"] is False

    listed = api_as(tenant.agent).get("/api/nurturing/automations").json()
    assert [item["name"] for item in listed["results"]] == ["Portal"]


def test_api_errors_name_the_path(tenant, sequence):
    owner = api_as(tenant.owner)
    error = assert_error(owner.post("/api/nurturing/automations", {
        "name": "Bad", "trigger_conditions": {"trigger": "idle", "idle_days": 400},
        "actions": [{"type": "add_tag", "tag": "x"}, {"type": "enrol_in_sequence", "sequence_id": 424242}]},
        format="json"), 400)
    assert error["fields"] == {"trigger_conditions.idle_days": ["must be a whole number of days from 1 to 365."],
                               "actions[1].sequence_id": ["no such active sequence."]}

    automation = _automation(tenant)
    error = assert_error(owner.patch(f"/api/nurturing/automations/{automation.pk}",
                                     {"actions": [{"type": "assign_agent"}], "brokerage": 2}, format="json"), 400)
    assert error["fields"] == {"brokerage": ["Unknown field."]}
    error = assert_error(owner.patch(f"/api/nurturing/automations/{automation.pk}",
                                     {"actions": [{"type": "assign_agent"}]}, format="json"), 400)
    assert error["fields"] == {"actions[0].agent_id": ["required."]}
    assert_error(api_as(tenant.agent).post("/api/nurturing/automations", {}, format="json"), 403)


def test_api_run_log_shows_agents_their_own_leads(tenant):
    automation = _automation(tenant)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    mine = lead_create(brokerage=tenant.brokerage, actor=tenant.owner, data={"name": "Mine", "phone": "0501"},
                       assigned_agent=tenant.agent)
    lead_create(brokerage=tenant.brokerage, actor=tenant.owner, data={"name": "Theirs", "phone": "0502"},
                assigned_agent=colleague)

    runs = api_as(tenant.agent).get(f"/api/nurturing/automations/{automation.pk}/runs").json()["results"]
    assert [(run["lead_id"], run["lead_name"], run["status"]) for run in runs] == [(mine.pk, "Mine", "succeeded")]
    assert runs[0]["detail"] == {"actions": [{"type": "add_tag", "result": "Tagged “new”."}]}
    assert api_as(tenant.owner).get(f"/api/nurturing/automations/{automation.pk}/runs").json()["count"] == 2


def test_openapi_documents_the_automation_endpoints(client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/nurturing/automations"])
    assert {"get", "patch"} <= set(paths["/api/nurturing/automations/{id}"])
    assert "get" in paths["/api/nurturing/automations/{id}/runs"]
