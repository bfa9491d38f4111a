"""The leads and interactions API: same rules as the pages, JSON errors a client can act on."""

import pytest

from brokerages.models import Role
from nurturing.models import Lead
from tests.api_helpers import api_as, assert_error
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db


def test_an_agent_creates_lists_and_updates_their_leads(tenant):
    api = api_as(tenant.agent)
    response = api.post("/api/nurturing/leads", {"name": "Noura Saeed", "email": "noura@example.com",
                                                 "areas": ["Arabian Ranches"], "budget_min": "3000000"},
                        format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["assigned_agent_id"] == tenant.agent.pk and created["stage"] == "new"

    listed = api.get("/api/nurturing/leads").json()
    assert [row["name"] for row in listed["results"]] == ["Noura Saeed"] and listed["count"] == 1

    changed = api.patch(f"/api/nurturing/leads/{created['id']}", {"priority": "urgent", "tags": ["VIP"]},
                        format="json").json()
    assert changed["priority"] == "urgent" and changed["tags"] == ["vip"]


def test_invalid_fields_answer_400_naming_each_field(tenant):
    api = api_as(tenant.agent)
    error = assert_error(api.post("/api/nurturing/leads", {"name": "", "email": "not-an-email"}, format="json"), 400)
    assert {"name", "email"} == set(error["fields"])
    error = assert_error(api.post("/api/nurturing/leads", {"name": "X", "brokerage": 99}, format="json"), 400)
    assert set(error["fields"]) == {"brokerage"}
    error = assert_error(api.post("/api/nurturing/leads", {"name": "X", "budget_min": "5", "budget_max": "1"},
                                  format="json"), 400)
    assert "maximum is below its minimum" in error["message"]
    assert not Lead.objects.exists()


def test_another_agents_lead_is_forbidden_and_another_brokerages_is_not_found(tenant, other_tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    theirs = make_lead(tenant.brokerage, agent=colleague)
    foreign = make_lead(other_tenant.brokerage, agent=other_tenant.agent)
    api = api_as(tenant.agent)
    assert_error(api.get(f"/api/nurturing/leads/{theirs.pk}"), 403)
    assert_error(api.get(f"/api/nurturing/leads/{foreign.pk}"), 404)
    assert api.get("/api/nurturing/leads").json()["count"] == 0


def test_stage_assignment_and_interactions_through_the_api(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    owner = api_as(tenant.owner)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)

    assert owner.post(f"/api/nurturing/leads/{lead.pk}/assign", {"agent_id": colleague.pk},
                      format="json").json()["assigned_agent_id"] == colleague.pk
    assert_error(api_as(tenant.agent).post(f"/api/nurturing/leads/{lead.pk}/assign", {"agent_id": None},
                                           format="json"), 403)

    logged = owner.post(f"/api/nurturing/leads/{lead.pk}/interactions",
                        {"channel": "whatsapp", "summary": "Sent the brochure"}, format="json")
    assert logged.status_code == 201
    lead.refresh_from_db()
    assert lead.stage == "contacted" and lead.last_contacted_at is not None

    error = assert_error(owner.post(f"/api/nurturing/leads/{lead.pk}/stage", {"stage": "lost"}, format="json"), 400)
    assert "lost_reason" in error["fields"]

    interaction_id = logged.json()["id"]
    assert owner.delete(f"/api/nurturing/interactions/{interaction_id}").status_code == 204
    lead.refresh_from_db()
    assert lead.last_contacted_at is None and lead.first_contacted_at is None
