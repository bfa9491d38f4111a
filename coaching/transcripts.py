"""Reading a pasted transcript into messages.

Accepted lines (blank lines are skipped):

    Agent: Good morning, this is Sara from Palm Crest.
    Lead: Hi Sara.
    [10:02] Sara (agent): Are you looking to buy or rent?
    10:03 - Omar (client): Buy, in JVC.
    Omar: Around 1.5 million.          ← the agent's or the lead's name works as a label

A line that does not start with a label continues the message above it (pasted chats wrap). A line that does
look like a label but names someone who is neither the agent nor the lead is an error rather than a guess, and
so is a first line without a speaker: every error names its line, and nothing is stored until all are fixed.
Times are read on the conversation's day in the brokerage's time zone; a time earlier than the one before it is
taken to be after midnight.
"""

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

MAX_MESSAGES = 1000
# Words that say which side a line is on, besides the two people's names.
AGENT_WORDS = frozenset({"agent", "broker", "consultant", "me"})
LEAD_WORDS = frozenset({"lead", "client", "customer", "buyer", "seller", "tenant", "landlord", "investor",
                        "caller", "prospect"})
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?)?"
_LINE = re.compile(
    r"^\s*(?:\[\s*(?P<bracketed>" + _TIME + r")\s*\]\s*[-–—]?|(?P<bare>" + _TIME + r")\s*[-–—]?)?\s*"
    r"(?P<name>[^:\[\]()]{1,40}?)\s*(?:\(\s*(?P<role>[^()]{1,20}?)\s*\))?\s*:(?:\s+|$)(?P<text>.*)$")
# What a speaker label looks like: a few words of letters (Latin or Arabic script), no digits.
_NAME = re.compile(r"^[^\W\d_][^\W\d_ .'’-]*(?:[ .'’-]+[^\W\d_]+){0,3}\.?$")
MAX_LINE_ERRORS = 20


@dataclass(frozen=True)
class TranscriptLine:
    speaker: str  # "agent" or "lead"
    text: str
    sent_at: dt.datetime | None
    where: str  # "Line 3", named in errors


def _aliases(names: Iterable[str]) -> set[str]:
    found = set()
    for name in names:
        name = (name or "").strip().lower()
        if name:
            found.add(name)
            found.add(name.split()[0])
    return found


def _time_of(value: str) -> dt.time | None:
    value = value.replace(".", "").replace(" ", "").lower()
    suffix = value[-2:] if value[-2:] in ("am", "pm") else ""
    parts = [int(part) for part in value.removesuffix(suffix).split(":")]
    hour, minute, second = parts[0], parts[1], parts[2] if len(parts) > 2 else 0
    if suffix:
        if hour > 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return dt.time(hour, minute, second)


def parse_transcript(text: str, *, agent_names: Iterable[str] = (), lead_names: Iterable[str] = (),
                     day: dt.date, timezone: str = "Asia/Dubai") -> list[TranscriptLine]:
    """The messages of a pasted transcript, in order. Raises ValidationError({"transcript": [...]}) naming
    every line it cannot read (up to twenty), so the person fixes them in one go."""
    agent_aliases, lead_aliases = _aliases(agent_names), _aliases(lead_names)
    zone = ZoneInfo(timezone)
    lines: list[dict] = []
    errors: list[str] = []
    previous_time: dt.datetime | None = None
    for number, raw in enumerate((text or "").splitlines(), start=1):
        if not raw.strip():
            continue
        where = f"Line {number}"
        match = _LINE.match(raw)
        labelled = match is not None and (
            match["role"] or match["bracketed"] or match["bare"] or _NAME.match(match["name"].strip()))
        if not labelled:
            if lines:
                lines[-1]["text"] += "\n" + raw.strip()
            else:
                errors.append(f"{where}: start with who is speaking, e.g. “Agent: …” or “Lead: …”.")
            continue
        name = match["name"].strip().rstrip(".").lower()
        role = (match["role"] or "").strip().lower()
        speaker = (_speaker(role, agent_aliases, lead_aliases, role_given=True) if role else None) or \
            _speaker(name, agent_aliases, lead_aliases, role_given=False)
        if speaker is None:
            label = match["name"].strip() + (f" ({match['role'].strip()})" if role else "")
            errors.append(f"{where}: “{label}” is neither the agent nor the lead; start the line with “Agent:” "
                          "or “Lead:”.")
            continue
        sent_at = None
        stamp = match["bracketed"] or match["bare"]
        if stamp:
            clock = _time_of(stamp)
            if clock is None:
                errors.append(f"{where}: “{stamp}” is not a time of day.")
                continue
            sent_at = dt.datetime.combine(day, clock, tzinfo=zone)
            while previous_time is not None and sent_at < previous_time:
                sent_at += dt.timedelta(days=1)
            previous_time = sent_at
        lines.append({"speaker": speaker, "text": match["text"].strip(), "sent_at": sent_at, "where": where})
    if not lines and not errors:
        errors.append("Paste the conversation, one message per line, each starting with “Agent:” or “Lead:”.")
    if len(lines) > MAX_MESSAGES:
        errors.append(f"A transcript holds at most {MAX_MESSAGES:,} messages (this one has {len(lines):,}); "
                      "split it.")
    if errors:
        more = len(errors) - MAX_LINE_ERRORS
        raise ValidationError({"transcript": errors[:MAX_LINE_ERRORS] + (
            [f"… and {more} more line{'s' if more > 1 else ''} like these."] if more > 0 else [])})
    return [TranscriptLine(**line) for line in lines]


def _speaker(label: str, agent_aliases: set[str], lead_aliases: set[str], *, role_given: bool) -> str | None:
    if label in AGENT_WORDS:
        return "agent"
    if label in LEAD_WORDS:
        return "lead"
    if role_given:
        return None
    is_agent, is_lead = label in agent_aliases, label in lead_aliases
    if is_agent != is_lead:
        return "agent" if is_agent else "lead"
    return None
