"""The agent's journeys: ask the mentor and follow its citation, work the follow-up queue, and get a coaching
alert pushed to the open live-coaching page while a conversation is posted through the API, then acknowledge it.

Omar works the mentor and his follow-up queue; Priya, who has no coaching session in the demo, is coached live
(her session is started for the test), so no journey changes what another one reads."""

import re

import pytest
from playwright.sync_api import expect

from brokerages.keys import api_key_create
from brokerages.models import User
from brokerages.services import api_token_create, settings_update

OMAR = "omar@palmcrest.ae"
PRIYA = "priya@palmcrest.ae"
OWNER = "owner@palmcrest.ae"
# A lead's price objection, then the agent's defensive answer: the local analyser flags it in real time.
LEAD_LINE = "This asking price is too high, similar flats in Dubai Marina sold for less."
AGENT_LINE = "Take it or leave it, that's the price and the owner won't budge."


def test_agent_asks_the_mentor_and_follows_a_citation(page, login):
    login(OMAR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Agent Co-Pilot").click()
    page.get_by_label("Question").fill("What share of our commission does an outside referral agent get?")
    page.get_by_role("button", name="Ask the mentor").click()

    answer = page.locator("#answer .answer-card")
    expect(answer.locator(".answer-text")).to_contain_text(
        "Referral agents outside the brokerage receive 25% of our side of the commission. [1]")
    citation = answer.locator("ol.sources li").first
    expect(citation.get_by_role("link")).to_have_text("Commission Split Policy")
    expect(citation.locator(".snippet")).to_contain_text("referral")

    citation.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/knowledge/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Commission Split Policy")
    expect(page.locator("article.prose")).to_contain_text(
        "Referral agents outside the brokerage receive 25% of our side of the commission.")


@pytest.fixture
def no_quiet_hours():
    """Approved messages leave at once whatever the time of day the suite runs (equal bounds: no quiet hours)."""
    owner = User.objects.select_related("brokerage").get(email=OWNER)
    settings_update(brokerage=owner.brokerage, actor=owner,
                    values={"quiet_hours_start": "00:00", "quiet_hours_end": "00:00"})


def _due_count(page) -> int:
    heading = page.get_by_role("heading", name=re.compile(r"^Due today and overdue"))
    return int(re.search(r"\((\d+)\)", heading.inner_text()).group(1))


def test_agent_edits_and_sends_a_draft_then_dismisses_another(page, login, no_quiet_hours):
    login(OMAR)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Smart Nurturing").click()
    expect(page.get_by_role("heading", name="My follow-up queue")).to_be_visible()
    due_before = _due_count(page)
    writable = page.locator("article.followup-card").filter(has=page.get_by_role("button", name="Approve & send"))
    expect(writable.nth(1)).to_be_visible()
    first, second = (page.locator(f"#{writable.nth(index).get_attribute('id')}") for index in (0, 1))
    lead_name = first.locator("header strong").inner_text()

    first.get_by_role("button", name="Edit").click()
    message = first.get_by_label("Content")
    expect(message).to_be_visible()
    edited = f"Hi {lead_name.split()[0]}, two new listings match your brief; could we view them on Saturday?"
    message.fill(edited)
    first.get_by_role("button", name="Save").click()
    expect(first.locator(".answer-text")).to_have_text(edited)

    first.get_by_role("button", name="Approve & send").click()
    expect(first).to_contain_text("Sent, and logged on the lead's timeline.")
    expect(first.get_by_role("button", name="Approve & send")).to_have_count(0)

    second.locator("summary", has_text="Dismiss").click()
    second.get_by_label("Why?").fill("Already spoke to them today")
    second.get_by_role("button", name="Dismiss").click()
    expect(second).to_contain_text("dismissed: Already spoke to them today")

    # The message sent is on the lead's timeline; back in the queue, both cards are done with.
    first.get_by_role("link", name=lead_name).click()
    expect(page.get_by_role("heading", name=lead_name)).to_be_visible()
    expect(page.locator("ol.timeline li.timeline-interaction", has_text=edited)).to_contain_text(" sent by ")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Smart Nurturing").click()
    expect(page.get_by_role("heading", name=re.compile(r"^Due today and overdue"))).to_contain_text(
        f"({due_before - 2})")
    for card in (first, second):
        expect(card).to_have_count(0)


@pytest.fixture
def live_conversation(api):
    """Priya under a CRITICAL coaching session (every finding alerts) started by her owner through the API, and
    a conversation of hers opened through the API with her own member token, as her phone system would."""
    owner = User.objects.select_related("brokerage").get(email=OWNER)
    priya = User.objects.get(email=PRIYA)
    _, key = api_key_create(brokerage=owner.brokerage, actor=owner, name="e2e live coaching",
                            scopes=["coaching:write"])
    as_owner = api(f"Bearer {key}")
    session = as_owner.post("/api/coaching/sessions", data={"agent_id": priya.pk, "intensity": "CRITICAL"})
    assert session.status == 201, session.text()
    as_priya = api(f"Token {api_token_create(user=priya).key}")
    conversation = as_priya.post("/api/coaching/conversations", data={"channel": "call"})
    assert conversation.status == 201, conversation.text()
    return as_owner, as_priya, conversation.json()["id"]


def test_agent_gets_a_live_coaching_alert_without_reloading_and_acknowledges_it(page, login, live_conversation):
    as_owner, as_priya, conversation_id = live_conversation
    login(PRIYA)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Live coaching").click()
    expect(page.locator("#coaching-ws-status")).to_have_text("Live")
    expect(page.locator("#coaching-alerts .coaching-alert")).to_have_count(0)
    page.evaluate("window.__e2eSamePage = true")

    raised = []
    for speaker, text in (("lead", LEAD_LINE), ("agent", AGENT_LINE)):
        posted = as_priya.post(f"/api/coaching/conversations/{conversation_id}/messages",
                               data={"speaker": speaker, "text": text})
        assert posted.status == 201, posted.text()
        raised += posted.json()["alerts"]
    assert raised, f"the defensive answer raised no alert: {posted.json()['analysis']}"

    alert = page.locator(f"#coaching-alert-{raised[0]['alert_id']}")
    expect(alert).to_be_visible()
    expect(alert).to_have_class(re.compile(r"\bis-new\b"))
    expect(alert.locator(".coaching-alert-title")).to_have_text(raised[0]["title"])
    expect(page.locator("#coaching-alerts .coaching-alert")).to_have_count(len(raised))
    assert page.evaluate("window.__e2eSamePage") is True, "the page was reloaded to show the alert"

    alert.get_by_role("button", name="Acknowledge").click()
    expect(alert).to_have_class(re.compile(r"\bis-acknowledged\b"))
    expect(alert.locator(".coaching-acknowledged")).to_contain_text("Acknowledged")
    expect(alert.get_by_role("button", name="Acknowledge")).to_have_count(0)

    page.reload()
    expect(page.locator("#coaching-ws-status")).to_have_text("Live")
    expect(page.locator(f"#coaching-alert-{raised[0]['alert_id']}")).to_have_count(0)
    expect(page.locator("#coaching-alerts .coaching-alert")).to_have_count(len(raised) - 1)
    stored = as_owner.get("/api/coaching/alerts", params={"conversation": conversation_id})
    assert stored.status == 200, stored.text()
    acknowledged = {row["alert_id"]: row["acknowledged"] for row in stored.json()["results"]}
    assert acknowledged[raised[0]["alert_id"]] is True
