"""CSRF on every form and every htmx request: plain POST forms carry `{% csrf_token %}`; htmx requests carry the
token in the `X-CSRFToken` header that templates/base.html's <body> hands down to every element (hx-headers is
inherited); and a request without the token is refused."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from brokerages.models import AuditLog

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
HTMX_WRITE = re.compile(r"\bhx-(post|put|patch|delete)\s*=", re.I)
FORM = re.compile(r"<form\b(?P<attrs>[^>]*)>(?P<body>.*?)</form>", re.I | re.S)
EXTENDS = re.compile(r"{%\s*extends\s+[\"']([^\"']+)[\"']\s*%}")


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


def _reaches_base(path: Path) -> bool:
    """The page the template renders extends templates/base.html, directly or through other templates."""
    seen = set()
    while path not in seen:
        seen.add(path)
        if path == TEMPLATES / "base.html":
            return True
        match = EXTENDS.search(path.read_text())
        if match is None:
            return False
        path = TEMPLATES / match.group(1)
    return False


def test_every_post_form_carries_the_csrf_token():
    missing = []
    for path in _templates():
        for form in FORM.finditer(path.read_text()):
            if re.search(r"method\s*=\s*[\"']?post", form["attrs"], re.I) and "{% csrf_token %}" not in form["body"]:
                missing.append(f"{path.relative_to(TEMPLATES)}: <form{form['attrs'][:80]}>")
    assert missing == [], "POST forms without {% csrf_token %}:\n" + "\n".join(missing)


def test_base_page_sends_the_token_with_every_htmx_request():
    base = (TEMPLATES / "base.html").read_text()
    body = re.search(r"<body\b[^>]*>", base)[0]
    assert """hx-headers='{"X-CSRFToken": "{{ csrf_token }}"}'""" in body


def test_every_htmx_write_is_on_a_page_that_sends_the_token():
    """An element with hx-post/put/patch/delete is either in a page extending base.html or in a fragment
    (a partial, no <html> of its own) that htmx swaps into such a page; no stand-alone document has one."""
    wrong = []
    for path in _templates():
        text = path.read_text()
        if not HTMX_WRITE.search(text):
            continue
        standalone = re.search(r"<html\b", text, re.I) and path != TEMPLATES / "base.html"
        if standalone or (EXTENDS.search(text) and not _reaches_base(path)):
            wrong.append(str(path.relative_to(TEMPLATES)))
    assert wrong == [], f"htmx writes outside the pages that carry the CSRF header: {wrong}"


class _Meta(HTMLParser):
    def __init__(self):
        super().__init__()
        self.token = None
        self.body_headers = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and attrs.get("name") == "csrf-token":
            self.token = attrs["content"]
        if tag == "body":
            self.body_headers = attrs.get("hx-headers")


@pytest.mark.django_db
def test_an_htmx_post_without_the_token_is_refused_and_with_it_accepted(tenant):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tenant.agent)
    page = _Meta()
    page.feed(browser.get(reverse("account")).content.decode())
    assert page.token and page.token in page.body_headers

    refused = browser.post(reverse("account_token_create"), HTTP_HX_REQUEST="true")
    assert refused.status_code == 403
    assert not Token.objects.filter(user=tenant.agent).exists()

    accepted = browser.post(reverse("account_token_create"), HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=page.token)
    assert accepted.status_code == 200
    assert Token.objects.filter(user=tenant.agent).exists()


@pytest.mark.django_db
def test_a_plain_form_post_without_the_token_is_refused(tenant):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(tenant.owner)
    response = browser.post(reverse("brokerages:profile"), {"name": "Hijacked Realty"})
    assert response.status_code == 403
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.name != "Hijacked Realty"
    # A forged request is a refusal like any other: it is in the owner's audit log.
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="permission.denied")
    assert entry.details["path"] == reverse("brokerages:profile") and entry.details["method"] == "POST"
