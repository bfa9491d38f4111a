"""The analyser against the labelled conversations: the issue's agreement target on the main set, an honest floor
on the held-out set it was never tuned on, and the command that prints the numbers."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from coaching.analysis import AREAS, analyse
from coaching.analysis.evaluation import evaluate, load_cases, verdict

DATA = Path(__file__).resolve().parents[1] / "data"
MAIN_SET = DATA / "coaching_conversations.json"
HOLDOUT_SET = DATA / "coaching_conversations_holdout.json"

# The target. Measured: main 0.995 (115 conversations, the set the rules were developed on), held-out 0.873
# (lead qualification 0.83, presentation 0.80, objections 0.93, closing 0.83, market 0.97; never tuned on). Three
# private blind sets, each measured once before joining the main set, scored 0.84, 0.81 and 0.86: expect about
# 0.85 on conversations nobody has seen. The held-out floor sits under what was measured, so a harmless rule change
# does not fail the suite.
MAIN_TARGET = 0.85
HOLDOUT_FLOOR = 0.80
AREA_FLOOR = 0.80


def local(messages, final):
    return analyse(messages, final=final)


def test_verdicts_follow_the_scoring_contract():
    assert [verdict(s) for s in (None, 0, 59.9, 60, 69.9, 70, 100)] == [None, "bad", "bad", "mixed", "mixed",
                                                                       "good", "good"]


@pytest.mark.parametrize(("path", "minimum"), [(MAIN_SET, 60), (HOLDOUT_SET, 25)])
def test_the_labelled_sets_are_big_enough_and_well_formed(path, minimum):
    cases = load_cases(path)

    assert len(cases) >= minimum
    assert len({case.id for case in cases}) == len(cases)
    for case in cases:
        assert set(case.expected) == set(AREAS), case.id
        assert set(case.expected.values()) <= {"good", "bad", None}, case.id
        assert {m.speaker for m in case.messages} <= {"agent", "lead"} and len(case.messages) >= 2, case.id
    # every verdict occurs in every area, so no area can score well by always answering the same
    for area in AREAS:
        assert {case.expected[area] for case in cases} == {"good", "bad", None}, area


def test_the_held_out_set_shares_no_conversation_with_the_main_set():
    def texts(path):
        return {m.text for case in load_cases(path) for m in case.messages if len(m.text) > 40}

    assert not texts(MAIN_SET) & texts(HOLDOUT_SET)


def test_agreement_on_the_main_set_meets_the_target():
    report = evaluate(load_cases(MAIN_SET), local)

    assert report.agreement() >= MAIN_TARGET, report.table() + "\n" + "\n".join(report.misses)
    for area in AREAS:
        assert report.agreement(area) >= AREA_FLOOR, report.table()


def test_agreement_on_the_held_out_set_stays_above_its_floor():
    report = evaluate(load_cases(HOLDOUT_SET), local)

    assert report.agreement() >= HOLDOUT_FLOOR, report.table() + "\n" + "\n".join(report.misses)


def test_the_command_prints_agreement_per_area_and_lists_misses(tmp_path):
    cases = [{"id": "tiny", "messages": [["lead", "Hi, the 2 bed in JVC is too expensive"],
                                         ["agent", "That's the price, take it or leave it."]],
              "expected": {"objection_handling": "good", "closing": None}}]
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(cases))
    out = StringIO()

    call_command("evaluate_coaching", "--cases", str(path), "--misses", stdout=out)

    text = out.getvalue()
    assert "objection_handling              1       0     0.000" in text
    assert "closing                         1       1     1.000" in text
    assert "overall                         2       1     0.500" in text
    assert "tiny objection_handling: expected good, got 30 (bad)" in text


def test_the_command_measures_the_main_set_by_default():
    out = StringIO()

    call_command("evaluate_coaching", stdout=out)

    assert "coaching_conversations.json, engine local" in out.getvalue()
    assert f"({len(load_cases(MAIN_SET))} conversations)" in out.getvalue()


def test_the_command_refuses_a_missing_or_malformed_set(tmp_path):
    with pytest.raises(CommandError, match="No labelled set"):
        call_command("evaluate_coaching", "--cases", str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('[{"id": "x"}]')
    with pytest.raises(CommandError, match="not a labelled set"):
        call_command("evaluate_coaching", "--cases", str(bad))
