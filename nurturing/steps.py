"""Sequence steps and the merge fields of their templates.

A step is `{"delay_days": 0..365, "channel": email|sms|whatsapp|call, "subject": "...", "body": "..."}` or, in
place of `body`, an `"instruction"` for the AI engine to write the message from. Each step's delay counts from
the previous step (the first from enrolment). Templates use `{{ field }}` merge fields from `MERGE_FIELDS`; an
unknown field is an error when the sequence is saved, never a blank in a message a client reads.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError

from .models import SEND_CHANNELS

MAX_STEPS = 20
MAX_DELAY_DAYS = 365
MERGE_FIELDS: dict[str, str] = {
    "first_name": "The lead's first name",
    "name": "The lead's full name",
    "agent_name": "The assigned agent's name",
    "agent_phone": "The assigned agent's phone or the brokerage's",
    "brokerage_name": "The brokerage's name",
    "areas": "The areas the lead is interested in",
    "property_type": "The property type the lead wants",
    "budget": "The lead's budget range",
}
MERGE_FIELD_PATTERN = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
STEP_KEYS = {"delay_days", "channel", "subject", "body", "instruction"}


def unknown_merge_fields(template: str) -> list[str]:
    return sorted({name for name in MERGE_FIELD_PATTERN.findall(template or "") if name not in MERGE_FIELDS})


def render(template: str, context: dict[str, str]) -> str:
    """Fill the merge fields; a field without a value for this lead reads naturally rather than blank."""
    return MERGE_FIELD_PATTERN.sub(lambda match: context.get(match.group(1)) or _FALLBACKS.get(match.group(1), ""),
                                   template)


_FALLBACKS = {"first_name": "there", "areas": "the areas you mentioned", "property_type": "property",
              "budget": "your budget", "name": "there"}


def clean_steps(steps) -> list[dict]:
    """Validate and normalise a list of steps; errors name the step (1-based) and the field."""
    if not isinstance(steps, list):
        raise ValidationError({"steps": "Steps must be a list."})
    if not steps:
        raise ValidationError({"steps": "A sequence needs at least one step."})
    if len(steps) > MAX_STEPS:
        raise ValidationError({"steps": f"A sequence has at most {MAX_STEPS} steps."})
    cleaned, errors = [], []
    for number, step in enumerate(steps, start=1):
        try:
            cleaned.append(_clean_step(step))
        except ValidationError as error:
            errors += [f"Step {number}: {message}" for message in error.messages]
    if errors:
        raise ValidationError({"steps": errors})
    return cleaned


def _clean_step(step) -> dict:
    if not isinstance(step, dict):
        raise ValidationError("must be an object with delay_days, channel and body or instruction.")
    unknown = sorted(set(step) - STEP_KEYS)
    if unknown:
        raise ValidationError(f"unknown field(s) {', '.join(unknown)}.")
    delay = step.get("delay_days", 0)
    if isinstance(delay, bool) or not isinstance(delay, int):
        try:
            delay = int(str(delay).strip())
        except ValueError:
            raise ValidationError("delay_days must be a whole number of days.") from None
    if delay < 0:
        raise ValidationError("delay_days cannot be negative.")
    if delay > MAX_DELAY_DAYS:
        raise ValidationError(f"delay_days is at most {MAX_DELAY_DAYS}.")
    channel = step.get("channel")
    if channel not in SEND_CHANNELS:
        raise ValidationError(f"channel must be one of {', '.join(SEND_CHANNELS)}.")
    subject = str(step.get("subject") or "").strip()
    body = str(step.get("body") or "").strip()
    instruction = str(step.get("instruction") or "").strip()
    if bool(body) == bool(instruction):
        raise ValidationError("give either a message body or an instruction for the AI engine, not both.")
    messages = []
    for label, text in (("subject", subject), ("body", body)):
        unknown_fields = unknown_merge_fields(text)
        if unknown_fields:
            messages.append(f"unknown merge field(s) in the {label}: {', '.join(unknown_fields)} "
                            f"(known: {', '.join(MERGE_FIELDS)}).")
    if messages:
        raise ValidationError(messages)
    if len(subject) > 200 or len(body) > 5000 or len(instruction) > 1000:
        raise ValidationError("subject (200), body (5,000) or instruction (1,000 characters) is too long.")
    step = {"delay_days": delay, "channel": channel}
    if subject:
        step["subject"] = subject
    step["body" if body else "instruction"] = body or instruction
    return step


def step_due_at(steps: list[dict], index: int, since: dt.datetime) -> dt.datetime | None:
    """When step `index` is due, counted from `since` (the enrolment or the previous step); None past the end."""
    if index >= len(steps):
        return None
    return since + dt.timedelta(days=steps[index]["delay_days"])


def merge_context(lead) -> dict[str, str]:
    """The merge field values of one lead (its agent and brokerage loaded with it)."""
    agent = lead.assigned_agent
    brokerage = lead.brokerage
    return {
        "first_name": lead.first_name,
        "name": lead.name,
        "agent_name": agent.display_name if agent else brokerage.name,
        "agent_phone": brokerage.phone,
        "brokerage_name": brokerage.name,
        "areas": ", ".join(lead.areas),
        "property_type": lead.get_property_type_display().lower() if lead.property_type else "",
        "budget": budget_text(lead.budget_min, lead.budget_max),
    }


def budget_text(low, high) -> str:
    """"AED 1.2M–1.5M", "up to AED 900K", "from AED 2M" or "" — how an agent says a budget."""
    def short(amount) -> str:
        amount = float(amount)
        if amount >= 1_000_000:
            return f"{amount / 1_000_000:.1f}".rstrip("0").rstrip(".") + "M"
        if amount >= 1_000:
            return f"{amount / 1_000:.0f}K"
        return f"{amount:.0f}"

    if low and high:
        return f"AED {short(low)}–{short(high)}"
    if high:
        return f"up to AED {short(high)}"
    if low:
        return f"from AED {short(low)}"
    return ""
