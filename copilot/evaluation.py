"""Retrieval quality of the mentor on a labelled set: hit@1, hit@3, MRR, and how well it abstains.

A case is {"question": str, "expected": [article titles, best first]}; an empty list means the knowledge base
does not answer it and the mentor must abstain. An answerable question counts as a hit at k only when the
mentor did not abstain and an expected article is among its first k cited-or-ranked articles.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

from brokerages.models import Brokerage

from .mentor import gather_evidence


@dataclass
class EvalReport:
    answerable: int = 0
    out_of_scope: int = 0
    hits_at_1: int = 0
    hits_at_3: int = 0
    reciprocal_ranks: float = 0.0
    abstained_answerable: int = 0
    abstained_out_of_scope: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def hit_at_1(self) -> float:
        return self.hits_at_1 / max(self.answerable, 1)

    @property
    def hit_at_3(self) -> float:
        return self.hits_at_3 / max(self.answerable, 1)

    @property
    def mrr(self) -> float:
        return self.reciprocal_ranks / max(self.answerable, 1)

    @property
    def abstention_recall(self) -> float:
        return self.abstained_out_of_scope / max(self.out_of_scope, 1)

    @property
    def abstention_precision(self) -> float:
        abstained = self.abstained_out_of_scope + self.abstained_answerable
        return self.abstained_out_of_scope / abstained if abstained else 1.0

    @property
    def false_abstention(self) -> float:
        return self.abstained_answerable / max(self.answerable, 1)

    def table(self) -> str:
        return "\n".join([
            f"answerable questions   {self.answerable}",
            f"out-of-scope questions {self.out_of_scope}",
            f"hit@1                  {self.hit_at_1:.3f}",
            f"hit@3                  {self.hit_at_3:.3f}",
            f"MRR                    {self.mrr:.3f}",
            f"abstention precision   {self.abstention_precision:.3f}",
            f"abstention recall      {self.abstention_recall:.3f}",
            f"false abstention       {self.false_abstention:.3f}",
        ])


def load_cases(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def ranked_titles(brokerage: Brokerage, question: str) -> tuple[list[str], bool]:
    evidence = gather_evidence(brokerage, question)
    titles: list[str] = []
    for scored in evidence.passages:
        if scored.passage.article.title not in titles:
            titles.append(scored.passage.article.title)
    return titles, not evidence.answerable


def evaluate(brokerage: Brokerage, cases: list[dict]) -> EvalReport:
    report = EvalReport()
    for case in cases:
        titles, abstained = ranked_titles(brokerage, case["question"])
        expected = case["expected"]
        if not expected:
            report.out_of_scope += 1
            report.abstained_out_of_scope += abstained
            if not abstained:
                report.misses.append(f"answered out-of-scope: {case['question']!r} -> {titles[:1]}")
            continue
        report.answerable += 1
        if abstained:
            report.abstained_answerable += 1
            report.misses.append(f"abstained: {case['question']!r} (expected {expected[0]!r}; top {titles[:2]})")
            continue
        rank = next((i + 1 for i, title in enumerate(titles) if title in expected), None)
        if rank is None:
            report.misses.append(f"missed: {case['question']!r} (expected {expected[0]!r}; got {titles[:3]})")
            continue
        report.hits_at_1 += rank == 1
        report.hits_at_3 += rank <= 3
        report.reciprocal_ranks += 1 / rank
    return report
