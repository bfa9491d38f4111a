"""The isolation matrix: every URL pattern of the project, walked with users of each role and of another
brokerage.

`ROUTES` must name every route the project has (the first test fails when a new URL arrives without a case
here), so later features are guarded as soon as they add a page or an endpoint. For each route it says which
HTTP methods it answers, which roles may use it, and how to build its URL arguments from a tenant's objects.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from brokerages.models import BrandAsset, User
from copilot.models import KnowledgeArticle, MentorQuestion

from .conftest import Tenant, make_tenant
from .isolation import AGENT, EVERYONE, MANAGERS, OWNER, PUBLIC, SIGNED, SUPPORT, Case
from .analytics.routes import ROUTES as ANALYTICS_ROUTES
from .api.routes import ROUTES as API_ROUTES
from .brokerages.routes_keys import ROUTES as KEY_ROUTES
from .brokerages.routes_webhooks import ROUTES as WEBHOOK_ROUTES
from .coaching.routes import ROUTES as COACHING_ROUTES
from .copilot.routes_assistant import ROUTES as COPILOT_ASSISTANT_ROUTES
from .copilot.routes_quality import ROUTES as COPILOT_QUALITY_ROUTES
from .copilot.routes_runs import ROUTES as COPILOT_RUN_ROUTES
from .data_rights.routes import ROUTES as DATA_RIGHTS_ROUTES
from .nurturing.routes import ROUTES as NURTURING_ROUTES
from .nurturing.routes_listings import ROUTES as LISTING_ROUTES
from .nurturing.routes_crm import ROUTES as CRM_ROUTES
from .images import png_bytes

def brand_asset(tenant: Tenant) -> BrandAsset:
    return BrandAsset.objects.create(
        brokerage=tenant.brokerage, asset_type="brochure", asset_name="Brochure", content_type="image/png",
        size_bytes=100, file=SimpleUploadedFile("brochure.png", png_bytes()), uploaded_by=tenant.owner)


def member_pk(tenant: Tenant, member: User) -> dict:
    return {"pk": tenant.agent.pk}


def article(tenant: Tenant, member: User) -> dict:
    created = KnowledgeArticle.objects.create(brokerage=tenant.brokerage, title="Ejari", category="Leasing",
                                              content="## Ejari\nRegister every tenancy.")
    return {"pk": created.pk}


def mentor_question(tenant: Tenant, member: User) -> dict:
    asked = MentorQuestion.objects.create(brokerage=tenant.brokerage, asked_by=member, question="Pets?",
                                          provider="local", abstained=True)
    return {"pk": asked.pk}


ROUTES: dict[str, list[Case]] = {
    **NURTURING_ROUTES,
    **LISTING_ROUTES,
    **CRM_ROUTES,
    **COACHING_ROUTES,
    **COPILOT_ASSISTANT_ROUTES,
    **ANALYTICS_ROUTES,
    **COPILOT_QUALITY_ROUTES,
    **COPILOT_RUN_ROUTES,
    **KEY_ROUTES,
    **WEBHOOK_ROUTES,
    **API_ROUTES,
    **DATA_RIGHTS_ROUTES,
    # Public by design: signing in and resetting a password, and the API's description.
    "login": [Case(PUBLIC)],
    "logout": [Case(PUBLIC, ("POST",))],
    "password_reset": [Case(PUBLIC)],
    "password_reset_done": [Case(PUBLIC)],
    "password_reset_confirm": [Case(PUBLIC, kwargs={"uidb64": "MQ", "token": "set-password"})],
    "password_reset_complete": [Case(PUBLIC)],
    "api-schema": [Case(PUBLIC)],
    "api-docs": [Case(PUBLIC)],
    # Every member.
    "home": [Case(EVERYONE)],
    "account": [Case(EVERYONE)],
    "account_token_create": [Case(EVERYONE, ("POST",))],
    "account_token_revoke": [Case(EVERYONE, ("POST",))],
    "password_change": [Case(EVERYONE, ("GET", "POST"))],
    # Owners: brokerage management.
    "brokerages:profile": [Case(frozenset({OWNER}), ("GET", "POST"))],
    "brokerages:settings": [Case(frozenset({OWNER}), ("GET", "POST"))],
    "brokerages:branding": [Case(frozenset({OWNER}), ("GET", "POST"))],
    "brokerages:brand_asset_upload": [Case(frozenset({OWNER}), ("POST",))],
    "brokerages:brand_asset_toggle": [Case(frozenset({OWNER}), ("POST",), objects=lambda t, m: {"pk": brand_asset(t).pk})],
    "brokerages:team": [Case(frozenset({OWNER}))],
    "brokerages:team_invite": [Case(frozenset({OWNER}), ("POST",))],
    "brokerages:team_member_role": [Case(frozenset({OWNER}), ("POST",), objects=member_pk, data={"role": "agent"})],
    "brokerages:team_member_active": [Case(frozenset({OWNER}), ("POST",), objects=member_pk, data={"active": "1"})],
    "brokerages:audit_log": [Case(frozenset({OWNER}))],
    # API.
    "api-brokerage-profile": [Case(EVERYONE, ("GET",), api=True), Case(frozenset({OWNER}), ("PATCH",), api=True)],
    "api-brokerage-team": [Case(frozenset({OWNER, SUPPORT}), ("GET",), api=True),
                           Case(frozenset({OWNER}), ("POST",), api=True)],
    "api-brokerage-team-member": [Case(frozenset({OWNER, SUPPORT}), ("GET",), objects=member_pk, api=True),
                                  Case(frozenset({OWNER}), ("PATCH",), objects=member_pk, api=True)],
    "api-brokerage-settings": [Case(frozenset({OWNER}), ("GET", "PATCH"), api=True)],
    # Co-pilot: everyone reads the knowledge base and asks the mentor; owners and support staff write it.
    "copilot:copilot": [Case(EVERYONE)],
    "copilot:mentor_ask": [Case(EVERYONE, ("POST",), data={"question": "How do I register Ejari?"})],
    "copilot:mentor_feedback": [Case(EVERYONE, ("POST",), objects=mentor_question, data={"helpful": "1"})],
    "copilot:mentor_gaps": [Case(MANAGERS)],
    "copilot:mentor_gap_resolve": [Case(MANAGERS, ("POST",), objects=mentor_question)],
    "copilot:knowledge": [Case(EVERYONE)],
    "copilot:article": [Case(EVERYONE, objects=article)],
    "copilot:article_new": [Case(MANAGERS, ("GET", "POST"))],
    "copilot:article_edit": [Case(MANAGERS, ("GET", "POST"), objects=article)],
    "copilot:article_toggle": [Case(MANAGERS, ("POST",), objects=article)],
    "copilot:import": [Case(MANAGERS, ("GET", "POST"))],
    "api-mentor-ask": [Case(EVERYONE, ("POST",), api=True)],
    "api-knowledge-articles": [Case(EVERYONE, ("GET",), api=True), Case(MANAGERS, ("POST",), api=True)],
    "api-knowledge-article": [Case(EVERYONE, ("GET",), objects=article, api=True),
                              Case(MANAGERS, ("PATCH",), objects=article, api=True)],
    "api-knowledge-search": [Case(EVERYONE, ("GET",), api=True, kwargs={})],
}


def project_routes() -> set[str]:
    """Names of every URL pattern outside the Django admin (which only staff reach; see test_admin)."""
    names: set[str] = set()

    def walk(patterns, namespace: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                if entry.namespace == "admin":
                    continue
                walk(entry.url_patterns, f"{namespace}{entry.namespace}:" if entry.namespace else namespace)
            elif isinstance(entry, URLPattern):
                if entry.callback.__module__ == "django.views.static":
                    continue  # media files in DEBUG
                assert entry.name, f"URL pattern {entry.pattern} has no name, so the matrix cannot cover it"
                names.add(namespace + entry.name)

    walk(get_resolver().url_patterns, "")
    return names


def test_every_route_has_an_isolation_case():
    routes = project_routes()
    assert routes - set(ROUTES) == set(), "new routes need a case in tests/test_isolation.py"
    assert set(ROUTES) - routes == set(), "cases for routes that no longer exist"


def _calls(predicate):
    for name, cases in ROUTES.items():
        for index, case in enumerate(cases):
            if predicate(case):
                for method in case.methods:
                    yield pytest.param(name, index, method, id=f"{name}[{case.label or index}]-{method}")


def _request(client, case: Case, name: str, tenant: Tenant, method: str, user=None, owner_of_objects=None):
    objects = case.objects(tenant, owner_of_objects or user or tenant.agent) if case.objects else {}
    url = reverse(name, kwargs={**case.kwargs, **objects})
    headers = {}
    if case.api and user is not None:
        headers["HTTP_AUTHORIZATION"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
    elif user is not None:
        client.force_login(user)
    if case.api:
        return client.generic(method, url, data="{}", content_type="application/json", **headers)
    return getattr(client, method.lower())(url, data=case.data, **headers)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"),
                         list(_calls(lambda case: case.objects and case.roles not in (PUBLIC, SIGNED))))
@pytest.mark.parametrize("intruder_role", [OWNER, AGENT])
def test_objects_of_another_brokerage_answer_404(client, name, index, method, intruder_role):
    """However privileged the intruder is in their own brokerage, another brokerage's objects do not exist."""
    victim, intruder = make_tenant("Victim Homes"), make_tenant("Intruder Realty")
    case = ROUTES[name][index]
    response = _request(client, case, name, victim, method, user=intruder.member(intruder_role),
                        owner_of_objects=victim.member(intruder_role))
    assert response.status_code == 404, response.content[:300]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"), list(_calls(lambda case: case.roles not in (PUBLIC, SIGNED))))
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
@pytest.mark.parametrize(("name", "index", "method"), list(_calls(lambda case: case.roles not in (PUBLIC, SIGNED))))
def test_anonymous_callers_are_turned_away(client, name, index, method):
    tenant = make_tenant("Palm Crest Realty")
    case = ROUTES[name][index]
    response = _request(client, case, name, tenant, method)
    if case.api:
        assert response.status_code == 401
    else:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"), list(_calls(lambda case: case.roles == PUBLIC)))
def test_public_routes_work_without_signing_in(client, name, index, method):
    case = ROUTES[name][index]
    response = _request(client, case, name, make_tenant("Palm Crest Realty"), method)
    assert response.status_code in (200, 302)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index", "method"), list(_calls(lambda case: case.roles == SIGNED)))
@pytest.mark.parametrize("caller", [None, OWNER, AGENT])
def test_signed_routes_take_no_session_for_a_signature(client, name, index, method, caller):
    """Neither a visitor nor a member of any brokerage, signed in, gets past a signed route without the
    signature (401), and a token nobody holds is unknown (404). Valid signatures: the route's own tests."""
    tenant, intruder = make_tenant("Palm Crest Realty"), make_tenant("Intruder Realty")
    case = ROUTES[name][index]
    user = intruder.member(caller) if caller else None
    assert _request(client, case, name, tenant, method, user=user).status_code == 401
    unknown = {key: "unknown" for key in case.objects(tenant, tenant.owner)}
    response = client.generic(method, reverse(name, kwargs={**case.kwargs, **unknown}), data=b"{}",
                              content_type="application/json")
    assert response.status_code == 404
