"""The compliance check, its rules and the brokerage templates (copilot/compliance.py)."""

import pytest
from django.core.exceptions import ValidationError

from brokerages.demo import SeedResult
from brokerages.models import AuditLog
from copilot import compliance, demo
from copilot.compliance import (
    SAMPLE_FACTS,
    SkeletonFactsMissing,
    apply_skeleton,
    compliance_check,
    compliance_rule_create,
    compliance_rule_set_active,
    compliance_rule_update,
    compliance_rules,
    template_save,
    template_text,
)
from copilot.models import BrokerageTemplate, ComplianceRule, TemplateKind

from ..factories import BrokerageFactory

pytestmark = pytest.mark.django_db

PERMIT = "7123456789"


def listing_text(tenant, *middle: str, permit: str = PERMIT) -> str:
    """A listing description carrying every required element, with `middle` lines where line 3 onwards start."""
    brokerage = tenant.brokerage
    return "\n".join([
        "Sunlit two-bedroom in Dubai Marina",
        "",
        *middle,
        "Two balconies, full marina view, two parking spaces.",
        f"Permit number: {permit}" if permit else "Call us for a viewing.",
        f"{brokerage.name} · ORN {brokerage.license_number}",
        template_text(brokerage, TemplateKind.DISCLAIMER),
    ])


def check(tenant, text: str, kind: str = "listing", permit_number: str | None = PERMIT):
    return compliance_check(brokerage=tenant.brokerage, text=text, kind=kind, permit_number=permit_number)


def rule(tenant, name: str) -> ComplianceRule:
    return next(rule for rule in compliance_rules(tenant.brokerage) if rule.name == name)


# --- required elements -------------------------------------------------------------------------------------

def test_a_text_with_every_required_element_passes(tenant):
    report = check(tenant, listing_text(tenant))
    assert report.passed and report.findings == []
    assert report.rules_checked == 10  # the defaults: 3 required elements, 7 prohibited claims


def test_a_listing_without_its_permit_number_fails_with_that_reason(tenant):
    report = check(tenant, listing_text(tenant, permit=""))
    assert not report.passed
    [finding] = report.findings
    assert (finding.rule, finding.kind, finding.line, finding.excerpt) == ("Listing permit number", "required", None, "")
    assert finding.message == (
        "Missing the listing's permit number (permit 7123456789): add it to the text; the Dubai Land Department "
        "requires the Trakheesi permit number on every property advert.")


def test_a_permit_number_counts_with_spaces_or_hyphens_inside(tenant):
    assert check(tenant, listing_text(tenant, permit="712-345 6789")).passed
    assert check(tenant, listing_text(tenant), permit_number=" 71234 56789 ").passed
    wrong = check(tenant, listing_text(tenant, permit="7123456788"))
    assert [f.rule for f in wrong.findings] == ["Listing permit number"]


def test_without_a_given_permit_number_a_stated_one_is_enough(tenant):
    assert check(tenant, listing_text(tenant, permit="71234 56789"), permit_number=None).passed
    report = check(tenant, listing_text(tenant, permit=""), permit_number=None)
    assert [f.message.split(":")[0] for f in report.findings] == ["Missing the listing's permit number"]


def test_licence_or_rera_number_and_disclaimer_are_required_in_every_kind_of_text(tenant):
    brokerage = tenant.brokerage
    report = check(tenant, "Sunset over the Palm tonight. DM us for viewings.", kind="social")
    assert [f.rule for f in report.findings] == ["Brokerage disclaimer", "Brokerage licence / RERA ORN number"]
    assert report.findings[1].message.startswith(
        f"Missing the brokerage's licence / RERA ORN number ({brokerage.license_number} or {brokerage.rera_number})")
    disclaimer = template_text(brokerage, TemplateKind.DISCLAIMER)
    # Either number will do; the disclaimer counts however it is wrapped, cased or quoted.
    rewrapped = disclaimer.upper().replace(" ", "\n  ", 3).replace("'", "’")
    post = f"Sunset over the Palm tonight.\nRERA {brokerage.rera_number}\n{rewrapped}"
    assert check(tenant, post, kind="social").passed


def test_the_owners_own_disclaimer_is_the_one_looked_for(tenant):
    old = listing_text(tenant)
    template_save(brokerage=tenant.brokerage, actor=tenant.owner, kind=TemplateKind.DISCLAIMER,
                  text="All details are indicative. Palm Crest Realty, regulated by RERA.")
    assert [f.rule for f in check(tenant, old).findings] == ["Brokerage disclaimer"]
    assert check(tenant, old + "\nAll details are indicative. Palm Crest Realty, regulated by RERA.").passed


# --- prohibited claims -------------------------------------------------------------------------------------

def test_a_prohibited_claim_is_reported_with_its_line(tenant):
    report = check(tenant, listing_text(tenant, "Guaranteed  Returns of 8% from day one."))
    assert not report.passed
    [finding] = report.findings
    assert (finding.rule, finding.kind, finding.line, finding.excerpt) == (
        "Guaranteed returns", "prohibited", 3, "Guaranteed Returns")
    assert finding.message == "Line 3: 'Guaranteed Returns' — RERA forbids promising returns; remove it."


def test_claims_are_found_whatever_their_hyphens_quotes_or_plural_and_only_as_whole_words(tenant):
    text = listing_text(tenant, "A risk free buy.", "Truly risk‑free, with “100% returns”.",
                        "The BEST investment in\nDubai.", "Returns guaranteed? No: unguaranteed returnsx.")
    found = [(f.line, f.rule, f.excerpt) for f in check(tenant, text).findings]
    assert found == [(3, "Risk-free", "risk free"), (4, "Risk-free", "risk‑free"), (4, "100% return", "100% returns"),
                     (5, "Best investment in Dubai", "BEST investment in Dubai")]


def test_missing_elements_come_before_the_claims(tenant):
    report = check(tenant, "Double your money, risk-free.", kind="email")
    assert [(f.kind, f.line) for f in report.findings] == [
        ("required", None), ("required", None), ("prohibited", 1), ("prohibited", 1)]


# --- the owner's rules -------------------------------------------------------------------------------------

def test_an_owner_configured_rule_takes_effect(tenant):
    text = listing_text(tenant, "The cheapest in JVC.")
    assert check(tenant, text).passed
    compliance_rule_create(brokerage=tenant.brokerage, actor=tenant.owner, kind="prohibited", name="Cheapest",
                           pattern="cheapest in", explanation="an unverifiable price claim; state the price.")
    compliance_rule_create(brokerage=tenant.brokerage, actor=tenant.owner, kind="required",
                           name="RERA mention", pattern="Regulated by RERA",
                           explanation="add “Regulated by RERA” after the brokerage's name.")
    messages = [f.message for f in check(tenant, text).findings]
    assert messages == ["Missing 'Regulated by RERA': add “Regulated by RERA” after the brokerage's name.",
                        "Line 3: 'cheapest in' — an unverifiable price claim; state the price."]
    assert len(compliance_rules(tenant.brokerage)) == 12  # the defaults stayed


def test_an_inactive_rule_is_ignored(tenant):
    text = listing_text(tenant, "Guaranteed returns.")
    compliance_rule_set_active(brokerage=tenant.brokerage, actor=tenant.owner, rule=rule(tenant, "Guaranteed returns"),
                               is_active=False)
    report = check(tenant, text)
    assert report.passed and report.rules_checked == 9
    compliance_rule_set_active(brokerage=tenant.brokerage, actor=tenant.owner, rule=rule(tenant, "Guaranteed returns"),
                               is_active=True)
    assert not check(tenant, text).passed


def test_a_rule_applies_only_to_its_kind_of_text(tenant):
    brokerage = tenant.brokerage
    social = f"New in Dubai Marina. ORN {brokerage.license_number}\n{template_text(brokerage, 'disclaimer')}"
    assert check(tenant, social, kind="social", permit_number=None).passed  # the permit rule is for listings
    assert not check(tenant, social, kind="listing", permit_number=None).passed
    compliance_rule_create(brokerage=brokerage, actor=tenant.owner, kind="prohibited", name="New in",
                           pattern="new in", applies_to="email", explanation="say what is new.")
    assert check(tenant, social, kind="social").passed
    assert [f.rule for f in check(tenant, social, kind="email").findings] == ["New in"]


def test_the_other_brokerages_rules_do_not_apply(tenant, other_tenant):
    compliance_rule_create(brokerage=other_tenant.brokerage, actor=other_tenant.owner, kind="prohibited",
                           name="Sea view", pattern="sea view", explanation="not ours.")
    assert check(tenant, listing_text(tenant, "Sea view.")).passed


def test_default_rules_are_given_once_when_first_read(tenant):
    assert not ComplianceRule.objects.filter(brokerage=tenant.brokerage).exists()
    names = [rule.name for rule in compliance_rules(tenant.brokerage)]
    assert len(names) == 10 and "Listing permit number" in names and "Best investment in Dubai" in names
    compliance_rule_update(brokerage=tenant.brokerage, actor=tenant.owner, rule=rule(tenant, "Risk-free"),
                           data={"name": "No risk-free claims"})
    assert compliance.compliance_rules_seed_defaults(brokerage=tenant.brokerage) == 0
    assert len(compliance_rules(tenant.brokerage)) == 10
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="quality.rules_seeded").count() == 1


def test_rules_are_validated_with_messages_naming_the_field(tenant):
    brokerage, owner = tenant.brokerage, tenant.owner
    with pytest.raises(ValidationError) as error:
        compliance_rule_create(brokerage=brokerage, actor=owner, kind="prohibited", name="No permit",
                               element="permit_number", explanation="x")
    assert "Only a phrase can be prohibited" in error.value.message_dict["element"][0]
    with pytest.raises(ValidationError) as error:
        compliance_rule_create(brokerage=brokerage, actor=owner, kind="prohibited", name="Empty", pattern=" - ",
                               explanation="x")
    assert error.value.message_dict["pattern"] == ["Enter the phrase to look for, for example “guaranteed returns”."]
    with pytest.raises(ValidationError) as error:
        compliance_rule_create(brokerage=brokerage, actor=owner, kind="prohibited", name="Guaranteed returns",
                               pattern="guaranteed", explanation="x")
    assert error.value.message_dict["name"] == ["A rule with this name already exists."]
    required = compliance_rule_create(brokerage=brokerage, actor=owner, kind="required", name="Our ORN again",
                                      element="licence_number", pattern="ignored", explanation="add it.")
    assert required.pattern == ""


def test_rule_changes_are_audited(tenant):
    created = compliance_rule_create(brokerage=tenant.brokerage, actor=tenant.owner, kind="prohibited",
                                     name="Cheapest", pattern="cheapest", explanation="state the price.")
    compliance_rule_update(brokerage=tenant.brokerage, actor=tenant.owner, rule=created,
                           data={"pattern": "cheapest in", "explanation": "state the price."})
    compliance_rule_set_active(brokerage=tenant.brokerage, actor=tenant.owner, rule=created, is_active=False)
    entries = AuditLog.objects.filter(brokerage=tenant.brokerage, action__startswith="quality.rule_")
    assert [(e.action, e.details.get("fields")) for e in entries.order_by("pk")] == [
        ("quality.rule_created", None), ("quality.rule_updated", ["pattern"]), ("quality.rule_deactivated", ["is_active"])]
    assert all(e.actor == tenant.owner for e in entries)


def test_an_unknown_kind_of_text_is_refused(tenant):
    with pytest.raises(ValueError, match="Unknown kind of text 'flyer': use one of listing, social, email, other"):
        check(tenant, "text", kind="flyer")


# --- templates ---------------------------------------------------------------------------------------------

def test_templates_default_to_the_brokerages_profile(tenant):
    brokerage = tenant.brokerage
    assert brokerage.name in template_text(brokerage, TemplateKind.EMAIL_SIGNATURE)
    assert brokerage.rera_number in template_text(brokerage, TemplateKind.EMAIL_SIGNATURE)
    assert brokerage.name in template_text(brokerage, TemplateKind.DISCLAIMER)
    assert "{permit_number}" in template_text(brokerage, TemplateKind.LISTING_SKELETON)


def test_the_default_skeleton_filled_from_a_listing_passes_the_check(tenant):
    text = apply_skeleton(tenant.brokerage, SAMPLE_FACTS)
    assert "Apartment in Dubai Marina, offered at AED 2,450,000." in text
    assert "Features: Full Marina view, Balcony, Two parking spaces" in text
    assert check(tenant, text).passed


def test_a_skeleton_says_which_listing_facts_are_missing(tenant):
    facts = {**SAMPLE_FACTS, "size": "", "features": []}
    facts.pop("permit_number")
    with pytest.raises(SkeletonFactsMissing) as missing:
        apply_skeleton(tenant.brokerage, facts)
    assert missing.value.missing == ["size", "features", "permit_number"]
    assert str(missing.value) == ("The listing is missing the size, the features, the listing's permit number: "
                                  "add them instead of leaving the description to guess.")


def test_a_skeleton_with_an_unknown_placeholder_is_rejected_naming_it(tenant):
    with pytest.raises(ValidationError) as error:
        template_save(brokerage=tenant.brokerage, actor=tenant.owner, kind=TemplateKind.LISTING_SKELETON,
                      text="{title} near {metro} for {price}, {views}.")
    [message] = error.value.message_dict["text"]
    assert message.startswith("Unknown placeholders {metro}, {views}. Use only {title}, {community}")
    assert not BrokerageTemplate.objects.filter(brokerage=tenant.brokerage).exists()


def test_a_saved_skeleton_shapes_the_description_and_blank_goes_back_to_the_default(tenant):
    brokerage = tenant.brokerage
    saved = template_save(brokerage=brokerage, actor=tenant.owner, kind=TemplateKind.LISTING_SKELETON,
                          text="{title} — {bedrooms} bed, {price}.\nPermit {permit_number} · ORN {licence_number}\n"
                               "{disclaimer}")
    assert saved.updated_by == tenant.owner
    text = apply_skeleton(brokerage, {**SAMPLE_FACTS, "bedrooms": 0})
    assert text.startswith("Sunlit two-bedroom with full Marina views — Studio bed, AED 2,450,000.")
    assert "1,250 sq ft" in apply_skeleton(brokerage, {**SAMPLE_FACTS, "size": 1250}, skeleton="{size}")
    assert f"ORN {brokerage.rera_number}" in text and check(tenant, text).passed
    assert template_save(brokerage=brokerage, actor=tenant.owner, kind=TemplateKind.LISTING_SKELETON,
                         text="  ") is None
    assert template_text(brokerage, TemplateKind.LISTING_SKELETON) == compliance.DEFAULT_SKELETON
    actions = list(AuditLog.objects.filter(brokerage=brokerage, action__startswith="quality.template")
                   .order_by("pk").values_list("action", flat=True))
    assert actions == ["quality.template_saved", "quality.template_reset"]


def test_each_brokerage_has_its_own_templates(tenant, other_tenant):
    template_save(brokerage=tenant.brokerage, actor=tenant.owner, kind=TemplateKind.TONE_OF_VOICE, text="Warm.")
    assert template_text(tenant.brokerage, TemplateKind.TONE_OF_VOICE) == "Warm."
    assert template_text(other_tenant.brokerage, TemplateKind.TONE_OF_VOICE) == compliance.DEFAULT_TONE


def test_saving_a_default_unchanged_keeps_it_following_the_profile(tenant):
    brokerage = tenant.brokerage
    default = template_text(brokerage, TemplateKind.EMAIL_SIGNATURE)
    assert template_save(brokerage=brokerage, actor=tenant.owner, kind=TemplateKind.EMAIL_SIGNATURE,
                         text=default.replace("\n", "\r\n") + "\r\n") is None  # as a browser posts it
    assert not BrokerageTemplate.objects.filter(brokerage=brokerage).exists()
    brokerage.phone = "+971 4 555 0100"
    brokerage.save()
    assert "+971 4 555 0100" in template_text(brokerage, TemplateKind.EMAIL_SIGNATURE)


def test_the_demo_brokerage_gets_its_rules_and_voice_once():
    palm = BrokerageFactory(slug=demo.DEMO_BROKERAGE_SLUG, name="Palm Crest Realty")
    first = SeedResult()
    demo.seed(first)
    assert {"10 compliance rules", "compliance rule “Cheapest in the area”", "tone of voice"} <= set(first.created)
    assert template_text(palm, TemplateKind.TONE_OF_VOICE) == demo.DEMO_TONE
    again = SeedResult()
    demo.seed(again)
    assert again.created == [] and len(compliance_rules(palm)) == 11
