"""The Quality & Consistency pages (templates, compliance rules, "Check a text") and the compliance-check API."""

import pytest
from django.urls import reverse

from copilot.compliance import compliance_rule_create, compliance_rules, template_text
from copilot.models import BrokerageTemplate, ComplianceRule, TemplateKind

from ..api_helpers import api_as, assert_error

pytestmark = pytest.mark.django_db

CHECK_API = "/api/copilot/compliance/check"
SKELETON = TemplateKind.LISTING_SKELETON


def htmx_post(client, url, data):
    return client.post(url, data, HTTP_HX_REQUEST="true")


def own_rule(tenant) -> ComplianceRule:
    return compliance_rule_create(brokerage=tenant.brokerage, actor=tenant.owner, kind="prohibited",
                                  name="Cheapest", pattern="cheapest in", explanation="state the price instead.")


def compliant_listing(tenant, *extra: str) -> str:
    brokerage = tenant.brokerage
    return "\r\n".join(["Two-bedroom in Dubai Marina", *extra, "Permit 71234 56789",
                        f"ORN {brokerage.license_number}", template_text(brokerage, TemplateKind.DISCLAIMER)])


# --- templates ---------------------------------------------------------------------------------------------

def test_owner_edits_each_template_with_a_live_preview_of_the_skeleton(tenant, login):
    client = login(tenant.owner)
    page = client.get(reverse("copilot:templates"))
    html = page.content.decode()
    assert page.status_code == 200
    for kind in TemplateKind.values:
        assert f'name="{kind}-text"' in html
    assert f'hx-post="{reverse("copilot:template_preview")}"' in html
    assert "{property_type} in {community}, offered at {price}." in html  # the default, ready to edit
    # The preview of the default skeleton is already there, filled with the sample listing, and passes.
    assert "Permit number: 7123456789" in html and "The sample passes the compliance check." in html

    saved = client.post(reverse("copilot:templates"), {"kind": "tone_of_voice", "tone_of_voice-text": "Calm."})
    assert saved.status_code == 302
    assert template_text(tenant.brokerage, TemplateKind.TONE_OF_VOICE) == "Calm."
    assert "Tone of voice saved." in client.get(saved["Location"]).content.decode()


def test_the_preview_follows_the_skeleton_being_typed(tenant, login):
    client = login(tenant.owner)
    url = reverse("copilot:template_preview")
    preview = htmx_post(client, url, {f"{SKELETON}-text": "{title} in {community} for {price}."})
    html = preview.content.decode()
    assert 'id="skeleton-preview"' in html and "<html" not in html
    assert "Sunlit two-bedroom with full Marina views in Dubai Marina for AED 2,450,000." in html
    assert "The sample fails the compliance check" in html and "Missing the listing&#x27;s permit number" in html

    unknown = htmx_post(client, url, {f"{SKELETON}-text": "{title} near {metro}"}).content.decode()
    assert "Unknown placeholder {metro}." in unknown
    assert not BrokerageTemplate.objects.filter(brokerage=tenant.brokerage).exists()


def test_a_bad_skeleton_placeholder_is_shown_on_the_form_and_not_saved(tenant, login):
    client = login(tenant.owner)
    page = client.post(reverse("copilot:templates"), {"kind": SKELETON, f"{SKELETON}-text": "{title} {Price}"})
    assert page.status_code == 200
    assert "Unknown placeholder {Price}. Use only {title}," in page.content.decode()
    assert not BrokerageTemplate.objects.filter(brokerage=tenant.brokerage).exists()


def test_an_unknown_template_kind_is_a_bad_request(tenant, login):
    response = login(tenant.owner).post(reverse("copilot:templates"), {"kind": "letterhead"})
    assert response.status_code == 400


def test_agents_read_the_templates_but_cannot_change_them(tenant, login):
    client = login(tenant.agent)
    html = client.get(reverse("copilot:templates")).content.decode()
    assert "Only the owner changes them." in html and 'name="tone_of_voice-text"' not in html
    assert tenant.brokerage.name in html  # the default signature and disclaimer, read-only
    posted = client.post(reverse("copilot:templates"), {"kind": "tone_of_voice", "tone_of_voice-text": "Loud!"})
    assert posted.status_code == 403
    assert not BrokerageTemplate.objects.filter(brokerage=tenant.brokerage).exists()


# --- rules -------------------------------------------------------------------------------------------------

def test_everyone_reads_the_rules_and_only_the_owner_gets_the_buttons(tenant, login):
    agent_page = login(tenant.agent).get(reverse("copilot:compliance_rules")).content.decode()
    assert "Listing permit number" in agent_page and "“guaranteed returns”" in agent_page
    assert "New rule" not in agent_page and "Turn off" not in agent_page
    owner_page = login(tenant.owner).get(reverse("copilot:compliance_rules")).content.decode()
    assert "New rule" in owner_page and owner_page.count("Turn off") == 10


def test_owner_adds_edits_and_turns_off_a_rule(tenant, login):
    client = login(tenant.owner)
    data = {"name": "Cheapest", "kind": "prohibited", "element": "phrase", "pattern": "cheapest in",
            "applies_to": "listing", "explanation": "state the price instead."}
    created = client.post(reverse("copilot:compliance_rule_new"), data)
    assert created.status_code == 302
    rule = ComplianceRule.objects.get(brokerage=tenant.brokerage, name="Cheapest")
    assert "Rule “Cheapest” added" in client.get(created["Location"]).content.decode()

    client.post(reverse("copilot:compliance_rule_edit", args=[rule.pk]), {**data, "pattern": "cheapest"})
    rule.refresh_from_db()
    assert rule.pattern == "cheapest"
    client.post(reverse("copilot:compliance_rule_toggle", args=[rule.pk]))
    rule.refresh_from_db()
    assert not rule.is_active
    html = client.get(reverse("copilot:compliance_rules")).content.decode()
    assert "Rule “Cheapest” is no longer checked." in html and "Turn on" in html


def test_a_rule_form_shows_what_to_fix(tenant, login):
    client = login(tenant.owner)
    compliance_rules(tenant.brokerage)
    page = client.post(reverse("copilot:compliance_rule_new"), {
        "name": "Guaranteed returns", "kind": "prohibited", "element": "disclaimer", "pattern": "",
        "applies_to": "all", "explanation": "x"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "Only a phrase can be prohibited" in html
    page = client.post(reverse("copilot:compliance_rule_new"), {
        "name": "Guaranteed returns", "kind": "prohibited", "element": "phrase", "pattern": "guaranteed",
        "applies_to": "all", "explanation": "x"})
    assert "A rule with this name already exists." in page.content.decode()


def test_an_agent_editing_rules_is_refused(tenant, login):
    rule = own_rule(tenant)
    client = login(tenant.agent)
    assert client.get(reverse("copilot:compliance_rule_new")).status_code == 403
    assert client.post(reverse("copilot:compliance_rule_edit", args=[rule.pk]), {"name": "x"}).status_code == 403
    assert client.post(reverse("copilot:compliance_rule_toggle", args=[rule.pk])).status_code == 403
    rule.refresh_from_db()
    assert rule.is_active and rule.name == "Cheapest"


def test_another_brokerages_rule_does_not_exist(tenant, other_tenant, login):
    rule = own_rule(tenant)
    client = login(other_tenant.owner)
    assert client.get(reverse("copilot:compliance_rule_edit", args=[rule.pk])).status_code == 404
    assert client.post(reverse("copilot:compliance_rule_toggle", args=[rule.pk])).status_code == 404
    assert "Cheapest" not in client.get(reverse("copilot:compliance_rules")).content.decode()


# --- check a text ------------------------------------------------------------------------------------------

def test_an_agent_checks_a_text_and_sees_the_findings_line_by_line(tenant, login):
    own_rule(tenant)
    client = login(tenant.agent)
    page = client.get(reverse("copilot:compliance_check"))
    assert f'hx-post="{reverse("copilot:compliance_check")}"' in page.content.decode()

    text = compliant_listing(tenant, "Guaranteed returns, and the cheapest in the Marina.")
    result = htmx_post(client, reverse("copilot:compliance_check"),
                       {"text": text, "kind": "listing", "permit_number": "7123456789"})
    html = result.content.decode()
    assert 'id="check-result"' in html and "<html" not in html
    assert "Does not pass: 2 problems to fix." in html
    assert '<li value="2" class="flagged">' in html
    assert "Line 2: &#x27;Guaranteed returns&#x27; — RERA forbids promising returns; remove it." in html
    assert "Line 2: &#x27;cheapest in&#x27; — state the price instead." in html


def test_a_listing_without_its_permit_number_is_explained_on_the_page(tenant, login):
    client = login(tenant.agent)
    text = compliant_listing(tenant).replace("Permit 71234 56789", "Call for a viewing")
    html = htmx_post(client, reverse("copilot:compliance_check"),
                     {"text": text, "kind": "listing", "permit_number": "7123456789"}).content.decode()
    assert "Does not pass: 1 problem to fix." in html
    assert "Missing the listing&#x27;s permit number (permit 7123456789): add it to the text" in html
    passed = htmx_post(client, reverse("copilot:compliance_check"),
                       {"text": compliant_listing(tenant), "kind": "listing", "permit_number": "7123456789"})
    assert "Passes: the listing text meets all 10 rules that apply to it." in passed.content.decode()


def test_checking_nothing_says_what_to_do(tenant, login):
    html = htmx_post(login(tenant.agent), reverse("copilot:compliance_check"),
                     {"text": "  ", "kind": "listing"}).content.decode()
    assert "Paste the text to check." in html


# --- API ---------------------------------------------------------------------------------------------------

def test_the_api_checks_a_text(tenant):
    api = api_as(tenant.agent)
    response = api.post(CHECK_API, {"text": "Line one\nA risk-free buy", "kind": "social"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["passed"] is False and body["rules_checked"] == 9
    assert [(f["rule"], f["line"]) for f in body["findings"]] == [
        ("Brokerage disclaimer", None), ("Brokerage licence / RERA ORN number", None), ("Risk-free", 2)]
    assert body["findings"][2] == {
        "rule": "Risk-free", "kind": "prohibited", "line": 2, "excerpt": "risk-free",
        "explanation": "no property investment is risk-free; remove the claim.",
        "message": "Line 2: 'risk-free' — no property investment is risk-free; remove the claim."}

    listing = compliant_listing(tenant)
    ok = api.post(CHECK_API, {"text": listing, "kind": "listing", "permit_number": "7123456789"}, format="json")
    assert ok.json() == {"passed": True, "findings": [], "rules_checked": 10}


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"kind": "listing"}, "text", "This field is required."),
    ({"text": "   ", "kind": "listing"}, "text", "Give the text to check."),
    ({"text": "Hello"}, "kind", "This field is required."),
    ({"text": "Hello", "kind": "flyer"}, "kind", "Unknown kind of text “flyer”: use one of listing, social, email, "
                                                 "other."),
    ({"text": "Hello", "kind": "email", "brokerage": 2}, "brokerage", "Unknown field."),
    ({"text": "x" * 20_001, "kind": "email"}, "text", "Check at most 20,000 characters at a time."),
])
def test_the_api_explains_bad_input(tenant, payload, field, message):
    error = assert_error(api_as(tenant.agent).post(CHECK_API, payload, format="json"), 400)
    assert error["fields"][field] == [message]
