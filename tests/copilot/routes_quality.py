"""Isolation cases for the Quality & Consistency pages (templates, compliance rules, "Check a text") and the
compliance-check API: everyone reads and checks, only the owner changes templates and rules."""

from copilot.compliance import compliance_rule_create
from tests.isolation import EVERYONE, OWNER, Case

OWNER_ONLY = frozenset({OWNER})
RULE_DATA = {"name": "Cheapest", "kind": "prohibited", "element": "phrase", "pattern": "cheapest in",
             "applies_to": "listing", "explanation": "state the price instead."}


def rule(tenant, member) -> dict:
    created = compliance_rule_create(brokerage=tenant.brokerage, actor=tenant.owner, kind="prohibited",
                                     name="Off-plan bargain", pattern="bargain", explanation="say the price.")
    return {"pk": created.pk}


ROUTES: dict = {
    "copilot:templates": [
        Case(EVERYONE, label="read"),
        Case(OWNER_ONLY, ("POST",), data={"kind": "tone_of_voice", "tone_of_voice-text": "Warm and factual."},
             label="save"),
    ],
    "copilot:template_preview": [
        Case(OWNER_ONLY, ("POST",), data={"listing_description_skeleton-text": "{title} for {price}"}),
    ],
    "copilot:compliance_rules": [Case(EVERYONE)],
    "copilot:compliance_rule_new": [Case(OWNER_ONLY, ("GET", "POST"), data=RULE_DATA)],
    "copilot:compliance_rule_edit": [Case(OWNER_ONLY, ("GET", "POST"), objects=rule, data=RULE_DATA)],
    "copilot:compliance_rule_toggle": [Case(OWNER_ONLY, ("POST",), objects=rule)],
    "copilot:compliance_check": [
        Case(EVERYONE, ("GET", "POST"), data={"text": "Guaranteed returns!", "kind": "social"}),
    ],
    "api-compliance-check": [Case(EVERYONE, ("POST",), api=True)],
}
