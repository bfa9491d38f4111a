"""The isolation matrix (tests/test_isolation.py) walked over the data rights routes: another brokerage's export
or lead answers 404 whatever the intruder's role, agents and support staff get 403, visitors are sent to sign in.
The matrix's own "every route has a case" check covers these routes once `routes.ROUTES` is merged into it."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import make_tenant
from tests.isolation import AGENT, OWNER, SUPPORT
from tests.test_isolation import _request

from .routes import ROUTES

CALLS = [pytest.param(name, index, method, id=f"{name}[{index}]-{method}")
         for name, cases in ROUTES.items() for index, case in enumerate(cases) for method in case.methods]


MODULES = ("brokerages.views_exports", "brokerages.api_exports", "nurturing.views.erasure", "nurturing.api.erasure")


def test_every_data_rights_route_has_a_case():
    """Every URL pattern of the data rights modules has a case here (and every case names a route)."""
    names: set[str] = set()

    def walk(patterns, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern) and entry.callback.__module__ in MODULES:
                names.add(namespace + entry.name)

    walk(get_resolver().url_patterns, "")
    assert names == set(ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"), [call for call in CALLS if ROUTES[call.values[0]]
                                                       [call.values[1]].objects])
@pytest.mark.parametrize("intruder_role", [OWNER, AGENT])
def test_objects_of_another_brokerage_answer_404(client, name, index, method, intruder_role):
    victim, intruder = make_tenant("Victim Homes"), make_tenant("Intruder Realty")
    response = _request(client, ROUTES[name][index], name, victim, method, user=intruder.member(intruder_role),
                        owner_of_objects=victim.member(intruder_role))
    assert response.status_code == 404, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"), CALLS)
@pytest.mark.parametrize("role", [OWNER, AGENT, SUPPORT])
def test_roles_follow_the_access_rules(client, name, index, method, role):
    tenant = make_tenant("Palm Crest Realty")
    case = ROUTES[name][index]
    response = _request(client, case, name, tenant, method, user=tenant.member(role))
    if role in case.roles:
        assert response.status_code not in (401, 403, 404, 405), response.content[:300]
    else:
        assert response.status_code == 403, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"), CALLS)
def test_anonymous_callers_are_turned_away(client, name, index, method):
    case = ROUTES[name][index]
    response = _request(client, case, name, make_tenant("Palm Crest Realty"), method)
    if case.api:
        assert response.status_code == 401
    else:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
