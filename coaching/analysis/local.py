"""The local conversation analyser: rules over a Dubai real-estate lexicon, deterministic, offline, fast.

Each area is judged the way a sales coach would: first whether the conversation gave an occasion for it (from
what the LEAD said: an objection, a question about the market or a listing, interest, an enquiry), then how the
AGENT handled it. No occasion → None. Handled well → 70 or more; handled badly, or skipped when it was called
for → under 60. Scores in between are reserved for genuinely mixed handling.

While a conversation is live (`final=False`) only what is already decidable is judged: an objection once the
agent has answered it, qualification once the agent has had enough turns, never "no next step" before the end.
Finding codes come from `catalogue.CATALOGUE`; each code is reported once, at its first occurrence, so the
incremental and the final analysis of the same messages agree on codes.
"""

import statistics
from collections.abc import Sequence

from . import lexicon as lx
from .catalogue import finding
from .signals import Signals, community_mentions, read
from .types import AREAS, EXPERTISE_AREAS, Analysis, Finding, MessageIn

# The agent has had enough turns to have qualified a new lead, even while the conversation is still going.
QUALIFY_AFTER_AGENT_TURNS = 5
# A reply slower than this counts as slow (WhatsApp and web leads go cold within the hour).
SLOW_REPLY_SECONDS = 30 * 60
EVIDENCE_CHARS = 160
CORE = frozenset({"budget", "timeline", "financing"})


def quote_text(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= EVIDENCE_CHARS:
        return text
    return text[: EVIDENCE_CHARS - 1].rsplit(" ", 1)[0] + "…"


class _Conversation:
    """The messages' signals plus the lookups every judge needs."""

    def __init__(self, signals: list[Signals], final: bool) -> None:
        self.all = signals
        self.final = final
        self.lead = [s for s in signals if s.speaker == "lead"]
        self.agent = [s for s in signals if s.speaker == "agent"]
        self.findings: dict[str, Finding] = {}
        # Signals keep the index of their message in the caller's list (blank messages are skipped), which is
        # what findings report; `_position` finds a message among the signals.
        self.by_index = {s.index: s for s in signals}
        self._position = {s.index: position for position, s in enumerate(signals)}

    def after(self, index: int) -> list[Signals]:
        return self.all[self._position[index] + 1:]

    def before(self, index: int) -> list[Signals]:
        return self.all[: self._position[index]]

    def reply_to(self, index: int) -> list[Signals]:
        """The agent's turn answering message `index`: its consecutive messages after the lead's next ones."""
        turn: list[Signals] = []
        for sig in self.after(index):
            if sig.speaker == "agent":
                turn.append(sig)
            elif turn:
                break
        return turn

    def next_lead(self, index: int) -> Signals | None:
        return next((s for s in self.after(index) if s.speaker == "lead"), None)

    def report(self, code: str, evidence: list[Signals], at: int | None) -> None:
        if code not in self.findings:
            self.findings[code] = finding(code, tuple(quote_text(s.text) for s in evidence), at)


# --- the five areas ---------------------------------------------------------------------------------------------

def _qualification(c: _Conversation) -> float | None:
    asked: set[str] = set().union(*(s.asked for s in c.agent)) if c.agent else set()
    stated: set[str] = set().union(*(s.stated for s in c.lead)) if c.lead else set()
    prospect = any(s.prospect for s in c.lead)
    late = any(s.late_stage for s in c.all)
    judged = c.final or len(c.agent) >= QUALIFY_AFTER_AGENT_TURNS
    covered = asked | stated
    askers = [s for s in c.agent if s.asked]
    if len(asked) >= 2 and covered & CORE:
        score = 74 + 4 * (len(asked) - 2)
        if len(asked) >= 3:
            c.report("qualification_thorough", askers[:2], askers[0].index)
        return min(score, 92)
    if not prospect or late or not c.agent:
        return None
    if len(asked) == 1 and len(covered & CORE) >= 2:
        return 72
    if not judged:
        return None
    evidence = [next(s for s in c.lead if s.prospect)]
    if asked:
        c.report("qualification_shallow", evidence + askers[:1], askers[0].index)
        return 52
    # The turn at which it became judgeable, so the live and the final analysis point at the same message.
    at = c.agent[min(len(c.agent), QUALIFY_AFTER_AGENT_TURNS) - 1]
    c.report("qualification_budget_timeline_missing", [*evidence, at], at.index)
    return 55 if {"budget", "timeline"} <= stated else 40


def _answered(c: _Conversation, question: Signals) -> bool | None:
    """Whether the agent answered the lead's question about a property: with something concrete (a yes or no,
    a figure, a feature, the thing asked about), not a dodge. A turn of qualifying questions defers the answer to
    the agent's next turn. None: the agent has not answered yet."""
    turn = c.reply_to(question.index)
    for _ in range(2):
        if not turn:
            return None
        if any(s.dodge for s in turn):
            return False
        if any(s.yes_no or s.figures or s.features or s.benefit
               or any(topic.split()[-1].rstrip("s") in s.low for topic in question.property_topics) for s in turn):
            return True
        if not any(s.asked for s in turn):
            return False
        turn = c.reply_to(turn[-1].index)
    return False


def _presentation(c: _Conversation) -> float | None:
    # Sellers and landlords own what is discussed, and after a viewing or an offer the presenting is done:
    # there a missing benefit is no failure, though an answer dodged still is.
    settled = any(s.late_stage for s in c.all) or any(s.owner for s in c.lead)
    # Details given to answer an objection (a bigger balcony justifying the price) are not a presentation.
    answering = {s.index for o in c.lead if o.objections & lx.DATA_KINDS for s in c.reply_to(o.index)}
    presenting = [s for s in c.agent if s.index not in answering and (
        s.features >= 2 and s.specific_listing or s.features and (s.benefit or s.vague_praise)
        or s.features and s.figures and s.specific_listing)]
    asked = [s for s in c.lead if s.property_question]
    benefits = [s for s in c.agent if s.benefit and (s.features or s.specific_listing)]
    if not asked and not ([s for s in presenting if s.benefit] if settled else presenting):
        return None
    unanswered: list[tuple[Signals, Signals | None]] = []
    for question in asked:
        answered = _answered(c, question)
        if answered is None and c.final:
            unanswered.append((question, None))
        elif answered is False:
            reply = c.reply_to(question.index)
            unanswered.append((question, reply[0] if reply else None))
    # Superlatives instead of facts are worth a nudge wherever they occur.
    hype = [s for s in c.agent if s.vague_praise and not s.benefit]
    if hype:
        c.report("presentation_vague_hype", hype[:1], hype[0].index)
    ignored = [s for s in c.lead if s.objections & {"fit"} and lx.FIT_NEEDS.search(s.low)]
    if ignored and presenting and ignored[0].index > presenting[0].index:
        c.report("presentation_needs_ignored", [presenting[0], ignored[0]], ignored[0].index)
        return 42
    if benefits:
        score = 74 + 5 * (min(len(benefits), 4) - 1) - 12 * len(unanswered)
        if score < 60:
            question, reply = unanswered[0]
            c.report("presentation_question_dodged", [s for s in (question, reply) if s], (reply or question).index)
        else:
            c.report("presentation_benefits", benefits[:1], benefits[0].index)
        return max(score, 40)
    if unanswered:
        question, reply = unanswered[0]
        c.report("presentation_question_dodged", [s for s in (question, reply) if s], (reply or question).index)
        return 42
    if hype:
        return 42
    if not c.final:
        return None  # a plain description may still turn into benefits before the end
    specs = [s for s in c.agent if s.features]
    if specs:
        c.report("presentation_features_without_benefits", specs[:1], specs[0].index)
        return 52
    if not c.agent:
        return None
    c.report("presentation_no_detail", (asked or c.lead)[:1] + c.agent[:1], c.agent[0].index)
    return 45


def _judge_objection(c: _Conversation, objection: Signals, kinds: frozenset, turn: list[Signals]) -> float:
    evidence = [objection, turn[0]]
    at = turn[0].index

    def has(attribute: str) -> bool:
        return any(getattr(s, attribute) for s in turn)

    # Concrete answers: figures, rules and procedures, travel times.
    figures = sum(s.figures + s.process_facts + s.distances for s in turn)
    empathy, explores, solution = has("empathy"), has("explores"), has("solution")
    if has("disparage"):
        c.report("objection_competitor_disparaged", evidence, at)
        return 25
    if has("defensive"):
        c.report("objection_defensive", evidence, at)
        return 30
    if has("pressure") and not figures:
        c.report("objection_pressure", evidence, at)
        return 35
    if has("concede"):
        c.report("objection_conceded_without_value", evidence, at)
        return 45
    if "fit" in kinds and not any(lx.FIT_ANSWER.search(s.low) for s in turn):
        c.report("objection_ignored", evidence, at)
        return 40
    if kinds & lx.DATA_KINDS:
        substance = figures > 0 or explores
    else:
        substance = figures > 0 or explores or solution or any(s.words >= 25 for s in turn)
    if not substance:
        if has("passive"):
            c.report("objection_not_explored", evidence, at)
            return 40
        code = "objection_price_without_data" if kinds & lx.DATA_KINDS else "objection_without_substance"
        c.report(code, evidence, at)
        return 45 if kinds & lx.DATA_KINDS else 48
    c.report("objection_handled_with_data", evidence, at)
    return min(74 + 6 * empathy + 4 * (figures > 0) + 3 * explores + 3 * solution, 92)


def _objections(c: _Conversation) -> float | None:
    scores: list[float] = []
    judged_turns: set[int] = set()
    pending: list[Signals] = []
    for sig in c.all:
        if sig.speaker == "lead" and sig.objections:
            pending.append(sig)
            continue
        if sig.speaker == "agent" and pending and sig.index not in judged_turns:
            turn = c.reply_to(pending[-1].index)
            judged_turns.update(s.index for s in turn)
            kinds = frozenset().union(*(p.objections for p in pending))
            scores.append(_judge_objection(c, pending[0], kinds, turn))
            pending = []
    if pending and c.final:
        c.report("objection_ignored", pending[:1], pending[0].index)
        scores.append(40)
    if not scores:
        return None
    return round(0.6 * min(scores) + 0.4 * statistics.fmean(scores), 1)


def _secured(c: _Conversation) -> list[Signals] | None:
    """The messages that agree a specific next step, or None."""
    for sig in c.all:
        if sig.speaker == "agent" and sig.time and (sig.next_step or "?" in sig.text):
            answer = c.next_lead(sig.index)
            if answer is not None and answer.accepts:
                return [sig, answer]
        if sig.speaker == "agent" and sig.time and sig.confirmation:
            return [sig]
        if sig.speaker == "lead" and sig.time and sig.commitment:
            return [sig]
    return None


def _closing(c: _Conversation) -> float | None:
    last_out = max((s.index for s in c.lead if s.not_in_market), default=-1)
    warm = [s for s in c.lead if s.index > last_out and (s.prospect or s.interest or s.property_question
                                                          or s.stated & {"budget", "timeline"})]
    # Urgency is pressure on a buyer or tenant; said to an owner it is a (separately judged) market claim.
    pushy = [s for s in c.agent if s.pressure] if not any(s.owner for s in c.lead) else []
    if pushy:
        c.report("closing_pressure", pushy[:1], pushy[0].index)
    secured = _secured(c)
    if secured:
        c.report("closing_next_step_secured", secured, secured[0].index)
        trial = any(s.trial_close for s in c.agent)
        return 80 + 5 * trial - 15 * bool(pushy)
    if pushy:
        return 35
    if not c.final or not warm or not c.agent:
        return None
    last = c.all[-1]
    vague = [s for s in c.agent[-2:] if s.vague_close]
    if vague:
        c.report("closing_vague_next_step", [warm[-1], vague[-1]], vague[-1].index)
        return 45
    c.report("closing_no_next_step", [warm[-1], c.agent[-1]], last.index)
    return 38


def _market(c: _Conversation) -> float | None:
    # A price or timing objection calls for market data; haggling over the agent's own fee does not.
    occasions = [s for s in c.lead if s.market_question or s.market_concern
                 or s.objections & {"price", "timing"} and "fees" not in s.objections]
    answers = {s.index: s for o in occasions if o.market_question for s in c.reply_to(o.index)}

    def hedging(s: Signals) -> bool:
        return bool(s.uncertain or lx.HEDGE.search(s.low))

    # Evidence: market figures and rules anywhere; in answer to a question about an area, a yield or a cost,
    # travel times and bare figures too.
    points = {s.index: min(s.market_figures, 3) for s in c.agent
              if s.market_figures and not (s.guarantee or s.wrong_fact)}  # a promised "10% return" is no data
    rules = [s for s in c.agent if s.process_facts]
    for s in answers.values():
        points[s.index] = points.get(s.index, 0) + min(s.distances, 2) + (
            1 if s.figures and not s.market_figures and not s.hedged_figures and not hedging(s) else 0)
    positive = sum(points.values()) + min(sum(s.process_facts for s in rules), 2)
    data = sorted([c.by_index[i] for i, n in points.items() if n] + rules, key=lambda s: s.index)

    uncertain = [s for s in c.agent if s.uncertain and (s.market_context or _answers(c, s, "market_question"))]
    hype = [s for s in c.agent if s.hype]
    guarantee = [s for s in c.agent if s.guarantee]
    wrong = [s for s in c.agent if s.wrong_fact]
    hedged = [s for s in c.agent if s.hedged_figures or s.index in answers and s.figures and hedging(s)
              and not s.market_figures]
    negative = (min(sum(s.uncertain for s in uncertain), 2) + min(sum(s.hype for s in hype), 2) + 2 * bool(guarantee)
                + 1.5 * bool(wrong) + 0.5 * min(len(hedged), 2))
    # Facts about rules and procedures count once the market came up; on their own they are no occasion, nor is
    # the agent explaining their own fee.
    fee_answers = {s.index for o in c.lead if "fees" in o.objections for s in c.reply_to(o.index)}
    volunteered = any(s.market_figures and s.index not in fee_answers for s in c.agent)
    if not occasions and not volunteered and not negative:
        return None
    for code, messages in (("market_guaranteed_returns", guarantee), ("market_incorrect_fact", wrong),
                           ("market_uncertain", uncertain), ("market_unsupported_claim", hype)):
        if messages:
            c.report(code, messages[:1], messages[0].index)
    if positive >= 1:
        c.report("market_data_cited", data[:1], data[0].index)
        return max(min(72 + 4 * (min(positive, 5) - 1) - 16 * negative, 92), 20)
    # The lead raised the market and got no figures: decidable live once an answer asked nothing back (one that did
    # may still bring the data), otherwise at the end.
    answered = [turn for o in occasions if (turn := c.reply_to(o.index))]
    silent = [turn for turn in answered if not any(s.explores for s in turn)]
    no_data = bool(c.agent and occasions and (silent or c.final))
    if no_data:
        turn = (silent or answered or [[]])[0]
        c.report("market_no_data", occasions[:1] + turn[:1], (turn[0] if turn else occasions[0]).index)
    if negative:
        if hedged:
            c.report("market_uncertain", hedged[:1], hedged[0].index)
        return max(50 - 10 * negative, 15)
    return 45 if no_data else None


def _answers(c: _Conversation, sig: Signals, attribute: str) -> bool:
    previous = next((s for s in reversed(c.before(sig.index)) if s.speaker == "lead"), None)
    return bool(previous and getattr(previous, attribute))


# --- measures ---------------------------------------------------------------------------------------------------

def _expertise(c: _Conversation) -> dict[str, float | None]:
    """Per expertise domain: None when nobody touched it; under 60 when the lead raised it and the agent had nothing
    (or hedged, hyped, got it wrong); 70 and more when the agent brought facts: figures, rules, distances."""
    scores: dict[str, float | None] = {}
    for area in EXPERTISE_AREAS:
        pattern = lx.EXPERTISE[area]
        touched = [s for s in c.all if pattern.search(s.low)]
        if not touched:
            scores[area] = None
            continue
        agent = [s for s in touched if s.speaker == "agent"]
        facts = sum(1 for s in agent if s.market_figures or s.process_facts or s.distances
                    or area == "neighbourhood_knowledge" and community_mentions(s.low))
        score = 45.0 if not agent else 55.0
        if facts:
            score += 17 + 6 * min(facts - 1, 3)
        for sig in agent:
            score -= 12 * min(sig.uncertain, 2) + 8 * bool(sig.hype) + 25 * (sig.guarantee or sig.wrong_fact)
        scores[area] = float(max(0, min(100, round(score))))
    return scores


def _response_gaps(messages: Sequence[MessageIn]) -> dict:
    gaps: list[float] = []
    waiting_since = None
    for message in messages:
        if message.sent_at is None:
            continue
        if message.speaker == "lead":
            waiting_since = waiting_since or message.sent_at
        elif waiting_since is not None:
            gaps.append(max((message.sent_at - waiting_since).total_seconds(), 0.0))
            waiting_since = None
    if not gaps:
        return {"average_seconds": None, "longest_seconds": None, "slow_replies": 0}
    return {"average_seconds": round(statistics.fmean(gaps), 1), "longest_seconds": round(max(gaps), 1),
            "slow_replies": sum(gap > SLOW_REPLY_SECONDS for gap in gaps)}


def analyse(messages: Sequence[MessageIn], *, final: bool) -> Analysis:
    """The local engine's analysis of `messages` (oldest first; speakers "agent" or "lead", others ignored)."""
    signals = [read(index, m.speaker, m.text) for index, m in enumerate(messages)
               if m.speaker in ("agent", "lead") and m.text and m.text.strip()]
    c = _Conversation(signals, final)
    judges = {"lead_qualification": _qualification, "property_presentation": _presentation,
              "objection_handling": _objections, "closing": _closing, "market_expertise": _market}
    by_area: dict[str, float | None] = {}
    for area in AREAS:
        score = judges[area](c)
        by_area[area] = None if score is None else float(round(score, 1))
    scored = [score for score in by_area.values() if score is not None]
    agent_words = sum(s.words for s in c.agent)
    total_words = agent_words + sum(s.words for s in c.lead)
    findings = sorted(c.findings.values(), key=lambda f: (f.message_index if f.message_index is not None else 1 << 30,
                                                          AREAS.index(f.area), f.code))
    return Analysis(
        overall_quality_score=round(statistics.fmean(scored), 1) if scored else None,
        quality_scores_by_area=by_area,
        expertise_scores=_expertise(c),
        talk_ratio=round(agent_words / total_words, 3) if total_words else None,
        questions_asked=sum(s.questions for s in c.agent),
        response_gaps=_response_gaps(messages),
        findings=tuple(findings),
        final=final,
    )
