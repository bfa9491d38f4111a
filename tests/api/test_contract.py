"""What every API route shares, as an integrator meets it: pages of results, query filters and JSON bodies
checked with errors naming the parameter or field, JSON-only bodies, unknown addresses and methods, and an
OpenAPI schema that documents all of it."""

import pytest
from rest_framework.test import APIClient

from nurturing.models import Lead
from tests.api_helpers import api_as, assert_error
from tests.factories import make_lead

from .test_fuzz import SCHEMA

pytestmark = pytest.mark.django_db
LEADS = "/api/nurturing/leads"


def test_lists_come_in_pages_of_the_size_asked(tenant):
    for number in range(5):
        make_lead(tenant.brokerage, agent=tenant.agent, name=f"Lead {number}")
    api = api_as(tenant.owner)
    first = api.get(LEADS, {"page_size": 2}).json()
    assert first["count"] == 5 and len(first["results"]) == 2 and "page=2" in first["next"]
    last = api.get(LEADS, {"page_size": 2, "page": 3}).json()
    assert len(last["results"]) == 1 and last["next"] is None
    pages = [api.get(LEADS, {"page_size": 2, "page": page}).json()["results"] for page in (1, 2, 3)]
    names = {row["name"] for page in pages for row in page}
    assert len(names) == 5
    assert_error(api.get(LEADS, {"page": 4, "page_size": 2}), 404)


@pytest.mark.parametrize(("query", "parameter"), [
    ({"page": "0"}, "page"), ({"page": "two"}, "page"), ({"page_size": "101"}, "page_size"),
    ({"page_size": "0"}, "page_size"), ({"stage": "hot"}, "stage"), ({"agent": "me"}, "agent"),
    ({"updated_since": "yesterday"}, "updated_since"), ({"source": ""}, "source"), ({"clients": "maybe"}, "clients"),
])
def test_a_bad_query_parameter_answers_400_naming_it(tenant, query, parameter):
    error = assert_error(api_as(tenant.owner).get(LEADS, query), 400)
    assert set(error["fields"]) == {parameter}


def test_leads_filter_by_stage_source_agent_and_update_time(tenant, django_assert_max_num_queries):
    old = make_lead(tenant.brokerage, agent=tenant.agent, name="Old", source="portal")
    new = make_lead(tenant.brokerage, agent=tenant.owner, name="New", source="referral")
    Lead.objects.filter(pk=old.pk).update(updated_at="2024-01-01T00:00:00Z")
    api = api_as(tenant.owner)

    def names(**query):
        return [row["name"] for row in api.get(LEADS, query).json()["results"]]

    assert names(source="portal") == ["Old"]
    assert names(agent=tenant.owner.pk) == ["New"]
    assert names(agent=999999) == []  # an id that is nobody's filters everything out rather than failing
    assert names(updated_since="2025-01-01") == ["New"]
    assert names(updated_since="2023-12-31T23:00:00+00:00") == ["New", "Old"]
    assert new.pk  # both exist; the filters chose


def test_wrong_json_types_are_refused_not_coerced(tenant):
    api = api_as(tenant.agent)
    error = assert_error(api.post(LEADS, {"name": 5, "marketing_consent": "yes", "areas": "JVC",
                                          "satisfaction_score": "4"}, format="json"), 400)
    assert set(error["fields"]) == {"name", "marketing_consent", "areas", "satisfaction_score"}
    assert error["fields"]["marketing_consent"] == ["Must be true or false."]
    assert not Lead.objects.exists()
    # Amounts may be numbers or their exact text.
    created = api.post(LEADS, {"name": "Noura", "budget_min": 1500000, "budget_max": "2500000.00"}, format="json")
    assert created.status_code == 201 and created.json()["budget_min"] == "1500000.00"


def test_bodies_are_json_only(tenant):
    response = api_as(tenant.agent).post(LEADS, {"name": "Noura"}, format="multipart")
    assert assert_error(response, 415)["code"] == "unsupported_media_type"


def test_leads_are_never_deleted_the_method_is_refused(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    response = api_as(tenant.owner).delete(f"{LEADS}/{lead.pk}")
    assert assert_error(response, 405)["code"] == "method_not_allowed"
    assert "PATCH" in response["Allow"] and "DELETE" not in response["Allow"]
    assert Lead.objects.filter(pk=lead.pk).exists()


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_address_answers_the_json_404(tenant, method):
    client = APIClient(enforce_csrf_checks=True)
    for path in ("/api/nurturing/lead", "/api/nurturing/leads/-4", "/api/nurturing/leads/abc/stage"):
        error = assert_error(getattr(client, method)(path), 404)
        assert error["code"] == "not_found"


def test_the_schema_documents_pages_errors_and_filters():
    paths = SCHEMA["paths"]
    leads = paths[LEADS]["get"]
    parameters = {parameter["name"]: parameter["schema"] for parameter in leads["parameters"]}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert parameters["stage"]["enum"][:2] == ["new", "contacted"]
    assert {"agent", "source", "updated_since"} <= set(parameters)
    page = SCHEMA["components"]["schemas"]["PaginatedLeadList"]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    error = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            if method == "parameters" or path.startswith(("/api/schema", "/api/docs")):
                continue
            responses = operation["responses"]
            for status in ("401", "403", "429"):
                assert responses[status]["content"]["application/json"]["schema"] == error, (method, path, status)
            if method in ("post", "patch"):
                assert {"400", "404", "413", "415"} <= set(responses), (method, path)
