"""The Quality & Consistency engine: the brokerage's templates (signature, disclaimer, listing skeleton, tone of
voice) that every generator uses, and the compliance check every marketing text passes before it is approved.

`compliance_check` is pure apart from reading the brokerage's rules (and, when a rule needs it, its disclaimer):
the same text against the same rules gives the same report. A brokerage gets the default rules the first time
its rules are read (brokerages imports no other app, so there is no creation hook to seed them from).
"""

import re
from dataclasses import asdict, dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User
from brokerages.services import apply_changes, audit_record

from .models import PLACEHOLDER_PATTERN, SKELETON_PLACEHOLDERS, BrokerageTemplate, ComplianceRule, TemplateKind

# What a checked text is; a rule applies to all of them or to one of the first three (ComplianceRule.AppliesTo).
TEXT_KINDS: dict[str, str] = {
    "listing": "Listing text", "social": "Social post", "email": "E-mail", "other": "Other marketing text",
}
MAX_CHECK_CHARS = 20_000

# One character for one character, so a match in the normalised text has the same offsets in the original.
_SAME_LENGTH = str.maketrans({
    **dict.fromkeys("‘’‚‛′", "'"), **dict.fromkeys("“”„‟″", '"'), **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a", " "),
})
_NUMBER_SEPARATORS = re.compile(r"[\s\-]+")
_PERMIT_MENTION = re.compile(r"(?:permit|trakheesi)[^\d\n]{0,25}\d[\d \-]{4,}\d", re.IGNORECASE)


def normalise(text: str) -> str:
    """Curly quotes, dashes and odd spaces as their plain forms; same length as `text`."""
    return text.translate(_SAME_LENGTH)


def _compact(text: str) -> str:
    """For numbers: lower case without spaces or hyphens, so 'RERA-BRK 7731' is found as 'rerabrk7731'."""
    return _NUMBER_SEPARATORS.sub("", normalise(text)).lower()


def _squashed(text: str) -> str:
    return " ".join(normalise(text).lower().split())


def phrase_regex(phrase: str) -> re.Pattern:
    """A plain phrase as a case-insensitive pattern: any run of spaces or hyphens between its words, whole words
    at both ends, a plural allowed ('guaranteed return' finds 'Guaranteed Returns', 'risk-free' finds 'risk free')."""
    words = [re.escape(word) for word in _NUMBER_SEPARATORS.split(normalise(phrase).strip()) if word]
    start = r"(?<!\w)" if re.match(r"\w", words[0]) else ""
    end = r"(?:e?s)?(?!\w)" if re.search(r"\w$", words[-1]) else ""
    return re.compile(start + r"[\s\-]+".join(words) + end, re.IGNORECASE)


# --- the report --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finding:
    rule: str
    kind: str  # ComplianceRule.Kind
    line: int | None  # 1-based; None for a required element that is missing
    excerpt: str  # the offending words as written; empty for a missing element
    explanation: str  # the rule's explanation: why, and what to do
    message: str  # the whole finding as a person reads it

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ComplianceReport:
    passed: bool
    findings: list[Finding]
    rules_checked: int

    def as_dict(self) -> dict:
        return {"passed": self.passed, "findings": [finding.as_dict() for finding in self.findings],
                "rules_checked": self.rules_checked}


# --- the check ---------------------------------------------------------------------------------------------

def _missing(rule: ComplianceRule, what: str, expected: str = "") -> Finding:
    detail = f" ({expected})" if expected else ""
    return Finding(rule=rule.name, kind=rule.kind, line=None, excerpt="", explanation=rule.explanation,
                   message=f"Missing {what}{detail}: {rule.explanation}")


def _element_finding(rule: ComplianceRule, brokerage: Brokerage, text: str, permit_number: str | None,
                     disclaimer: str) -> Finding | None:
    compact = _compact(text)
    if rule.element == ComplianceRule.Element.PERMIT_NUMBER:
        if permit_number and _compact(permit_number):
            if _compact(permit_number) not in compact:
                return _missing(rule, "the listing's permit number", f"permit {permit_number.strip()}")
        elif not _PERMIT_MENTION.search(normalise(text)):
            return _missing(rule, "the listing's permit number")
    elif rule.element == ComplianceRule.Element.LICENCE_NUMBER:
        numbers = [n for n in (brokerage.license_number, brokerage.rera_number) if _compact(n)]
        if numbers and not any(_compact(number) in compact for number in numbers):
            return _missing(rule, "the brokerage's licence / RERA ORN number", " or ".join(numbers))
    elif rule.element == ComplianceRule.Element.DISCLAIMER:
        if _squashed(disclaimer) not in _squashed(text):
            return _missing(rule, "the brokerage's disclaimer")
    return None


def _claims(rule: ComplianceRule, text: str, normalised: str) -> list[tuple[int, Finding]]:
    """Every occurrence of a prohibited phrase as (offset, finding), so claims can be listed in text order."""
    findings = []
    for match in phrase_regex(rule.pattern).finditer(normalised):
        line = normalised.count("\n", 0, match.start()) + 1
        excerpt = " ".join(text[match.start():match.end()].split())
        findings.append((match.start(), Finding(rule=rule.name, kind=rule.kind, line=line, excerpt=excerpt,
                                                explanation=rule.explanation,
                                                message=f"Line {line}: '{excerpt}' — {rule.explanation}")))
    return findings


def compliance_check(*, brokerage: Brokerage, text: str, kind: str, permit_number: str | None = None,
                     rules: list[ComplianceRule] | None = None) -> ComplianceReport:
    """Check a marketing text of `kind` (a TEXT_KINDS key) against the brokerage's active rules that apply to it
    (or `rules`, already read, when checking many texts). Missing required elements come first, in the order of
    the rules, then the prohibited claims in the order they appear. Raises ValueError for an unknown kind."""
    if kind not in TEXT_KINDS:
        raise ValueError(f"Unknown kind of text {kind!r}: use one of {', '.join(TEXT_KINDS)}.")
    rules = compliance_rules(brokerage) if rules is None else rules
    applicable = [rule for rule in rules
                  if rule.is_active and rule.applies_to in (ComplianceRule.AppliesTo.ALL, kind)]
    needs_disclaimer = any(rule.element == ComplianceRule.Element.DISCLAIMER for rule in applicable)
    disclaimer = template_text(brokerage, TemplateKind.DISCLAIMER) if needs_disclaimer else ""
    normalised = normalise(text)
    missing, claims = [], []
    for rule in applicable:
        if rule.element != ComplianceRule.Element.PHRASE:
            if finding := _element_finding(rule, brokerage, text, permit_number, disclaimer):
                missing.append(finding)
        elif rule.kind == ComplianceRule.Kind.REQUIRED:
            if not phrase_regex(rule.pattern).search(normalised):
                missing.append(_missing(rule, f"'{rule.pattern}'"))
        else:
            claims.extend(_claims(rule, text, normalised))
    claims.sort(key=lambda pair: pair[0])
    findings = missing + [finding for _, finding in claims]
    return ComplianceReport(passed=not findings, findings=findings, rules_checked=len(applicable))


# --- the rules ---------------------------------------------------------------------------------------------

_ADD_IT = "add it to the text"
DEFAULT_RULES: tuple[dict, ...] = (
    {"kind": "required", "name": "Listing permit number", "element": "permit_number", "applies_to": "listing",
     "explanation": f"{_ADD_IT}; the Dubai Land Department requires the Trakheesi permit number on every "
                    "property advert."},
    {"kind": "required", "name": "Brokerage licence / RERA ORN number", "element": "licence_number",
     "explanation": f"{_ADD_IT}; RERA requires the brokerage's registration number on all advertising."},
    {"kind": "required", "name": "Brokerage disclaimer", "element": "disclaimer",
     "explanation": f"{_ADD_IT}, word for word as on the Templates page."},
    {"kind": "prohibited", "name": "Guaranteed returns", "pattern": "guaranteed returns",
     "explanation": "RERA forbids promising returns; remove it."},
    {"kind": "prohibited", "name": "Guaranteed rental yield", "pattern": "guaranteed rental yield",
     "explanation": "no rental yield can be guaranteed; remove it, or quote today's yield with its source."},
    {"kind": "prohibited", "name": "Guaranteed ROI", "pattern": "guaranteed ROI",
     "explanation": "RERA forbids promising returns; remove it."},
    {"kind": "prohibited", "name": "Risk-free", "pattern": "risk-free",
     "explanation": "no property investment is risk-free; remove the claim."},
    {"kind": "prohibited", "name": "100% return", "pattern": "100% return",
     "explanation": "a promised return figure is misleading advertising; remove it."},
    {"kind": "prohibited", "name": "Best investment in Dubai", "pattern": "best investment in Dubai",
     "explanation": "an unprovable superlative is misleading advertising; say what makes the property stand "
                    "out instead."},
    {"kind": "prohibited", "name": "Double your money", "pattern": "double your money",
     "explanation": "RERA forbids promising returns; remove it."},
)


@transaction.atomic
def compliance_rules_seed_defaults(*, brokerage: Brokerage) -> int:
    """Give a brokerage that has no rules the default set (idempotent and safe when two requests race: names
    are unique per brokerage). Returns how many rules were created."""
    if ComplianceRule.objects.filter(brokerage=brokerage).exists():
        return 0
    created = ComplianceRule.objects.bulk_create(
        [ComplianceRule(brokerage=brokerage, **spec) for spec in DEFAULT_RULES], ignore_conflicts=True)
    audit_record(brokerage=brokerage, actor=None, action="quality.rules_seeded",
                 resource_type="copilot.compliancerule", details={"rules": len(created)})
    return len(created)


def compliance_rules(brokerage: Brokerage) -> list[ComplianceRule]:
    """Every rule of the brokerage (active or not), required elements first; seeds the defaults on first read."""
    rules = ComplianceRule.objects.filter(brokerage=brokerage).order_by("-kind", "name")
    if not rules and compliance_rules_seed_defaults(brokerage=brokerage):
        rules = rules.all()
    return list(rules)


def compliance_rule_get(brokerage: Brokerage, pk: int) -> ComplianceRule:
    """The brokerage's rule; another brokerage's answers 404."""
    return get_object_or_404(ComplianceRule, brokerage=brokerage, pk=pk)


RULE_FIELDS = ("kind", "name", "element", "pattern", "applies_to", "explanation", "is_active")


def _save_rule(rule: ComplianceRule) -> None:
    rule.full_clean(validate_constraints=False)  # the database's constraints answer below, in words
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise ValidationError({"name": "A rule with this name already exists."}) from None


@transaction.atomic
def compliance_rule_create(*, brokerage: Brokerage, actor: User | None, kind: str, name: str, explanation: str,
                           element: str = ComplianceRule.Element.PHRASE, pattern: str = "",
                           applies_to: str = ComplianceRule.AppliesTo.ALL, is_active: bool = True) -> ComplianceRule:
    """Add a rule. A prohibited claim needs a phrase; a required element is a phrase or a built-in element.
    Raises ValidationError naming the field (duplicate names included)."""
    compliance_rules_seed_defaults(brokerage=brokerage)  # an owner's first rule must not stop the defaults
    rule = ComplianceRule(brokerage=brokerage, kind=kind, name=name.strip(), element=element,
                          pattern=pattern.strip(), applies_to=applies_to, explanation=explanation.strip(),
                          is_active=is_active)
    _save_rule(rule)
    audit_record(brokerage=brokerage, actor=actor, action="quality.rule_created", resource=rule,
                 details={"name": rule.name, "kind": rule.kind, "applies_to": rule.applies_to})
    return rule


@transaction.atomic
def compliance_rule_update(*, brokerage: Brokerage, actor: User | None, rule: ComplianceRule,
                           data: dict) -> ComplianceRule:
    """Change any of RULE_FIELDS given in `data`; the audit log names the fields that changed."""
    rule = ComplianceRule.objects.select_for_update().get(pk=rule.pk, brokerage=brokerage)
    changed = list(apply_changes(rule, RULE_FIELDS, data,
                                 clean=lambda _, value: value.strip() if isinstance(value, str) else value))
    if changed:
        _save_rule(rule)
        action = "quality.rule_updated"
        if changed == ["is_active"]:
            action = "quality.rule_activated" if rule.is_active else "quality.rule_deactivated"
        audit_record(brokerage=brokerage, actor=actor, action=action, resource=rule,
                     details={"name": rule.name, "fields": changed})
    return rule


def compliance_rule_set_active(*, brokerage: Brokerage, actor: User | None, rule: ComplianceRule,
                               is_active: bool) -> ComplianceRule:
    return compliance_rule_update(brokerage=brokerage, actor=actor, rule=rule, data={"is_active": is_active})


# --- the templates -----------------------------------------------------------------------------------------

DEFAULT_SKELETON = """{title}

{property_type} in {community}, offered at {price}.

Bedrooms: {bedrooms}
Size: {size}
Features: {features}

Permit number: {permit_number}
{brokerage_name} · Licence / RERA ORN {licence_number}

{disclaimer}"""
DEFAULT_TONE = ("Warm, clear and factual. Short sentences, no hype and no exclamation marks: describe what the "
                "buyer or tenant gets and let the facts sell. Never promise returns or prices.")
SAMPLE_FACTS = {
    "title": "Sunlit two-bedroom with full Marina views", "community": "Dubai Marina", "building": "Marina Gate 1",
    "property_type": "Apartment", "bedrooms": 2, "size": "1,250 sq ft", "price": Decimal("2450000"),
    "features": ["Full Marina view", "Balcony", "Two parking spaces"], "permit_number": "7123456789",
}


def _default_text(brokerage: Brokerage, kind: str) -> str:
    if kind == TemplateKind.LISTING_SKELETON:
        return DEFAULT_SKELETON
    if kind == TemplateKind.TONE_OF_VOICE:
        return DEFAULT_TONE
    if kind == TemplateKind.DISCLAIMER:
        return (f"{brokerage.name} has prepared this information in good faith; prices, availability and "
                "figures are indicative, subject to change and form no part of any contract.")
    contacts = " · ".join(value for value in (brokerage.phone, brokerage.email, brokerage.website) if value)
    return "\n".join(line for line in (brokerage.name, contacts, f"Licence / RERA ORN {_licence(brokerage)}")
                     if line)


def _licence(brokerage: Brokerage) -> str:
    return brokerage.rera_number or brokerage.license_number


def templates_for(brokerage: Brokerage) -> dict[str, tuple[str, BrokerageTemplate | None]]:
    """Every kind with the text in force and the saved row (None while the built-in default is used)."""
    saved = {row.kind: row for row in BrokerageTemplate.objects.filter(brokerage=brokerage)}
    return {kind: (saved[kind].text if kind in saved else _default_text(brokerage, kind), saved.get(kind))
            for kind in TemplateKind.values}


def template_text(brokerage: Brokerage, kind: str) -> str:
    """The brokerage's text for a TemplateKind, or the built-in default when it never saved one."""
    row = BrokerageTemplate.objects.filter(brokerage=brokerage, kind=kind).only("text").first()
    return row.text if row else _default_text(brokerage, kind)


@transaction.atomic
def template_save(*, brokerage: Brokerage, actor: User | None, kind: str,
                  text: str) -> BrokerageTemplate | None:
    """Save the brokerage's text for `kind`; blank text, or the built-in default itself, goes back to the default
    (returns None), so the default keeps following the brokerage's profile. A skeleton with unknown
    placeholders raises ValidationError naming them."""
    if kind not in TemplateKind.values:
        raise ValidationError({"kind": f"Unknown template {kind!r}."})
    text = text.replace("\r\n", "\n").strip()  # as browsers send a textarea
    row = BrokerageTemplate.objects.select_for_update().filter(brokerage=brokerage, kind=kind).first()
    if not text or text == _default_text(brokerage, kind):
        if row is not None:
            row.delete()
            audit_record(brokerage=brokerage, actor=actor, action="quality.template_reset",
                         resource_type="copilot.brokeragetemplate", details={"kind": kind})
        return None
    row = row or BrokerageTemplate(brokerage=brokerage, kind=kind)
    if row.pk and row.text == text:
        return row
    row.text, row.updated_by = text, actor
    row.full_clean(validate_constraints=False)  # one row per kind is guaranteed by the lock and the constraint
    row.save()
    audit_record(brokerage=brokerage, actor=actor, action="quality.template_saved", resource=row,
                 details={"kind": kind})
    return row


class SkeletonFactsMissing(ValueError):
    """The listing lacks facts the skeleton asks for; `missing` names the placeholders."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        described = ", ".join(SKELETON_PLACEHOLDERS[name] for name in missing)
        super().__init__(f"The listing is missing {described}: add {'it' if len(missing) == 1 else 'them'} "
                         "instead of leaving the description to guess.")


def _fact_text(name: str, value) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(item).strip() for item in value if str(item).strip())
    if name == "price" and isinstance(value, (int, Decimal)):
        return f"AED {value:,.0f}"
    if name == "size" and isinstance(value, int):
        return f"{value:,} sq ft"
    if name == "bedrooms" and value in (0, "0"):
        return "Studio"
    return "" if value is None else str(value).strip()


def apply_skeleton(brokerage: Brokerage, facts: dict, *, skeleton: str | None = None) -> str:
    """The brokerage's listing skeleton (or `skeleton`) with every placeholder filled: listing facts from `facts`
    (strings, numbers — a price in AED, a size in sq ft, bedrooms 0 as Studio — or lists), the brokerage's name,
    licence and disclaimer from its profile and templates. Raises SkeletonFactsMissing when a listing fact the
    skeleton uses is absent or blank: a generator says what is missing rather than invent it."""
    skeleton = template_text(brokerage, TemplateKind.LISTING_SKELETON) if skeleton is None else skeleton
    used = PLACEHOLDER_PATTERN.findall(skeleton)
    values = {name: _fact_text(name, facts.get(name)) for name in SKELETON_PLACEHOLDERS}
    values.update(brokerage_name=brokerage.name, licence_number=_licence(brokerage))
    if "disclaimer" in used:
        values["disclaimer"] = template_text(brokerage, TemplateKind.DISCLAIMER)
    missing = [name for name in dict.fromkeys(used) if name in values and not values[name]]
    if missing:
        raise SkeletonFactsMissing(missing)
    return PLACEHOLDER_PATTERN.sub(lambda match: values.get(match.group(1), match.group(0)), skeleton)
