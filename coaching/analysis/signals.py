"""What one message says, as the local engine's judges need it: computed once per message, speaker by speaker.

Lead messages are read for occasions (objections, interest, questions, facts volunteered); agent messages for
handling (questions asked, data, empathy, benefits, next steps, hedges, defensiveness). Only the patterns of the
message's own speaker run, which keeps a 50-message analysis well inside its time budget.
"""

import re
from dataclasses import dataclass, field

from . import lexicon as lx

_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
_VIEWING_REQUEST = re.compile(r"\b(?:can|could|may|want to|like to) (?:i |we )?(?:see|view|visit)\b|\bviewing\b|"
                              r"\b(?:see|view|visit) (?:it|the|them)\b")
_UNMARKED_QUESTION = re.compile(r"\b(?:you|u|ur|your)\b")
_STATEMENT = re.compile(r"\bi (?:can|will|'ll|have|am)\b|\bi'm\b")
_PER_SENTENCE = {"figure": lx.FIGURE, "context": lx.MARKET_CONTEXT, "hedge": lx.HEDGE, "uncertain": lx.UNCERTAIN,
                 "hype": lx.HYPE, "distance": lx.DISTANCE, "process": lx.PROCESS_FACT, "benefit": lx.BENEFIT,
                 "feature": lx.FEATURE, "listing": lx.SPECIFIC_LISTING}
_COMMUNITIES = ("marina", "jvc", "downtown", "palm", "business bay", "arabian ranches", "dubai hills", "jlt",
                "creek harbour", "al barsha", "mirdif", "damac hills", "town square", "al furjan", "dubai south",
                "jbr", "city walk", "jumeirah", "meydan", "motor city", "sports city", "the springs", "the greens")


@dataclass(slots=True)
class Signals:
    index: int
    speaker: str
    text: str
    low: str
    words: int
    questions: int = 0
    # lead
    objections: frozenset = frozenset()
    prospect: bool = False
    interest: bool = False
    not_in_market: bool = False
    market_question: bool = False
    market_concern: bool = False
    property_question: bool = False
    listing_reference: bool = False
    owner: bool = False
    property_topics: frozenset = frozenset()
    stated: set = field(default_factory=set)
    commitment: bool = False
    accepts: bool = False
    # both
    late_stage: bool = False
    time: bool = False
    next_step: bool = False
    # agent
    asked: set = field(default_factory=set)
    figures: int = 0
    market_figures: int = 0
    hedged_figures: int = 0
    process_facts: int = 0
    empathy: bool = False
    explores: bool = False
    solution: bool = False
    defensive: bool = False
    disparage: bool = False
    pressure: bool = False
    passive: bool = False
    concede: bool = False
    uncertain: int = 0
    hype: int = 0
    guarantee: bool = False
    wrong_fact: bool = False
    features: int = 0
    specific_listing: bool = False
    benefit: bool = False
    vague_praise: bool = False
    dodge: bool = False
    confirmation: bool = False
    vague_close: bool = False
    trial_close: bool = False
    market_context: bool = False
    distances: int = 0
    yes_no: bool = False


def _question_sentences(low: str, sentences: list[str]) -> list[str]:
    marked = [s for s in sentences if s.rstrip().endswith("?")]
    if not marked and "?" not in low:
        # SMS and chat often drop the question mark: "what's ur budget and when do u want to buy"
        marked = [s for s in sentences if lx.QUESTION_START.match(s.strip()) and _UNMARKED_QUESTION.search(s)
                  and not _STATEMENT.search(s)]
    marked += [s for s in sentences if lx.REQUEST_QUESTION.search(s) and s not in marked]
    return marked


def _lead(sig: Signals, low: str, questions: list[str]) -> None:
    sig.objections = frozenset(kind for kind, pattern in lx.OBJECTIONS.items() if lx.affirmed(pattern, low))
    sig.interest = lx.affirmed(lx.INTEREST, low)
    sig.not_in_market = bool(lx.NOT_IN_MARKET.search(low))
    sig.owner = bool(lx.OWNER.search(low))
    if not questions and lx.QUESTION_START.match(low):
        questions = [low]
    # Haggling over the agent's own fee is an objection, not a question about the market.
    sig.market_question = "fees" not in sig.objections and any(lx.MARKET_QUESTION.search(q) for q in questions)
    sig.market_concern = bool(lx.MARKET_CONCERN.search(low))
    # Not questions about a listing: "that's overpriced, no?" (an objection), "can I see the 1 bed today?" (a
    # viewing), "what yield does a 1 bed make?" (the market), an owner's about their own property.
    property_questions = [q for q in questions if lx.PROPERTY_QUESTION.search(q) and not _VIEWING_REQUEST.search(q)
                          and not lx.MARKET_QUESTION.search(q) and not sig.owner
                          and not any(lx.affirmed(p, q) for p in lx.OBJECTIONS.values())]
    sig.property_question = bool(property_questions)
    sig.property_topics = frozenset(m.group(0) for q in property_questions for m in lx.PROPERTY_QUESTION.finditer(q))
    sig.listing_reference = bool(lx.LISTING_REFERENCE.search(low))
    sig.prospect = (bool(lx.PROSPECT.search(low)) or sig.property_question
                    or sig.listing_reference and (bool(questions) or sig.interest))
    sig.stated = {name for name, pattern in (("budget", lx.STATED_BUDGET), ("timeline", lx.STATED_TIMELINE),
                                             ("financing", lx.STATED_FINANCING)) if pattern.search(low)}
    sig.commitment = bool(lx.LEAD_COMMITMENT.search(low))
    sig.accepts = bool(lx.ACCEPT.search(low) or sig.time) and not lx.DECLINE.search(low)


def _agent(sig: Signals, low: str, sentences: list[str], questions: list[str]) -> None:
    asked: set[str] = set()
    for sentence in questions:
        for name, pattern in lx.QUALIFY.items():
            if name == "timeline" and lx.VIEWING_QUESTION.search(sentence):
                continue
            if pattern.search(sentence):
                asked.add(name)
    if lx.CONFIRM_QUESTION.search(low):
        # "You said 1.9M and August, is that still right?" confirms budget and timeline.
        asked |= {name for name, pattern in lx.QUALIFY.items() if pattern.search(low)}
    sig.asked = asked
    # Sentence by sentence, but only for the vocabularies the message contains at all.
    present = [name for name, pattern in _PER_SENTENCE.items() if pattern.search(low)]
    sig.market_context = "context" in present
    for sentence in sentences if present else ():
        hits = {name for name in present if _PER_SENTENCE[name].search(sentence)}
        figure, hype, question = "figure" in hits, "hype" in hits, sentence.rstrip().endswith("?")
        hedged = bool(hits & {"uncertain", "hedge"})
        sig.figures += figure
        sig.hype += hype
        sig.uncertain += "uncertain" in hits
        sig.distances += "distance" in hits
        # A benefit is said of something: the feature or the listing must be in the same sentence.
        sig.benefit = sig.benefit or "benefit" in hits and bool(hits & {"feature", "listing", "distance"})
        if figure and not hype and "context" in hits:
            if hedged or question:
                sig.hedged_figures += 1
            else:
                sig.market_figures += 1
        elif not figure and not hedged and not question and len(sentence.split()) >= 7 and "process" in hits:
            sig.process_facts += 1
    _agent_message(sig, low, questions)


def _agent_message(sig: Signals, low: str, questions: list[str]) -> None:
    sig.empathy = bool(lx.EMPATHY.search(low))
    # Any real question counts ("was there anything you weren't sure about?"), not a hostile one.
    sig.explores = any(not lx.HOSTILE_QUESTION.search(q) and len(q.split()) >= 4 for q in questions)
    sig.solution = bool(lx.SOLUTION.search(low))
    sig.defensive = bool(lx.DEFENSIVE.search(low))
    sig.disparage = bool(lx.DISPARAGE.search(low))
    sig.pressure = lx.affirmed(lx.PRESSURE, low)
    sig.passive = bool(lx.PASSIVE.search(low)) and sig.words <= 10
    sig.concede = bool(lx.CONCEDE.search(low))
    sig.guarantee = lx.affirmed(lx.GUARANTEE, low)
    sig.wrong_fact = _wrong_fact(low)
    sig.features = len({m.group(0) for m in lx.FEATURE.finditer(low)})
    sig.yes_no = bool(lx.YES_NO.match(low))
    sig.specific_listing = bool(lx.SPECIFIC_LISTING.search(low))
    sig.vague_praise = bool(lx.VAGUE_PRAISE.search(low))
    sig.dodge = bool(lx.DODGE.search(low))
    sig.confirmation = bool(lx.CONFIRMATION.search(low))
    sig.vague_close = bool(lx.VAGUE_CLOSE.search(low))
    sig.trial_close = bool(lx.TRIAL_CLOSE.search(low))


def _wrong_fact(low: str) -> bool:
    for match in lx.DLD_RATE.finditer(low):
        if float(match.group(1) or match.group(2)) != 4.0:
            return True
    for match in lx.VISA_THRESHOLD.finditer(low):
        amount = float(match.group(1) or match.group(2))
        if amount < 2.0:
            return True
    return False


def read(index: int, speaker: str, text: str) -> Signals:
    low = lx.normalise(text)
    sentences = [s for s in _SENTENCES.split(low) if s.strip()]
    questions = _question_sentences(low, sentences)
    sig = Signals(index=index, speaker=speaker, text=text, low=low, words=len(low.split()), questions=len(questions))
    sig.late_stage = bool(lx.LATE_STAGE.search(low))
    sig.time = bool(lx.SPECIFIC_TIME.search(low))
    sig.next_step = bool(lx.NEXT_STEP.search(low))
    if speaker == "agent":
        _agent(sig, low, sentences, questions)
    else:
        _lead(sig, low, questions)
    return sig


def community_mentions(low: str) -> int:
    return sum(1 for name in _COMMUNITIES if name in low)
