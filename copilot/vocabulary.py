"""How agents' words are turned into search terms: tokens, stems, stop words, and the abbreviations and
synonyms of the Dubai real-estate trade (RERA, DLD, NOC, MOU/Form F, SPA, Ejari, CMA ...).

Both search engines stem with Porter-family stemmers (FTS5 `porter`, PostgreSQL `english`); the Python side
uses the Snowball English stemmer so that evidence checks in the mentor agree with what the engines matched.

How common a word is in English at large comes from the word-frequency list that pyspellchecker ships (counts
over OpenSubtitles, 1.6 billion words; MIT licence): the mentor uses it to tell an everyday word the handbook
happens not to use from a specific one it has never written about (see `copilot.mentor`).
"""

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from spellchecker import SpellChecker

_stemmer = snowballstemmer.stemmer("english")
TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
how i if in into is it its itself just me more most my myself no nor not now of off on once only or other our
ours out over own same she should so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would you your
yours also get got need needs want wants tell know please thanks thank hi hello let lets us one much many
ok okay really should shall may might must yes via go goes going went gone keep keeps kept say says saying
said come comes came take takes took give gives gave put puts use used using happen happens happened
feel look looks looking like right still already ever never always usually actually exactly
someone something anything everything nothing whole every each else another way
his him himself herself yourself yourselves ourselves themselves
""".split())

# Articles do not break a phrase: "evict a tenant", "renew the lease" (see `adjacent_concepts`).
DETERMINERS = frozenset({"a", "an", "the"})

# Words that appear in nearly every question an agent asks this product; they carry no evidence of an answer.
GENERIC_WORDS = frozenset("""
policy policies rule rules procedure procedures process brokerage company agent agents client clients
question questions thing things way ways work works do done make made someone anyone guide info information
detail details explain best good new time
""".split())

# Abbreviation or phrase -> the phrases it stands for. Lookup is two-way (see `expansions`).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "rera": ("real estate regulatory agency", "real estate regulatory authority"),
    "dld": ("dubai land department", "land department"),
    "noc": ("no objection certificate",),
    "mou": ("memorandum of understanding", "form f"),
    "form f": ("mou", "memorandum of understanding"),
    "spa": ("sale and purchase agreement", "sales and purchase agreement"),
    "ejari": ("tenancy registration", "tenancy contract registration"),
    "cma": ("comparative market analysis", "market analysis", "comparables", "comps"),
    "brn": ("broker registration number", "broker card"),
    "orn": ("office registration number",),
    "aml": ("anti money laundering", "money laundering"),
    "kyc": ("know your customer", "customer due diligence"),
    "cdd": ("customer due diligence",),
    "ltv": ("loan to value",),
    "oqood": ("off plan registration", "interim registration"),
    "trakheesi": ("advertising permit", "advertisement permit"),
    "goaml": ("suspicious transaction report",),
    "dewa": ("dubai electricity and water authority",),
    "poa": ("power of attorney",),
    "docs": ("documents", "paperwork"),
    "max": ("maximum",),
    "agent to agent": ("form i", "co broking", "cobroke"),
    "night": ("pm", "evening"),
    "doc": ("document",),
    "paperwork": ("documents",),
    "pf": ("property finder",),
    "commission": ("fee", "cut", "payout"),
    "split": ("share", "cut"),
    "landlord": ("owner", "lessor"),
    "tenant": ("renter", "lessee"),
    "buyer": ("purchaser",),
    "seller": ("vendor",),
    "lease": ("tenancy", "rental contract"),
    "rent": ("rental",),
    "mortgage": ("home loan", "finance"),
    "listing": ("property ad", "advert"),
    "viewing": ("showing",),
    "visa": ("residency",),
}


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def tokens(text: str) -> list[str]:
    return TOKEN_RE.findall(text.lower().replace("’", "'"))


def stems(text: str) -> set[str]:
    return {stem(token) for token in tokens(text)}


@lru_cache(maxsize=1)
def _phrase_index() -> dict[str, set[str]]:
    """phrase -> every phrase it is interchangeable with (both directions of SYNONYMS)."""
    index: dict[str, set[str]] = {}
    for key, alternatives in SYNONYMS.items():
        for phrase in (key, *alternatives):
            index.setdefault(phrase, set()).update({key, *alternatives} - {phrase})
    return index


@dataclass(frozen=True)
class Concept:
    """One thing the question asks about: the agent's word and the other ways the knowledge base may say it.
    Each alternative is a tuple of stems that must all be present."""

    word: str
    alternatives: tuple[tuple[str, ...], ...]
    phrases: tuple[str, ...]  # the same alternatives as plain words, for the search engines to stem

    def found_in(self, available: set[str]) -> bool:
        return any(all(part in available for part in alternative) for alternative in self.alternatives)

    @property
    def all_stems(self) -> set[str]:
        return {part for alternative in self.alternatives for part in alternative}


def _content_stems(phrase: str) -> tuple[str, ...]:
    return tuple(stem(t) for t in tokens(phrase) if t not in STOP_WORDS)


def concepts(question: str) -> list[Concept]:
    """The question's content words, each with its synonyms; multi-word abbreviations ("form f") first."""
    return _analyse(question)[0]


def adjacent_concepts(question: str) -> list[tuple[Concept, Concept]]:
    """Pairs of the question's concepts that stand next to each other, in reading order, with nothing but an
    article between them: ("maternity", "leave") in "maternity leave", ("evict", "tenant") in "evict a tenant".
    The first of a pair says which one of the second is meant, or what is done to it."""
    return _analyse(question)[1]


def _analyse(question: str) -> tuple[list[Concept], list[tuple[Concept, Concept]]]:
    words = tokens(question)
    index = _phrase_index()
    found: list[Concept] = []
    at: dict[int, tuple[int, Concept]] = {}  # first token of a concept's span -> (token after the span, concept)
    used: set[int] = set()
    for size in (4, 3, 2):
        for start in range(len(words) - size + 1):
            span = range(start, start + size)
            phrase = " ".join(words[start:start + size])
            if phrase in index and not used.intersection(span):
                used.update(span)
                concept = _concept(phrase, [phrase, *sorted(index[phrase])])
                found.append(concept)
                at[start] = (start + size, concept)
    for position, word in enumerate(words):
        word = _plain(word)
        if (position in used or word in STOP_WORDS or word in GENERIC_WORDS or len(word) < 2 and not word.isdigit()
                or _is_particular(word)):
            continue
        concept = _concept(word, [word, *sorted(index.get(word, ()))])
        if concept.alternatives:
            at[position] = (position + 1, concept)
            if concept not in found:
                found.append(concept)
    pairs: list[tuple[Concept, Concept]] = []
    previous: Concept | None = None
    position = 0
    while position < len(words):
        if position in at:
            position, concept = at[position]
            if previous is not None and previous != concept:
                pairs.append((previous, concept))
            previous = concept
            continue
        if words[position] not in DETERMINERS:
            previous = None
        position += 1
    return found, pairs


def _is_particular(word: str) -> bool:
    """An amount, date or time written with its unit ("3m", "90k", "20th", "11pm"): the particulars of the
    agent's case, which the handbook writes differently ("AED 3,000,000") and which never name the topic."""
    return not word.isdigit() and any(c.isdigit() for c in word)


def _plain(word: str) -> str:
    """A possessive or contraction as its plain word ("client's" -> "client", "what's" -> "what") and a negated
    auxiliary ("hasn't", "don't") as "not", so that stop and generic words are recognised in them."""
    head, _, tail = word.partition("'")
    return "not" if tail == "t" else head


def _noun_forms(word: str) -> list[str]:
    """The -ation noun of a verb form ("registering", "registered" -> "registration"): the stemmers give the
    verb and the noun different stems, and handbooks use the noun where agents type the verb."""
    for suffix in ("ing", "ed", "es", "e", ""):
        base = word[: len(word) - len(suffix)]
        if word.endswith(suffix) and len(base) >= 4 and base[-1] not in "aeiouy":
            return [f"{base[:-2]}ration" if base.endswith("er") else f"{base}ation"]
    return []


def _concept(word: str, phrases: list[str]) -> Concept:
    if " " not in word:
        phrases = phrases + _noun_forms(word)
    kept = [(phrase, _content_stems(phrase)) for phrase in phrases]
    kept = [(phrase, parts) for phrase, parts in kept if parts]
    # The engines search each alternative as a phrase, small words included, as the handbook writes it.
    return Concept(word, tuple(parts for _, parts in kept), tuple(" ".join(tokens(phrase)) for phrase, _ in kept))


def search_phrases(found: list[Concept]) -> list[str]:
    """Every alternative of every concept as a phrase of plain words, for the engines' OR queries."""
    phrases: list[str] = []
    for concept in found:
        for phrase in concept.phrases:
            if phrase not in phrases:
                phrases.append(phrase)
    return phrases


@lru_cache(maxsize=4)
def common_words(min_frequency: float) -> frozenset[str]:
    """English words used at least `min_frequency` of the time (1e-5: once in every 100,000 words), lower case.
    Read once per process from pyspellchecker's list; only the few thousand common words are kept."""
    counts = SpellChecker(language="en", distance=1).word_frequency
    floor = min_frequency * counts.total_words
    return frozenset(word for word, count in counts.dictionary.items() if count >= floor)
