"""Vocabularies as fast patterns: `rx(*alternatives)` compiles alternatives once and checks cheaply first.

The local analyser reads every message of a conversation against a hundred vocabularies after each new message,
so the per-message cost decides whether a 50-message analysis takes 40 ms or under 10 ms.
"""

import re
from collections.abc import Iterator

_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789 ',-")
_QUANTIFIERS = frozenset("?*{")


def _top_level(alternative: str) -> list[str]:
    """`alternative` split on the "|" that are not inside a group or escaped."""
    parts, depth, start, escaped = [], 0, 0, False
    for position, char in enumerate(alternative):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(alternative[start:position])
            start = position + 1
    return parts + [alternative[start:]]


def _literal_prefix(alternative: str) -> str:
    """The text every match of `alternative` starts with (after a leading word boundary), or "" if none."""
    text = alternative[2:] if alternative.startswith("\\b") else alternative
    literal = []
    for position, char in enumerate(text):
        # A character made optional by the quantifier after it is not required.
        if char not in _LITERAL or position + 1 < len(text) and text[position + 1] in _QUANTIFIERS:
            break
        literal.append(char)
    prefix = "".join(literal)
    return prefix if len(prefix.strip()) >= 2 else ""


_LEADING_GROUP = re.compile(r"^(\\b)?\(\?:([^()\\]*)\)(.*)$", re.DOTALL)
_DIGIT_START = re.compile(r"^(?:\\b)?\\d")
_HAS_DIGIT = re.compile(r"\d")


def _expanded(alternative: str) -> list[str]:
    """`(?:the|this) unit` as `the unit` and `this unit`, so that each gets a literal start."""
    match = _LEADING_GROUP.match(alternative)
    if not match or match.group(3)[:1] in ("?", "*", "+", "{"):
        return [alternative]
    boundary, options, rest = match.groups()
    return [f"{boundary or ''}{option}{rest}" for option in _top_level(options)]


class Rx:
    """A set of alternatives compiled as one pattern, with fast pre-checks.

    Python's regex engine tries every alternative at every position, so a 60-word vocabulary costs tens of
    microseconds per message, and an analysis reads every message of the conversation. Most alternatives start
    with a literal ("sold", "service charge"): a message containing none of those literals (a C-speed substring
    test) cannot match them. Alternatives that start with a digit only run on text that has one, and only the
    few others run always.
    """

    __slots__ = ("pattern", "_guarded", "_digits", "_others")

    def __init__(self, alternatives: tuple[str, ...]) -> None:
        flat = [part for alternative in alternatives for top in _top_level(alternative) for part in _expanded(top)]
        self.pattern = re.compile("|".join(f"(?:{a})" for a in flat))
        by_literal: dict[str, list[str]] = {}
        unguarded = []
        for alternative in flat:
            literal = _literal_prefix(alternative)
            if literal:
                by_literal.setdefault(literal, []).append(alternative)
            else:
                unguarded.append(alternative)
        self._guarded = tuple((literal, self._compile(group)) for literal, group in by_literal.items())
        self._digits = self._compile([a for a in unguarded if _DIGIT_START.match(a)])
        self._others = self._compile([a for a in unguarded if not _DIGIT_START.match(a)])

    @staticmethod
    def _compile(alternatives: list[str]) -> re.Pattern | None:
        return re.compile("|".join(f"(?:{a})" for a in alternatives)) if alternatives else None

    def _candidates(self, text: str) -> list[re.Pattern]:
        patterns = [pattern for literal, pattern in self._guarded if literal in text]
        if self._others is not None:
            patterns.append(self._others)
        if self._digits is not None and _HAS_DIGIT.search(text):
            patterns.append(self._digits)
        return patterns

    def search(self, text: str) -> re.Match | None:
        for pattern in self._candidates(text):
            if match := pattern.search(text):
                return match
        return None

    def finditer(self, text: str) -> Iterator[re.Match]:
        """The matches of each alternative group in turn (so two alternatives may match overlapping text)."""
        return (match for pattern in self._candidates(text) for match in pattern.finditer(text))


def rx(*alternatives: str) -> Rx:
    return Rx(alternatives)
