"""Browser journeys: Playwright driving Debian's Chromium (headless, never a downloaded browser) against a live
Daphne serving the project on the test database, with DEBUG off and the collected static files.

The demo data (`seed_demo`) is written once per session and committed, so the server sees it; tests do not
flush, so each journey works on records no other journey changes (its own agent, lead or article). Every test
gets a fresh browser context (no cookies) and signs in through the real login form. A failed test leaves a
screenshot and the page's HTML in var/e2e-artifacts/ and carries the tail of the server's log.

`make test-e2e` runs them on PostgreSQL and Redis (the server is another process: the data must be in a real
database both can reach)."""

import io
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections
from playwright.sync_api import APIRequestContext, Browser, Page, Playwright, expect, sync_playwright

from brokerages.demo import DEMO_PASSWORD
from tests import live

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The machine has no internet: without these Chromium's background services fail noisily; CI runs as root.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 10_000
ARTIFACTS = live.ROOT / "var" / "e2e-artifacts"
LOG_TAIL_LINES = 80

SERVER_LOG = pytest.StashKey[Path]()
REPORTS = pytest.StashKey[dict]()

expect.set_options(timeout=TIMEOUT_MS)


@dataclass(frozen=True)
class Server:
    url: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_mail(self, *, to: str, timeout: float = TIMEOUT_MS / 1000) -> str:
        """The first e-mail to `to` (headers and body) that the console e-mail backend wrote to the server's output;
        it ends each message with a line of dashes."""
        deadline = time.monotonic() + timeout
        while True:
            for block in re.split(r"^-{79}$", self.log_text(), flags=re.MULTILINE):
                recipient = re.search(rf"^To: .*{re.escape(to)}", block, flags=re.MULTILINE)
                if recipient:  # the message starts at its first header; log lines may come before it
                    return block[max(block.rfind("Content-Type:", 0, recipient.start()), 0):]
            if time.monotonic() > deadline:
                raise AssertionError(f"no e-mail to {to} in {self.log} within {timeout:g} s")
            time.sleep(0.1)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item (the page fixture looks at it) and give a failed test the server's
    side of the story."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    log = item.config.stash.get(SERVER_LOG, None)
    if report.failed and log is not None and log.exists():
        tail = log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        report.sections.append((f"daphne.log (last {LOG_TAIL_LINES} lines)", "\n".join(tail)))
    return report


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment, django_db_blocker) -> Iterator[None]:
    """The test database. pytest-django creates it only for tests marked `django_db`, and a mark would wrap each
    journey in a transaction the server cannot see, or flush the demo data after it."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        databases = setup_databases(verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set())
    yield
    with django_db_blocker.unblock():
        teardown_databases(databases, verbosity=0)


@pytest.fixture(scope="session")
def demo_data(django_db_setup, django_db_blocker) -> Iterator[None]:
    """The demo brokerages, people, leads and history, committed; database access stays open for the session so
    tests can read and prepare records (nothing is rolled back or flushed until the test database goes)."""
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("browser journeys need PostgreSQL and Redis shared with the server: run `make test-e2e`")
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=io.StringIO())
        yield


@pytest.fixture(scope="session")
def server(demo_data, tmp_path_factory, pytestconfig) -> Iterator[Server]:
    log_dir = tmp_path_factory.mktemp("daphne")
    with live.daphne("config.asgi:application", log_dir, probe_path="/accounts/login/") as port:
        pytestconfig.stash[SERVER_LOG] = log_dir / "daphne.log"
        yield Server(f"http://127.0.0.1:{port}", log_dir / "daphne.log")


@pytest.fixture(scope="session")
def playwright(server) -> Iterator[Playwright]:
    """Started after the seed, whose coaching alerts are pushed through `async_to_sync` (refused beside a running
    event loop), and after the server, which must not inherit the variable below.

    Playwright's sync API keeps an event loop running in the test thread, where Django would refuse the ORM calls
    tests make to prepare data: allowed here, for this process only."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as driver:
            yield driver


@pytest.fixture(scope="session")
def browser(playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"No Chromium at {CHROMIUM}: install Debian's `chromium` or point CHROMIUM at one.")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser, server, request) -> Iterator[Page]:
    """A signed-out tab on the server (relative URLs work). Uncaught JavaScript errors and anything the
    Content-Security-Policy blocked fail the test; a failed test leaves its screenshot and HTML (earlier runs'
    are removed first)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", request.node.name).strip("_")
    screenshot, html = ARTIFACTS / f"{stem}.png", ARTIFACTS / f"{stem}.html"
    for stale in (screenshot, html):
        stale.unlink(missing_ok=True)
    context = browser.new_context(base_url=server.url, accept_downloads=True, locale="en-GB",
                                  timezone_id="Asia/Dubai")
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    script_errors: list[str] = []
    tab.on("pageerror", lambda error: script_errors.append(f"{tab.url}: {error}"))

    def policy_violation(message) -> None:
        # Chromium reports what the Content-Security-Policy blocked (a script, a style, an eval) on the console.
        if message.type == "error" and "Content Security Policy" in message.text:
            script_errors.append(f"{tab.url}: {message.text}")

    tab.on("console", policy_violation)
    yield tab
    call = request.node.stash.get(REPORTS, {}).get("call")
    failed = call is not None and call.failed
    try:
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=screenshot, full_page=True)
            html.write_text(tab.content())
            print(f"[e2e] page at {tab.url}: {screenshot}, {html}")
            for error in script_errors:
                print(f"[e2e] JavaScript error: {error}")
    finally:
        context.close()
    if not failed:
        assert not script_errors, "JavaScript errors or CSP violations on the page:\n" + "\n".join(script_errors)


@pytest.fixture(autouse=True)
def _close_test_connections() -> Iterator[None]:
    """With Playwright's loop running, Django keeps the ORM connection a test opens apart from the session's (a
    context variable, not the thread's): close it after the test, or the test database cannot be dropped."""
    yield
    connections.close_all()


@pytest.fixture
def login(page) -> Callable[..., Page]:
    """Sign in through the login form as a demo member; returns the page, on the member's home."""
    def sign_in(email: str, password: str = DEMO_PASSWORD) -> Page:
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        return page

    return sign_in


@pytest.fixture
def api(playwright, server) -> Iterator[Callable[[str], APIRequestContext]]:
    """HTTP clients of the server's API, one per `Authorization` header value ("Bearer …" or "Token …")."""
    clients: list[APIRequestContext] = []

    def client(authorization: str) -> APIRequestContext:
        clients.append(playwright.request.new_context(
            base_url=server.url, extra_http_headers={"Authorization": authorization, "Accept": "application/json"},
            timeout=TIMEOUT_MS))
        return clients[-1]

    yield client
    for opened in clients:
        opened.dispose()
