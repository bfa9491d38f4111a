"""Support staff write the knowledge base the mentor answers from; the platform's system admin works in the
Django admin across brokerages."""

import re

from playwright.sync_api import expect

from brokerages.demo import DEMO_PASSWORD, PLATFORM_ADMIN_EMAIL
from brokerages.models import Brokerage

SUPPORT = "support@palmcrest.ae"
ARTICLE_TITLE = "Pets in Leased Villas"
ARTICLE = """Landlords decide whether a tenant may keep pets; these are the terms Palm Crest negotiates for its
villa landlords.

## Pet deposit
Tenants with a cat or a dog pay a refundable pet deposit of AED 4,500 on top of the security deposit. The pet
deposit is returned within 30 days of moving out once the villa passes the final inspection.

## How many pets
At most two cats or dogs per villa, and no pets at all in villas with a shared garden."""


def test_support_staff_publish_an_article_the_mentor_then_cites(page, login):
    login(SUPPORT)
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("link", name="Knowledge Base").click()
    page.get_by_role("link", name="New article").click()
    expect(page.get_by_role("heading", name="New article")).to_be_visible()
    page.get_by_label("Title", exact=True).fill(ARTICLE_TITLE)
    page.get_by_label("Category", exact=True).fill("Leasing")
    page.get_by_label("Tags", exact=True).fill("pets, leasing, deposit")
    page.get_by_label("Content", exact=True).fill(ARTICLE)
    page.get_by_role("button", name="Save article").click()

    expect(page.locator(".messages")).to_contain_text(f"“{ARTICLE_TITLE}” is published and searchable.")
    expect(page.get_by_role("heading", level=1)).to_have_text(ARTICLE_TITLE)
    expect(page.get_by_role("heading", name="Pet deposit")).to_be_visible()

    nav.get_by_role("link", name="Knowledge Base").click()
    expect(page.get_by_role("heading", name="Knowledge base")).to_be_visible()
    row = page.get_by_role("row", name=re.compile(ARTICLE_TITLE))
    expect(row).to_contain_text("Leasing")
    expect(row).to_contain_text("Active")

    # The mentor answers from it at once (the page is the one agents use; support staff may ask too).
    page.goto("/copilot/")
    page.get_by_label("Question").fill("How much is the pet deposit when a tenant leases a villa?")
    page.get_by_role("button", name="Ask the mentor").click()
    answer = page.locator("#answer .answer-card")
    expect(answer.locator(".answer-text")).to_contain_text("AED 4,500")
    expect(answer.locator("ol.sources").get_by_role("link", name=ARTICLE_TITLE)).to_be_visible()


def test_system_admin_changes_a_brokerage_in_the_django_admin(page):
    page.goto("/admin/")
    page.get_by_label("Email").fill(PLATFORM_ADMIN_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()

    page.locator("tr.model-brokerage").get_by_role("link", name="Brokerages").click()
    expect(page.get_by_role("heading", name="Select brokerage to change")).to_be_visible()
    page.get_by_role("textbox", name="Search").fill("Marina")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Marina Heights Properties").click()
    page.get_by_label("Phone").fill("+971 4 555 0999")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator("ul.messagelist .success")).to_contain_text("was changed successfully")
    expect(page.get_by_role("row", name=re.compile("Marina Heights Properties"))).to_contain_text("+971 4 555 0999")
    assert Brokerage.objects.get(slug="marina-heights").phone == "+971 4 555 0999"
