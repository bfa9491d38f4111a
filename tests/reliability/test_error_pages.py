"""What people and integrations see when a request fails (config/outage.py, the templates 400/403/404/500/503):
in-process, on any database (`make test` too). The live drill (test_database_outage.py) does the same against a
real PostgreSQL going away.

The database "going away" here is every query of the request failing as the driver reports it; the session
lookup, in middleware, is the first to fail, as it is for real."""

from unittest import mock

import pytest
from django.db import OperationalError, ProgrammingError
from django.db.backends.utils import CursorWrapper
from django.template.loader import render_to_string
from django.test import Client
from django.urls import get_resolver
from psycopg_pool import PoolTimeout
from rest_framework.authtoken.models import Token

from config.outage import server_error

pytestmark = pytest.mark.django_db

# What an error answer may never show.
LEAKS = ("Traceback", "SELECT", "psycopg", "OperationalError", "ProgrammingError", "PoolTimeout", "sqlite",
         "DATABASES", "SECRET_KEY", "File \"")


def _failing_queries(error: Exception):
    return mock.patch.object(CursorWrapper, "_execute_with_wrappers", side_effect=error)


def _page_client(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _api_client(user) -> Client:
    token = Token.objects.create(user=user).key
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token}")


def _assert_no_leak(response) -> None:
    body = response.content.decode()
    leaked = [word for word in LEAKS if word in body]
    assert not leaked, leaked


def test_the_project_answers_failures_with_its_handler():
    assert get_resolver().resolve_error_handler(500) is server_error


@pytest.mark.parametrize("error", [OperationalError("server closed the connection unexpectedly"),
                                   OperationalError('connection failed: FATAL:  database "aep" is not currently '
                                                    "accepting connections"),
                                   PoolTimeout("couldn't get a connection after 10.00 sec")],
                         ids=["dropped", "refused", "pool-timeout"])
def test_a_page_answers_the_branded_503_when_the_database_is_unreachable(tenant, error):
    client = _page_client(tenant.agent)
    with _failing_queries(error):
        response = client.get("/leads/")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "<h1>Temporarily unavailable</h1>" in body
    assert "Nothing was half-saved" in body
    assert "css/app.css" in body  # the product's look, without the brokerage's (that needs the database)
    _assert_no_leak(response)
    assert client.get("/leads/").status_code == 200  # and it is back as soon as the database is


def test_the_api_answers_its_error_body_with_503_when_the_database_is_unreachable(tenant):
    client = _api_client(tenant.agent)
    with _failing_queries(OperationalError("server closed the connection unexpectedly")):
        response = client.post("/api/coaching/conversations", {"channel": "call"}, content_type="application/json")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    error = response.json()["error"]
    assert error["status"] == 503
    assert error["code"] == "service_unavailable"
    assert error["fields"] == {}
    assert "Nothing of this request was saved" in error["message"]
    _assert_no_leak(response)


def test_any_other_failure_answers_500_the_same_two_ways(tenant):
    bug = ProgrammingError('column "nonexistent" does not exist')
    client = _page_client(tenant.agent)
    with _failing_queries(bug):
        page = client.get("/leads/")
    assert page.status_code == 500
    assert "<h1>Something went wrong</h1>" in page.content.decode()
    assert "Retry-After" not in page
    _assert_no_leak(page)
    client = _api_client(tenant.agent)
    with _failing_queries(bug):
        api = client.get("/api/nurturing/leads")
    assert api.status_code == 500
    assert api.json()["error"]["code"] == "server_error"
    _assert_no_leak(api)


def test_the_error_page_names_the_request_for_support(tenant):
    client = _page_client(tenant.agent)
    with _failing_queries(OperationalError("server closed the connection unexpectedly")):
        response = client.get("/leads/", HTTP_X_REQUEST_ID="support-ref-1234")
    assert "support-ref-1234" in response.content.decode()
    assert response["X-Request-ID"] == "support-ref-1234"


def test_not_found_and_forbidden_pages_name_the_brokerage(tenant):
    client = _page_client(tenant.agent)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    assert "<h1>Page not found</h1>" in missing.content.decode()
    assert tenant.brokerage.name in missing.content.decode()
    forbidden = client.get("/brokerage/team/")  # the owner's team page
    assert forbidden.status_code == 403
    assert "<h1>Not allowed</h1>" in forbidden.content.decode()
    assert tenant.brokerage.name in forbidden.content.decode()


def test_a_bad_request_gets_the_plain_error_page():
    response = Client().get("/", HTTP_HOST="not-an-allowed-host.example")
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in response.content.decode()


@pytest.mark.parametrize("template", ["400.html", "403.html", "404.html", "500.html", "503.html"])
def test_error_pages_render_without_collected_static_files(settings, tmp_path, template):
    """A deploy whose `collectstatic` is missing or stale must not turn an error page into another error."""
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}}
    page = render_to_string(template, {"request_id": "ref-1"})
    assert f'href="{settings.STATIC_URL}css/app.css"' in page or f'href="/{settings.STATIC_URL}css/app.css"' in page
    assert "ref-1" in page
