"""Content-Security-Policy (django-csp, config/settings.py): every page of the route matrix, the API docs and the
Django admin carry the policy, and their HTML needs nothing it forbids: no inline script, no event-handler
attribute, no javascript: URL, and style elements only with the response's nonce. (tests/e2e checks in a
real browser that nothing is blocked.)"""

import re
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from brokerages.models import Role
from tests.conftest import make_tenant
from tests.factories import UserFactory
from tests.isolation import PUBLIC, SIGNED
from tests.test_isolation import ROUTES

DATA_SCRIPT_TYPES = {"application/json", "application/ld+json"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "hx-get", "hx-post"}


def policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, f"{response.request['PATH_INFO']}: no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict(directives: dict[str, list[str]]) -> None:
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no nonce needed
    assert "'self'" in directives["style-src"] and "'unsafe-inline'" not in directives["style-src"]
    assert directives["style-src-attr"] == ["'unsafe-inline'"]
    assert directives["img-src"] == ["'self'", "data:"]
    assert directives["connect-src"][0] == "'self'"
    assert all(source.startswith(("'self'", "wss://", "ws://")) for source in directives["connect-src"])
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]


class _Audit(HTMLParser):
    """What in a page the policy would block."""

    def __init__(self, nonce: str | None):
        super().__init__(convert_charrefs=True)
        self.nonce = nonce
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        where = f"<{tag} {' '.join(f'{k}={v!r}' for k, v in attrs.items())[:120]}>"
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"event-handler attribute {name}: {where}")
            if name in URL_ATTRIBUTES and value and re.sub(r"\s", "", value).lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL: {where}")
            if name in {"hx-on", "hx-vars"} or name.startswith(("hx-on:", "hx-on-")):
                self.problems.append(f"htmx evaluates {name}: {where}")
            if name == "hx-vals" and value.strip().startswith("js:"):
                self.problems.append(f"htmx evaluates {name}: {where}")
        if tag == "script":
            self._in_script = "src" not in attrs and attrs.get("type", "").lower() not in DATA_SCRIPT_TYPES
        if tag == "style" and (self.nonce is None or attrs.get("nonce") != self.nonce):
            self.problems.append(f"style element without the response's nonce: {where}")

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data.strip()[:80]!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def assert_page_within_policy(response) -> None:
    assert response.status_code == 200, response.content[:300]
    directives = policy(response)
    assert_strict(directives)
    nonce = next((value[len("'nonce-"):-1] for value in directives["style-src"] if value.startswith("'nonce-")), None)
    audit = _Audit(nonce)
    audit.feed(response.content.decode())
    assert audit.problems == [], f"{response.request['PATH_INFO']}:\n" + "\n".join(audit.problems)


def _pages():
    for name, cases in ROUTES.items():
        for index, case in enumerate(cases):
            if "GET" in case.methods and not case.api and case.roles != SIGNED:
                yield pytest.param(name, index, id=name)


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "index"), list(_pages()))
def test_every_page_carries_the_policy_and_needs_nothing_it_forbids(client, name, index):
    case = ROUTES[name][index]
    tenant = make_tenant("Palm Crest Realty")
    role = None if case.roles == PUBLIC else sorted(case.roles)[0]
    member = tenant.member(role) if role else tenant.agent
    objects = case.objects(tenant, member) if case.objects else {}
    url = reverse(name, kwargs={**case.kwargs, **objects})
    if role:
        client.force_login(member)
    response = client.get(url)
    if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
        assert_page_within_policy(response)
    else:
        assert_strict(policy(response))  # redirects and downloads (CSV, PDF, the schema) carry it too


@pytest.mark.django_db
def test_brand_colours_arrive_as_a_style_attribute_and_pages_need_no_nonce(client, tenant):
    client.force_login(tenant.owner)
    response = client.get(reverse("home"))
    assert_page_within_policy(response)
    primary, secondary = tenant.brokerage.primary_color, tenant.brokerage.secondary_color
    assert (f'<html lang="en" style="--brand-primary: {primary}; --brand-secondary: {secondary};">'
            in response.content.decode())
    assert "'nonce-" not in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_htmx_is_configured_not_to_evaluate_or_inject_styles(client, tenant):
    client.force_login(tenant.agent)
    html = client.get(reverse("home")).content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)[1]
    assert '"allowEval": false' in config and '"includeIndicatorStyles": false' in config
    assert html.index('name="htmx-config"') < html.index("htmx-2")  # read when htmx starts


@pytest.mark.django_db
def test_report_preview_styles_use_the_nonce_and_open_as_a_full_page(client, tenant):
    client.force_login(tenant.owner)
    reports = client.get(reverse("analytics:reports")).content.decode()
    link = re.search(r'<a class="btn" href="(/analytics/reports/team/[^"]*)"([^>]*)>Preview', reports)
    assert 'hx-boost="false"' in link[2]
    preview = client.get(link[1].replace("&amp;", "&"))
    assert_page_within_policy(preview)
    nonce = re.search(r"'nonce-([^']+)'", preview["Content-Security-Policy"])[1]
    assert f'<style nonce="{nonce}">' in preview.content.decode()
    # The filter's htmx requests swap the report only: no style element another response's nonce would block.
    filtered = client.get(link[1].replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    assert_page_within_policy(filtered)
    assert "<style" not in filtered.content.decode()


@pytest.mark.django_db
def test_the_django_admin_works_within_the_policy(client, tenant):
    admin = UserFactory(brokerage=None, role=Role.SYSTEM_ADMIN, is_staff=True, is_superuser=True)
    client.force_login(admin)
    for url in (reverse("admin:index"), reverse("admin:brokerages_brokerage_changelist"),
                reverse("admin:brokerages_brokerage_change", args=[tenant.brokerage.pk]),
                reverse("admin:brokerages_user_add"), reverse("admin:axes_accessattempt_changelist")):
        assert_page_within_policy(client.get(url))


@pytest.mark.django_db
def test_the_sign_in_and_locked_out_pages_work_within_the_policy(tenant):
    browser = Client()
    assert_page_within_policy(browser.get(reverse("login")))
    for _ in range(4):
        browser.post(reverse("login"), {"username": tenant.owner.email, "password": "wrong"})
    locked = browser.post(reverse("login"), {"username": tenant.owner.email, "password": "wrong"})
    assert locked.status_code == 429
    locked.status_code = 200  # the page itself, judged like any other
    assert_page_within_policy(locked)

