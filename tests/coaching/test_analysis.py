"""The local conversation analyser: what a coach would say about a conversation, area by area, and the measures
around it (talk ratio, questions, response gaps), live and at the end."""

import datetime as dt
import json
import time

import pytest

from coaching.analysis import (
    AREAS,
    EXPERTISE_AREAS,
    SEVERITIES,
    Analysis,
    MessageIn,
    analyse,
)
from coaching.analysis import lexicon
from coaching.analysis.catalogue import CATALOGUE

T0 = dt.datetime(2025, 3, 1, 10, 0, tzinfo=dt.UTC)


def convo(*lines: str, minutes: float = 1.0) -> list[MessageIn]:
    """Messages from "A: …" (agent) and "L: …" (lead) lines, `minutes` apart."""
    speakers = {"A": "agent", "L": "lead"}
    return [MessageIn(speakers[line[0]], line[3:], T0 + dt.timedelta(minutes=minutes * i))
            for i, line in enumerate(lines)]


def codes(analysis: Analysis) -> set[str]:
    return {f.code for f in analysis.findings}


def finding(analysis: Analysis, code: str):
    return next(f for f in analysis.findings if f.code == code)


PRICE_OPENING = (
    "L: Hi, I saw the 1 bed in JVC on Bayut. Is it still available?",
    "A: Hi! Yes it is. Are you buying to live in or to invest, and what budget and timeline do you have?",
    "L: To live in, up to 950k, moving in September",
    "L: But honestly 950k is too high for JVC",
)
WITH_COMPS = "A: I understand. The last three 1-beds in this building sold for 920k, 945k and 980k this year on DLD data, " \
             "about AED 1,210 per sq ft, so it's in line with the market."
DEFENSIVE = "A: That's the price, take it or leave it. The owner won't go lower."


def test_price_objection_answered_with_comparables_is_handled_well():
    result = analyse(convo(*PRICE_OPENING, WITH_COMPS), final=False)

    assert result.quality_scores_by_area["objection_handling"] >= 70
    assert result.quality_scores_by_area["market_expertise"] >= 70
    strength = finding(result, "objection_handled_with_data")
    assert strength.positive and strength.message_index == 4


def test_price_objection_answered_defensively_scores_low_with_evidence_quoting_it():
    result = analyse(convo(*PRICE_OPENING, DEFENSIVE), final=False)

    assert result.quality_scores_by_area["objection_handling"] < 60
    alert = finding(result, "objection_defensive")
    assert (alert.area, alert.severity, alert.positive, alert.message_index) == (
        "objection_handling", "critical", False, 4)
    assert alert.evidence == ("But honestly 950k is too high for JVC", DEFENSIVE[3:])
    assert alert.suggested_action and "comparable" in alert.suggested_action.lower()


def test_price_objection_answered_warmly_but_without_data_is_still_a_miss():
    result = analyse(convo(*PRICE_OPENING, "A: I understand, but it's a premium building and the quality is worth it."),
                     final=True)

    assert result.quality_scores_by_area["objection_handling"] < 60
    assert "objection_price_without_data" in codes(result)
    assert result.quality_scores_by_area["market_expertise"] < 60


def test_an_objection_not_yet_answered_is_not_judged_while_live_but_is_at_the_end():
    messages = convo(*PRICE_OPENING)

    assert analyse(messages, final=False).quality_scores_by_area["objection_handling"] is None
    ended = analyse(messages, final=True)
    assert ended.quality_scores_by_area["objection_handling"] < 60
    assert "objection_ignored" in codes(ended)


WARM_NO_CLOSE = (
    "L: Hi, I'm interested in the 3 bed townhouse in Town Square",
    "A: Great! What's your budget and when would you like to move?",
    "L: About 1.8M, before August",
    "A: This one is a corner unit with a bigger garden, so the kids have space to play next to the pool.",
    "L: Sounds perfect",
    "A: Great, I'll send you some more options.",
)


def test_warm_conversation_without_a_next_step_fails_closing_only_at_the_end():
    messages = convo(*WARM_NO_CLOSE)

    live = analyse(messages, final=False)
    assert live.quality_scores_by_area["closing"] is None
    assert not any(f.area == "closing" for f in live.findings)

    ended = analyse(messages, final=True)
    assert ended.quality_scores_by_area["closing"] < 60
    assert codes(ended) & {"closing_vague_next_step", "closing_no_next_step"}
    # everything else the agent did well still shows
    assert ended.quality_scores_by_area["property_presentation"] >= 70
    assert ended.quality_scores_by_area["lead_qualification"] >= 70


def test_a_viewing_agreed_for_a_day_and_time_is_a_good_close_even_live():
    messages = convo(*WARM_NO_CLOSE[:-1], "A: Shall we see it on Saturday at 11am or Sunday at 4pm?",
                     "L: Saturday at 11 works")

    result = analyse(messages, final=False)

    assert result.quality_scores_by_area["closing"] >= 70
    assert finding(result, "closing_next_step_secured").evidence[0].startswith("Shall we see it on Saturday")


def test_a_lead_who_is_not_in_the_market_is_owed_no_close():
    messages = convo("A: Hi Ravi, are you still looking for a 3-bed in Mirdif?",
                     "L: Please remove my number, we already bought.",
                     "A: Congratulations on the purchase! I've removed you from our list.")

    result = analyse(messages, final=True)

    assert result.quality_scores_by_area["closing"] is None
    assert result.quality_scores_by_area["lead_qualification"] is None


NEW_BUYER_NEVER_QUALIFIED = (
    "L: Hi, I saw your ad for the 2 bed in Bluewaters",
    "A: Hi! Yes, it's a lovely unit on the 15th floor",
    "L: Sounds nice. Is it big?",
    "A: 1,400 sq ft, so the living room fits a big dining table",
    "L: Nice",
    "A: There's a terrace too",
    "L: Wow",
    "A: And a beach club",
    "L: Great",
    "A: And a gym and a pool",
)


def test_new_buyer_never_asked_budget_or_timeline_scores_low_once_there_were_enough_turns():
    messages = convo(*NEW_BUYER_NEVER_QUALIFIED)

    early = analyse(messages[:4], final=False)
    assert early.quality_scores_by_area["lead_qualification"] is None

    result = analyse(messages, final=False)
    assert result.quality_scores_by_area["lead_qualification"] < 60
    missing = finding(result, "qualification_budget_timeline_missing")
    assert missing.evidence[0] == "Hi, I saw your ad for the 2 bed in Bluewaters"

    short = analyse(messages[:4], final=True)
    assert short.quality_scores_by_area["lead_qualification"] < 60


def test_budget_and_timeline_asked_is_good_qualification():
    result = analyse(convo("L: Hi, looking for a 1 bedroom to rent near Media City",
                           "A: Hi! What's your budget, and when do you need to move? Is it just you?",
                           "L: Max 80k, from 1 March, just me"), final=True)

    assert result.quality_scores_by_area["lead_qualification"] >= 70


def test_small_talk_only_scores_nothing():
    result = analyse(convo("A: Eid Mubarak Fatima! Wishing you and the family a blessed Eid.",
                           "L: Khair Mubarak, thank you! Same to you",
                           "A: Any travel plans for the break?",
                           "L: Salalah for a few days, can't wait"), final=True)

    assert result.quality_scores_by_area == dict.fromkeys(AREAS)
    assert result.overall_quality_score is None
    assert result.findings == ()
    assert result.expertise_scores == dict.fromkeys(EXPERTISE_AREAS)


def test_features_turned_into_benefits_beat_a_spec_list():
    benefits = analyse(convo("L: Tell me more about the apartment in Dubai Hills",
                             "A: It's on the 12th floor facing the park, so you get morning light and a quiet view, "
                             "and the kitchen is closed, which is handy if you cook a lot."), final=True)
    specs = analyse(convo("L: Tell me more about the apartment in Dubai Hills",
                          "A: 2 bed, 1,350 sqft, park view, 12th floor, 1 parking."), final=True)

    assert benefits.quality_scores_by_area["property_presentation"] >= 70
    assert specs.quality_scores_by_area["property_presentation"] < 60
    assert "presentation_features_without_benefits" in codes(specs)


def test_property_question_dodged_is_a_presentation_miss():
    result = analyse(convo("L: How many bedrooms does the Damac Hills townhouse have, and is there a maid's room?",
                           "A: Better to call me, easier to explain"), final=True)

    assert result.quality_scores_by_area["property_presentation"] < 60
    assert "presentation_question_dodged" in codes(result)


def test_negated_objections_are_not_objections_but_rhetorical_ones_are():
    not_an_objection = analyse(convo("L: I don't think it's too expensive for the Marina, to be fair",
                                      "A: Agreed, it's a good price for the building."), final=True)
    rhetorical = analyse(convo("L: Tilal Al Ghaf looks great, but isn't it a bit far out? I work in Downtown.",
                               "A: Fair question. It's about 25 minutes on Al Khail Road outside peak hours."),
                         final=True)

    assert not_an_objection.quality_scores_by_area["objection_handling"] is None
    assert rhetorical.quality_scores_by_area["objection_handling"] >= 70


def test_a_lead_unsure_about_the_market_is_an_occasion_and_an_agent_unsure_is_a_miss():
    messages = convo("L: I'm not sure about the market right now, everyone says Dubai is a bubble",
                     "A: Honestly I'm not sure either, I think prices might go up or down, hard to say.")

    result = analyse(messages, final=True)

    assert result.quality_scores_by_area["market_expertise"] < 60
    assert "market_uncertain" in codes(result)
    assert result.quality_scores_by_area["objection_handling"] < 60


def test_guaranteed_returns_are_critical_but_saying_returns_are_not_guaranteed_is_fine():
    promised = analyse(convo("L: What return can I expect on a studio in International City?",
                             "A: 12% guaranteed, no risk at all"), final=True)
    honest = analyse(convo("L: What return can I expect on a studio in International City?",
                           "A: Studios there rent for about 38k against prices around 420k, so roughly 9% gross; no "
                           "return is guaranteed though, and service charges take about 1.5% off."), final=True)

    assert finding(promised, "market_guaranteed_returns").severity == "critical"
    assert promised.quality_scores_by_area["market_expertise"] < 60
    assert "market_guaranteed_returns" not in codes(honest)
    assert honest.quality_scores_by_area["market_expertise"] >= 70


def test_a_wrong_dld_fee_is_an_incorrect_fact():
    result = analyse(convo("L: What fees should I budget for on a 1.2M apartment?",
                           "A: The DLD fee is 2%, plus the agency fee."), final=True)

    assert "market_incorrect_fact" in codes(result)
    assert result.quality_scores_by_area["market_expertise"] < 60


def test_talk_ratio_questions_and_response_gaps():
    messages = [
        MessageIn("lead", "Hi, is the villa in Al Furjan still available?", T0),
        MessageIn("lead", "Hello?", T0 + dt.timedelta(minutes=10)),
        MessageIn("agent", "Hi Khalid, yes it is! Is it for your family? What budget do you have in mind?",
                  T0 + dt.timedelta(minutes=45)),
        MessageIn("lead", "Yes, about 4.5M", T0 + dt.timedelta(minutes=46)),
        MessageIn("agent", "Great. When would you like to see it?", T0 + dt.timedelta(minutes=48)),
    ]

    result = analyse(messages, final=False)

    agent_words = len(messages[2].text.split()) + len(messages[4].text.split())
    lead_words = sum(len(m.text.split()) for m in messages if m.speaker == "lead")
    assert result.talk_ratio == round(agent_words / (agent_words + lead_words), 3)
    assert result.questions_asked == 3
    # measured from the first unanswered lead message: 45 minutes, then 2 minutes
    assert result.response_gaps == {"average_seconds": 1410.0, "longest_seconds": 2700.0, "slow_replies": 1}


def test_response_gaps_need_timestamps():
    result = analyse([MessageIn("lead", "Hi"), MessageIn("agent", "Hello! How can I help?")], final=False)

    assert result.response_gaps == {"average_seconds": None, "longest_seconds": None, "slow_replies": 0}


def test_finding_codes_are_stable_between_incremental_and_final_analysis():
    messages = convo(*PRICE_OPENING, DEFENSIVE, "L: hmm ok. I'll think about it", "A: ok let me know",
                     "L: bye")
    final = analyse(messages, final=True)
    final_by_code = {f.code: f for f in final.findings}

    seen: dict[str, int | None] = {}
    for end in range(1, len(messages) + 1):
        live = analyse(messages[:end], final=False)
        assert not {"closing_no_next_step", "closing_vague_next_step"} & codes(live)
        for f in live.findings:
            seen.setdefault(f.code, f.message_index)
            assert seen[f.code] == f.message_index, f"{f.code} moved"

    assert {"objection_defensive", "objection_not_explored"} <= set(seen)
    for code, index in seen.items():
        assert final_by_code[code].message_index == index
    assert "closing_vague_next_step" in final_by_code


def test_empty_and_degenerate_input():
    empty = analyse([], final=True)
    assert empty.overall_quality_score is None and empty.talk_ratio is None and empty.questions_asked == 0
    assert empty.quality_scores_by_area == dict.fromkeys(AREAS) and empty.findings == ()

    odd = analyse([MessageIn("agent", "   "), MessageIn("system", "call recording started"),
                   MessageIn("lead", "")], final=True)
    assert odd.quality_scores_by_area == dict.fromkeys(AREAS) and odd.talk_ratio is None


def test_huge_input_is_analysed_quickly_and_evidence_stays_short():
    long_text = "A: That's the price, take it or leave it. " + "The owner is firm on this one. " * 130
    messages = convo(*PRICE_OPENING, long_text) * 400  # 2,000 messages, some 4,000 characters long

    started = time.perf_counter()
    result = analyse(messages, final=True)

    assert time.perf_counter() - started < 5
    assert all(score is None or 0 <= score <= 100 for score in result.quality_scores_by_area.values())
    evidence = [quote for f in result.findings for quote in f.evidence]
    assert evidence and all(len(quote) <= 160 for quote in evidence)
    assert any(quote.endswith("…") for quote in evidence)


def test_expertise_is_scored_only_for_the_domains_touched():
    result = analyse(convo("L: Can I get a mortgage as a non-resident?",
                           "A: Yes, UAE banks lend non-residents up to 50-60% of the value at around 5 to 6%."),
                     final=True)

    assert result.expertise_scores["financing"] >= 70
    assert result.expertise_scores["neighbourhood_knowledge"] is None
    assert set(result.expertise_scores) == set(EXPERTISE_AREAS)


def test_the_analysis_round_trips_through_json():
    result = analyse(convo(*PRICE_OPENING, DEFENSIVE), final=True)

    assert Analysis.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_every_finding_code_has_a_known_area_and_severity():
    assert all(entry.area in AREAS and entry.severity in SEVERITIES for entry in CATALOGUE.values())
    assert all(entry.suggested_action for entry in CATALOGUE.values() if not entry.positive)
    assert tuple(lexicon.EXPERTISE) == EXPERTISE_AREAS


@pytest.mark.parametrize("final", [False, True])
def test_the_labelled_set_produces_well_formed_analyses(final):
    from coaching.analysis.evaluation import load_cases

    from .test_analysis_eval import MAIN_SET

    for case in load_cases(MAIN_SET):
        result = analyse(case.messages, final=final)
        assert set(result.quality_scores_by_area) == set(AREAS)
        assert all(s is None or 0 <= s <= 100 for s in [*result.quality_scores_by_area.values(),
                                                         *result.expertise_scores.values()])
        assert len({f.code for f in result.findings}) == len(result.findings)
        for f in result.findings:
            assert f.code in CATALOGUE and f.severity in SEVERITIES
            assert f.evidence and 0 <= f.message_index < len(case.messages)
            texts = [" ".join(m.text.split()) for m in case.messages]
            assert all(any(quote.rstrip("…") in text for text in texts) for quote in f.evidence)


def test_every_live_finding_of_the_labelled_set_survives_into_the_final_analysis():
    """Alerts are raised from live analyses: a finding must not be reported live and then vanish or move."""
    from coaching.analysis.evaluation import load_cases

    from .test_analysis_eval import MAIN_SET

    for case in load_cases(MAIN_SET):
        final = {f.code: f.message_index for f in analyse(case.messages, final=True).findings}
        for end in range(1, len(case.messages) + 1):
            for f in analyse(case.messages[:end], final=False).findings:
                assert final.get(f.code, "missing") == f.message_index, (case.id, end, f.code)


def test_blank_and_unknown_messages_are_skipped_without_shifting_the_message_indexes():
    clean = convo(*PRICE_OPENING, DEFENSIVE)
    noisy = [clean[0], MessageIn("system", "The lead joined the chat"), *clean[1:3], MessageIn("agent", "  "),
             *clean[3:]]

    result = analyse(noisy, final=True)

    assert result.quality_scores_by_area == analyse(clean, final=True).quality_scores_by_area
    alert = finding(result, "objection_defensive")
    assert noisy[alert.message_index].text == DEFENSIVE[3:]
