"""Messages an agent types again and again, which a template or a sequence step would write for them.

Two messages are the same message when they read alike once normalised: lower case, the lead's own name,
links, e-mail addresses and numbers (prices, dates, phone numbers) left out, punctuation and spacing ignored.
"Hi Layla, the 2BR at Marina Gate is AED 1.6M" and "hi Omar — the 3BR at Marina Gate is AED 2,100,000!" are then
one message typed twice. Messages under REPEAT_MIN_WORDS words ("Thanks!", "Call me") are not worth a template.
"""

import re
from dataclasses import dataclass

from .types import RepeatedMessage

REPEAT_MIN_TIMES = 3
REPEAT_MIN_WORDS = 6
# A typing speed on a phone or keyboard for composed messages; the saving shown is times × words ÷ this.
TYPING_WORDS_PER_MINUTE = 40
MAX_GROUPS = 3
EXAMPLE_CHARS = 240

_LINK = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\w+", re.IGNORECASE)
_TOKEN = re.compile(r"[^\W_]+")  # runs of letters and digits: punctuation and spacing drop out
_DIGIT = re.compile(r"\d")


def _words(text: str) -> list[str]:
    """Lower-case words, leaving out every token with a digit in it (1.6M, 2BR, 050 123 4567, 14:30)."""
    return [token for token in _TOKEN.findall(text.lower()) if not _DIGIT.search(token)]


def normalise(text: str, lead_name: str = "") -> tuple[str, ...]:
    """The words of a message that make it the message it is (see the module docstring)."""
    name = {part for part in _words(lead_name) if len(part) > 1}
    return tuple("{name}" if word in name else word for word in _words(_LINK.sub(" ", text)))


@dataclass
class _Group:
    example: str
    words: int
    times: int = 0
    leads: set | None = None


def repeated_messages(messages: list[tuple[str, int, str]]) -> tuple[RepeatedMessage, ...]:
    """`messages` are (text, lead id, lead name), newest first. Returns the messages typed REPEAT_MIN_TIMES times or more,
    the most typing first, at most MAX_GROUPS of them; each shows its latest wording."""
    groups: dict[tuple[str, ...], _Group] = {}
    for text, lead_id, lead_name in messages:
        key = normalise(text, lead_name)
        if len(key) < REPEAT_MIN_WORDS:
            continue
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(example=_shorten(text), words=len(key), leads=set())
        group.times += 1
        group.leads.add(lead_id)
    found = [RepeatedMessage(example=group.example, times=group.times, leads=len(group.leads), words=group.words,
                             minutes_typing=round(group.times * group.words / TYPING_WORDS_PER_MINUTE, 1))
             for group in groups.values() if group.times >= REPEAT_MIN_TIMES]
    found.sort(key=lambda message: (-message.times * message.words, message.example))
    return tuple(found[:MAX_GROUPS])


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS - 1].rstrip() + "…"
