"""Agreement of an analyser with labelled conversations, per area and overall.

A labelled set is JSON: either a list of conversations or {"conversations": [...]} (other keys are notes).
A conversation is {"id", "messages": [{"speaker": "agent"|"lead", "text", "sent_at"?}, ...] (or [speaker, text]
pairs), "final": true|false (default true), "expected": {area: "good"|"bad"|null}}. An area missing from
"expected" is not counted. A score agrees with "good" when it is 70 or more, with "bad" when under 60, with null
when it is null; a score from 60 to 69 agrees with neither.
"""

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .types import AREAS, Analysis, MessageIn

GOOD_FROM = 70.0
BAD_BELOW = 60.0


def verdict(score: float | None) -> str | None:
    if score is None:
        return None
    if score >= GOOD_FROM:
        return "good"
    if score < BAD_BELOW:
        return "bad"
    return "mixed"


@dataclass(frozen=True)
class Case:
    id: str
    messages: tuple[MessageIn, ...]
    final: bool
    expected: dict[str, str | None]
    description: str = ""


@dataclass
class Report:
    labelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AREAS, 0))
    agreed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(AREAS, 0))
    misses: list[str] = field(default_factory=list)
    conversations: int = 0

    def agreement(self, area: str | None = None) -> float:
        labelled = self.labelled[area] if area else sum(self.labelled.values())
        agreed = self.agreed[area] if area else sum(self.agreed.values())
        return agreed / labelled if labelled else 0.0

    def table(self) -> str:
        lines = [f"{'area':24} {'labelled':>8} {'agreed':>7} {'agreement':>9}"]
        for area in AREAS:
            lines.append(f"{area:24} {self.labelled[area]:>8} {self.agreed[area]:>7} {self.agreement(area):>9.3f}")
        lines.append(f"{'overall':24} {sum(self.labelled.values()):>8} {sum(self.agreed.values()):>7} "
                     f"{self.agreement():>9.3f}")
        lines.append(f"({self.conversations} conversations)")
        return "\n".join(lines)


def _message(item) -> MessageIn:
    if isinstance(item, list | tuple):
        speaker, text = item[0], item[1]
        sent_at = item[2] if len(item) > 2 else None
    else:
        speaker, text, sent_at = item["speaker"], item["text"], item.get("sent_at")
    return MessageIn(speaker, text, dt.datetime.fromisoformat(sent_at) if sent_at else None)


def load_cases(path: Path) -> list[Case]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    items = data["conversations"] if isinstance(data, dict) else data
    return [Case(id=str(item.get("id", number)), messages=tuple(_message(m) for m in item["messages"]),
                 final=item.get("final", True), expected=dict(item["expected"]),
                 description=item.get("description", ""))
            for number, item in enumerate(items, start=1)]


def evaluate(cases: Sequence[Case], analyser: Callable[[Sequence[MessageIn], bool], Analysis]) -> Report:
    """Run `analyser(messages, final)` on every case and compare its area scores with the labels."""
    report = Report(conversations=len(cases))
    for case in cases:
        analysis = analyser(case.messages, case.final)
        for area, expected in case.expected.items():
            if area not in report.labelled:
                continue
            report.labelled[area] += 1
            score = analysis.quality_scores_by_area.get(area)
            got = verdict(score)
            if got == expected:
                report.agreed[area] += 1
            else:
                report.misses.append(f"{case.id} {area}: expected {expected or 'null'}, got "
                                     f"{'null' if score is None else f'{score:g} ({got})'}")
    return report
