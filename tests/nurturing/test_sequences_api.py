"""The seed's nurturing sequence endpoints and the enrolment endpoints, through a member's token: the shapes, the
step errors as integrators read them, who may do what, and the 403/404 lines between agents and brokerages."""

import pytest
import yaml
from rest_framework.test import APIClient

from brokerages.models import Role
from nurturing.models import Enrollment, NurturingSequence
from nurturing.services import sequences as services
from tests.api_helpers import api_as, assert_error
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db

SEQUENCES = "/api/nurturing/sequences"
STEPS = [{"delay_days": 0, "channel": "email", "subject": "Welcome", "body": "Hi {{ first_name }}"},
         {"delay_days": 3, "channel": "whatsapp", "instruction": "Offer a viewing in their areas."}]
SEQUENCE_KEYS = {"id", "name", "type", "steps", "is_active", "created_by", "created_at", "updated_at"}
ENROLLMENT_KEYS = {"id", "lead_id", "lead_name", "sequence_id", "status", "stop_reason", "next_step", "next_due_at",
                   "enrolled_by", "enrolled_at", "updated_at"}


def _sequence(tenant, name="Welcome", is_active=True):
    return services.sequence_create(brokerage=tenant.brokerage, actor=tenant.owner, name=name,
                                    sequence_type="new_lead", steps=STEPS, is_active=is_active)


def _enrollments_url(sequence) -> str:
    return f"{SEQUENCES}/{sequence.pk}/enrollments"


def _action_url(enrollment, action) -> str:
    return f"/api/nurturing/enrollments/{enrollment.pk}/{action}"


def test_the_owner_creates_a_sequence_and_gets_the_seeds_shape(tenant):
    response = api_as(tenant.owner).post(SEQUENCES, {"name": "Welcome", "type": "new_lead", "steps": STEPS},
                                         format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SEQUENCE_KEYS
    assert (body["name"], body["type"], body["steps"], body["is_active"], body["created_by"]) == (
        "Welcome", "new_lead", STEPS, True, tenant.owner.pk)
    assert NurturingSequence.objects.get().pk == body["id"]


@pytest.mark.parametrize(("step", "message"), [
    ({"delay_days": -1, "channel": "email", "body": "Hi"}, "Step 2: delay_days cannot be negative."),
    ({"delay_days": 1, "channel": "email", "body": "Dear {{ title }}"},
     "Step 2: unknown merge field(s) in the body: title"),
    ({"delay_days": 1, "channel": "sms", "body": "Hi", "instruction": "Greet"}, "Step 2: give either a message body"),
    ({"delay_days": 1, "channel": "fax", "body": "Hi"}, "Step 2: channel must be one of email, sms, whatsapp, call."),
])
def test_bad_steps_answer_400_with_the_step_and_the_fix(tenant, step, message):
    response = api_as(tenant.owner).post(SEQUENCES, {"name": "Welcome", "type": "new_lead",
                                                     "steps": [STEPS[0], step]}, format="json")

    error = assert_error(response, 400)
    assert list(error["fields"]) == ["steps"] and error["fields"]["steps"][0].startswith(message)
    assert not NurturingSequence.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "Welcome", "type": "drip", "steps": STEPS}, "type"),
    ({"name": "Welcome", "type": "new_lead", "steps": "email them"}, "steps"),
    ({"name": "Welcome", "type": "new_lead", "steps": []}, "steps"),
    ({"name": "Welcome", "type": "new_lead", "steps": STEPS, "brokerage": 9}, "brokerage"),
])
def test_other_bad_bodies_name_the_field(tenant, body, field):
    assert field in assert_error(api_as(tenant.owner).post(SEQUENCES, body, format="json"), 400)["fields"]


def test_a_taken_name_is_refused_on_the_name(tenant):
    _sequence(tenant)
    error = assert_error(api_as(tenant.owner).post(SEQUENCES, {"name": "WELCOME", "type": "new_lead",
                                                               "steps": STEPS}, format="json"), 400)
    assert error["fields"]["name"] == ["There is already a sequence called “WELCOME”."]


def test_members_list_sequences_and_only_builders_see_switched_off_ones(tenant):
    _sequence(tenant, name="Welcome")
    _sequence(tenant, name="Old drip", is_active=False)

    assert [s["name"] for s in api_as(tenant.owner).get(SEQUENCES).json()["results"]] == ["Old drip", "Welcome"]
    for member in (tenant.agent, tenant.support):
        listed = api_as(member).get(SEQUENCES).json()["results"]
        assert [s["name"] for s in listed] == ["Welcome"] and set(listed[0]) == SEQUENCE_KEYS


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPPORT_STAFF])
def test_only_owners_create_or_change_sequences(tenant, role):
    sequence = _sequence(tenant)
    client = api_as(tenant.member(role))

    assert_error(client.post(SEQUENCES, {"name": "Mine", "type": "new_lead", "steps": STEPS}, format="json"), 403)
    assert_error(client.patch(f"{SEQUENCES}/{sequence.pk}", {"name": "Renamed"}, format="json"), 403)
    assert NurturingSequence.objects.get().name == "Welcome"


def test_patch_changes_steps_and_switches_off(tenant):
    sequence = _sequence(tenant)
    client = api_as(tenant.owner)

    body = client.patch(f"{SEQUENCES}/{sequence.pk}", {"steps": STEPS[:1], "is_active": False}, format="json").json()

    assert body["steps"] == STEPS[:1] and body["is_active"] is False
    assert client.get(f"{SEQUENCES}/{sequence.pk}").json()["is_active"] is False
    assert_error(api_as(tenant.agent).get(f"{SEQUENCES}/{sequence.pk}"), 404)  # agents see active ones only
    error = assert_error(client.patch(f"{SEQUENCES}/{sequence.pk}", {"steps": [{"channel": "email"}]},
                                      format="json"), 400)
    assert "Step 1: give either a message body" in error["fields"]["steps"][0]


def test_another_brokerages_sequence_is_404(tenant, other_tenant):
    sequence = _sequence(other_tenant)
    client = api_as(tenant.owner)
    assert_error(client.get(f"{SEQUENCES}/{sequence.pk}"), 404)
    assert_error(client.patch(f"{SEQUENCES}/{sequence.pk}", {"name": "Mine"}, format="json"), 404)
    assert_error(client.post(_enrollments_url(sequence), {"lead_id": 1}, format="json"), 404)


# --- enrolments -------------------------------------------------------------------------------------------------

def test_an_agent_enrols_their_lead_and_enrolling_again_resumes(tenant):
    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Layla Haddad")
    client = api_as(tenant.agent)

    body = client.post(_enrollments_url(sequence), {"lead_id": lead.pk}, format="json").json()
    assert set(body) == ENROLLMENT_KEYS
    assert (body["lead_name"], body["status"], body["next_step"], body["enrolled_by"]) == (
        "Layla Haddad", "active", 0, tenant.agent.pk)

    assert client.post(_action_url(Enrollment.objects.get(), "stop"), {"reason": "On holiday"},
                       format="json").json()["stop_reason"] == "On holiday"
    again = client.post(_enrollments_url(sequence), {"lead_id": lead.pk}, format="json").json()
    assert again["id"] == body["id"] and again["status"] == "active" and again["stop_reason"] == ""
    assert Enrollment.objects.count() == 1


def test_an_opted_out_lead_is_refused_with_the_reason(tenant):
    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Nadia Saleh", do_not_contact=True)

    error = assert_error(api_as(tenant.agent).post(_enrollments_url(sequence), {"lead_id": lead.pk}, format="json"),
                         400)

    assert "Nadia Saleh asked not to be contacted" in error["fields"]["lead"][0]
    assert not Enrollment.objects.exists()


def test_another_agents_lead_is_403_and_another_brokerages_lead_is_404(tenant, other_tenant):
    sequence = _sequence(tenant)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    theirs = make_lead(tenant.brokerage, agent=colleague)
    foreign = make_lead(other_tenant.brokerage, agent=other_tenant.agent)
    client = api_as(tenant.agent)

    assert_error(client.post(_enrollments_url(sequence), {"lead_id": theirs.pk}, format="json"), 403)
    assert_error(client.post(_enrollments_url(sequence), {"lead_id": foreign.pk}, format="json"), 404)
    enrollment = services.enrollment_enrol(brokerage=tenant.brokerage, actor=colleague, lead=theirs,
                                           sequence=sequence)
    assert_error(client.post(_action_url(enrollment, "pause")), 403)
    assert_error(api_as(other_tenant.owner).post(_action_url(enrollment, "pause")), 404)
    enrollment.refresh_from_db()
    assert enrollment.status == "active"
    # Owners steer every enrolment; support staff read them but do not enrol.
    assert api_as(tenant.owner).post(_action_url(enrollment, "pause")).json()["status"] == "paused"
    assert_error(api_as(tenant.support).post(_enrollments_url(sequence), {"lead_id": theirs.pk}, format="json"), 403)


def test_the_enrolment_list_shows_an_agent_their_own_leads_only(tenant):
    sequence = _sequence(tenant)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    for agent, name in ((tenant.agent, "Mine Mansour"), (colleague, "Theirs Tamimi")):
        services.enrollment_enrol(brokerage=tenant.brokerage, actor=agent, sequence=sequence,
                                  lead=make_lead(tenant.brokerage, agent=agent, name=name))

    mine = api_as(tenant.agent).get(_enrollments_url(sequence)).json()
    everyone = api_as(tenant.support).get(_enrollments_url(sequence)).json()

    assert [item["lead_name"] for item in mine["results"]] == ["Mine Mansour"]
    assert sorted(item["lead_name"] for item in everyone["results"]) == ["Mine Mansour", "Theirs Tamimi"]


def test_pause_resume_stop_and_the_transitions_that_make_no_sense(tenant):
    sequence = _sequence(tenant)
    enrollment = services.enrollment_enrol(brokerage=tenant.brokerage, actor=tenant.agent, sequence=sequence,
                                           lead=make_lead(tenant.brokerage, agent=tenant.agent))
    client = api_as(tenant.agent)

    paused = client.post(_action_url(enrollment, "pause")).json()
    assert (paused["status"], paused["next_due_at"]) == ("paused", None)
    error = assert_error(client.post(_action_url(enrollment, "pause")), 400)
    assert "is paused, so it cannot be paused" in error["message"] + str(error["fields"])
    assert client.post(_action_url(enrollment, "resume")).json()["next_due_at"] is not None
    assert "reason" in assert_error(client.post(_action_url(enrollment, "pause"), {"reason": "x"}, format="json"),
                                    400)["fields"]
    stopped = client.post(_action_url(enrollment, "stop")).json()
    assert stopped["status"] == "stopped" and stopped["stop_reason"].startswith("Stopped by")
    assert client.post(f"/api/nurturing/enrollments/{enrollment.pk}/restart").status_code == 404


def test_the_openapi_schema_documents_the_sequence_endpoints(db):
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    paths = schema["paths"]

    assert {"get", "post"} <= set(paths[SEQUENCES])
    assert {"get", "patch"} <= set(paths[SEQUENCES + "/{id}"])
    assert {"get", "post"} <= set(paths[SEQUENCES + "/{id}/enrollments"])
    assert "post" in paths["/api/nurturing/enrollments/{id}/{action}"]
    components = schema["components"]["schemas"]
    assert SEQUENCE_KEYS <= set(components["NurturingSequence"]["properties"])
    assert {"delay_days", "channel", "subject", "body", "instruction"} <= set(
        components["NurturingSequenceStep"]["properties"])
    created = paths[SEQUENCES]["post"]["responses"]["201"]["content"]["application/json"]["schema"]
    assert created["$ref"].endswith("/NurturingSequence")
