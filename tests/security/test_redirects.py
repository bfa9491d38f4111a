"""No open redirects: every place that redirects to a URL the request names (the login's and logout's `next`,
the admin's, the `next` of enrolment and coaching forms, a notification's link) stays on this site, whatever
spelling of another site it is given."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from brokerages.models import Notification, Role
from brokerages.services import notify
from tests.factories import UserFactory
from tests.isolation import AGENT, OWNER
from tests.test_isolation import ROUTES

HOSTILE = [
    "//evil.example",
    "https://evil.example",
    "http://evil.example/accounts/login/",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    "https:evil.example",
    " //evil.example",
    "//evil.example@testserver",
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
]


def assert_stays_on_site(response, expected_path: str) -> None:
    assert response.status_code == 302, response.content[:200]
    location = response["Location"]
    parts = urlsplit(location)
    assert not parts.scheme and not parts.netloc and "\\" not in location, location
    assert parts.path == expected_path, location


def _route_url(name: str, tenant, member) -> str:
    case = next(case for case in ROUTES[name] if "POST" in case.methods)
    return reverse(name, kwargs={**case.kwargs, **(case.objects(tenant, member) if case.objects else {})})


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_login_next(client, tenant, password, target):
    response = client.post(f"{reverse('login')}?next={target}",
                           {"username": tenant.owner.email, "password": password, "next": target})
    assert_stays_on_site(response, "/")
    # Already signed in, the login page sends a member home, not to `next`.
    assert_stays_on_site(client.get(reverse("login"), {"next": target}), "/")


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_logout_next(client, tenant, target):
    client.force_login(tenant.agent)
    assert_stays_on_site(client.post(reverse("logout"), {"next": target}), reverse("login"))


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_admin_login_next(tenant, password, target):
    admin = UserFactory(brokerage=None, role=Role.SYSTEM_ADMIN, is_staff=True, is_superuser=True)
    response = Client().post(reverse("admin:login"), {"username": admin.email, "password": password,
                                                      "next": target})
    assert_stays_on_site(response, "/")  # home, which sends a system admin on to the admin


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_enrolment_form_next(client, tenant, target):
    url = _route_url("nurturing:sequence_enrol", tenant, tenant.owner)
    client.force_login(tenant.owner)
    response = client.post(url, {"next": target})  # no lead picked: straight back to `next` or the sequence
    assert_stays_on_site(response, url.removesuffix("enrol/"))


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_coaching_form_next(client, tenant, target):
    url = _route_url("coaching:conversation_message", tenant, tenant.agent)
    client.force_login(tenant.agent)
    response = client.post(url, {"next": target})  # no text: back to `next` or the conversation
    assert_stays_on_site(response, url.removesuffix("messages/"))


@pytest.mark.django_db
@pytest.mark.parametrize("target", HOSTILE)
def test_notification_link(client, tenant, target):
    notify(brokerage=tenant.brokerage, recipient=tenant.agent, kind="lead_assigned", message="A lead for you",
           key=f"test:{target}", url=target)
    notification = Notification.objects.get(recipient=tenant.agent)
    client.force_login(tenant.agent)
    response = client.post(reverse("nurturing:notification_read", args=[notification.pk]))
    assert_stays_on_site(response, reverse("nurturing:notifications"))


@pytest.mark.django_db
@pytest.mark.parametrize("role", [OWNER, AGENT])
def test_a_path_on_this_site_is_still_followed(client, tenant, password, role):
    """The checks refuse other sites, not `next` itself."""
    member = tenant.member(role)
    response = client.post(reverse("login"), {"username": member.email, "password": password,
                                              "next": reverse("account")})
    assert_stays_on_site(response, reverse("account"))
