"""Local conversation analysis of a 50-message conversation (issue 5 target: <= 20 ms).

The conversation is the first 50 messages of tests/data/coaching_conversations.json (real phrasing: objections,
questions, figures, small talk), analysed the way the real-time path does it after each message
(`final=False`) and the way `conversation_end` does it (`final=True`), ROUNDS rounds of SAMPLES calls each after
a warm-up. The baseline, measured in the same rounds on the same messages, is the least any analyser must do:
lower-case and split every message into words. Pure Python, no database.

A third figure is reported, not asserted: replaying the conversation message by message (an analysis of 1, 2,
… 50 messages, i.e. what a whole live conversation costs the server in analysis).
"""

import random
import time
from pathlib import Path

from coaching.analysis import analyse
from coaching.analysis.evaluation import load_cases
from coaching.analysis.lexicon import normalise

from .timing import BenchResult, Stats, sample

LIMIT_MS = 20.0
MESSAGES = 50
ROUNDS = 5
SAMPLES = 60
MAIN_SET = Path(__file__).resolve().parents[1] / "data" / "coaching_conversations.json"


def conversation() -> list:
    messages = [message for case in load_cases(MAIN_SET) for message in case.messages]
    return messages[:MESSAGES]


def tokenise(messages) -> list[list[str]]:
    return [normalise(message.text).split() for message in messages]


def test_local_analysis_of_a_50_message_conversation():
    messages = conversation()
    assert len(messages) == MESSAGES
    rng = random.Random(5)
    modes = [False, True] * (SAMPLES // 2)

    def check(final, result) -> None:
        assert result.final is final and result.quality_scores_by_area

    sample(lambda final: analyse(messages, final=final), modes[:10], check=check)  # warm-up
    target: dict[bool, list[float]] = {False: [], True: []}
    baseline: list[float] = []
    for _ in range(ROUNDS):
        baseline += sample(lambda _: tokenise(messages), range(SAMPLES))
        order = rng.sample(modes, len(modes))
        for final, elapsed in zip(order, sample(lambda final: analyse(messages, final=final), order, check=check),
                                  strict=True):
            target[final].append(elapsed)

    started = time.perf_counter()
    for end in range(1, MESSAGES + 1):
        analyse(messages[:end], final=False)
    replay_ms = (time.perf_counter() - started) * 1000

    final_analysis = analyse(messages, final=True)
    results = []
    for final, name in ((False, "live"), (True, "final")):
        result = BenchResult(
            issue=5, name=f"coaching_analysis_local_{name}",
            description=f"local conversation analysis, {MESSAGES} messages, final={final}",
            database="none (pure Python)", target=Stats.of(target[final]),
            baseline_name="lower-case and split the same messages", baseline=Stats.of(baseline),
            limit_p95_ms=LIMIT_MS, rounds=ROUNDS,
            dataset={"messages": MESSAGES, "characters": sum(len(m.text) for m in messages),
                     "source": "tests/data/coaching_conversations.json (first 50 messages)"},
            notes={"findings": len(final_analysis.findings),
                   "replay_1_to_50_messages_ms": round(replay_ms, 1),
                   "replay_average_per_message_ms": round(replay_ms / MESSAGES, 2)},
        )
        result.publish()
        results.append(result)
    assert all(result.met for result in results), [result.line() for result in results]
