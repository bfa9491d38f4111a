"""A large, varied, deterministic knowledge base for the benchmarks, built from the demo handbook.

Each generated article takes one handbook article as its theme (its category and tags, two or three of its own
sections) and mixes in sections of other articles, a community, a developer and a variant ("FAQ",
"2025 update"...). Sentences and list items are sub-sampled and re-ordered, and figures (AED amounts, days,
percentages) are redrawn, so no two articles are the same text and the term statistics look like a real,
larger handbook rather than 300 copies of the same 34 documents. `random.Random(7)` makes it repeatable.

Checked against the handbook: over its 300 most common stems, the share of passages containing a stem is a
median 0.91x the handbook's (p10 0.78x, p90 1.16x), so the search engines see the same word frequencies, i.e.
the same number of matching passages per query, as a real handbook of this size; only "dubai" is ~2x (community
names in titles).
"""

import random
import re
from dataclasses import dataclass

from copilot.demo import handbook_files
from copilot.services import parse_document

COMMUNITIES = [
    "Dubai Marina", "Downtown Dubai", "Business Bay", "Palm Jumeirah", "Jumeirah Village Circle", "Jumeirah Lake Towers",
    "Arabian Ranches", "Dubai Hills Estate", "Al Barsha", "Mirdif", "Jumeirah Beach Residence", "Dubai Creek Harbour",
    "Emaar Beachfront", "Town Square", "Damac Hills", "Dubai South", "Al Furjan", "Motor City", "Sports City",
    "The Springs", "The Meadows", "Emirates Hills", "Jumeirah Golf Estates", "Meydan", "Sobha Hartland",
    "Mohammed Bin Rashid City", "Bluewaters Island", "City Walk", "Al Quoz", "International City", "Discovery Gardens",
    "Dubailand", "Tilal Al Ghaf", "Arjan", "Al Sufouh", "Umm Suqeim", "Jumeirah", "Deira", "Bur Dubai",
    "Silicon Oasis", "Mudon", "Town Centre Jumeirah", "The Greens", "The Views", "Remraam", "Serena",
]
DEVELOPERS = [
    "Emaar", "Nakheel", "Damac", "Meraas", "Sobha", "Dubai Properties", "Azizi", "Ellington", "Select Group",
    "Omniyat", "Danube", "Binghatti", "Wasl", "Deyaar", "Aldar", "Majid Al Futtaim",
]
PEOPLE = [
    "Natalia Brooks", "Faisal Qureshi", "Aisha Rahman", "Omar Haddad", "Priya Nair", "James Whitfield",
    "Layla Mansour", "Rohan Mehta", "Sara Al Marzouqi", "Daniel Kovacs", "Mariam Saeed", "Tom Gallagher",
]
VARIANTS = [
    "2025 update", "quick reference", "FAQ", "checklist", "team notes", "for new agents", "worked examples",
    "manager's notes", "common mistakes", "step by step", "client handout", "training module", "cheat sheet",
    "what changed", "escalation guide", "deal desk notes",
]
FACT_TEMPLATES = [
    "In {community}, {developer} projects usually take {days} working days for this step, so plan the client's "
    "timeline around it.",
    "Recent {community} deals closed at about AED {amount} on average; check the latest comparables before quoting.",
    "For {developer} units the service fee is currently AED {amount} plus VAT, payable before the appointment.",
    "Questions on {community} listings go to {person} first, who answers within {days} working days.",
    "About {percent}% of our {community} enquiries last quarter came through the portals and WhatsApp.",
    "Keep a copy in the {community} deal folder in CrestCRM and note the date in the activity log.",
    "{person} reviews every {community} file above AED {amount} before it goes to the trustee office.",
    "{developer} asks for the original passport and Emirates ID at handover; copies are not accepted.",
    "When a {community} owner is abroad, allow {days} extra days for the power of attorney to be attested.",
    "Our team in {community} aims to answer every new lead within {minutes} minutes during office hours.",
]
# Share of sections that get one generated local fact: enough to vary the text, few enough that the facts'
# words ("days", "office") are not more common than in the handbook itself.
FACT_RATE = 0.2
SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")
AED = re.compile(r"AED [\d,]+")
DAYS = re.compile(r"\b\d+ (working )?days\b")
PERCENT = re.compile(r"\b\d+(\.\d+)?%")


@dataclass
class Section:
    heading: str
    blocks: list[str]


@dataclass
class Theme:
    title: str
    category: str
    tags: list[str]
    intro: list[str]
    sections: list[Section]


@dataclass
class GeneratedArticle:
    title: str
    category: str
    tags: list[str]
    content: str


def handbook_themes() -> list[Theme]:
    themes = []
    for name, data in handbook_files():
        doc = parse_document(name, data)
        parts = re.split(r"^## +(.*)$", doc["content"], flags=re.MULTILINE)
        intro = [b.strip() for b in parts[0].split("\n\n") if b.strip()]
        sections = [Section(parts[i].strip(), [b.strip() for b in parts[i + 1].split("\n\n") if b.strip()])
                    for i in range(1, len(parts) - 1, 2)]
        themes.append(Theme(doc["title"], doc["category"], doc["tags"], intro, sections))
    return themes


def _redraw_figures(rng: random.Random, text: str) -> str:
    text = AED.sub(lambda m: f"AED {rng.randrange(500, 4_000_000, 250):,}", text)
    text = DAYS.sub(lambda m: f"{rng.randint(2, 45)} {m.group(1) or ''}days".replace("  ", " "), text)
    return PERCENT.sub(lambda m: f"{rng.choice([1, 2, 4, 5, 10, 15, 20, 25, 30, 50])}%", text)


def _vary_block(rng: random.Random, block: str) -> str:
    lines = block.split("\n")
    if len(lines) > 1 and all(re.match(r"^\s*([-*+]|\d+\.)\s", line) for line in lines[1:]):
        head, items = ([lines[0]], lines[1:]) if not re.match(r"^\s*([-*+]|\d+\.)\s", lines[0]) else ([], lines)
        keep = sorted(rng.sample(range(len(items)), max(1, round(len(items) * rng.uniform(0.6, 1.0)))))
        return _redraw_figures(rng, "\n".join(head + [items[i] for i in keep]))
    sentences = SENTENCE_SPLIT.split(block)
    if len(sentences) > 2:
        keep = sorted(rng.sample(range(len(sentences)), max(2, round(len(sentences) * rng.uniform(0.6, 1.0)))))
        sentences = [sentences[i] for i in keep]
    return _redraw_figures(rng, " ".join(sentences))


def _fact(rng: random.Random, community: str) -> str:
    return rng.choice(FACT_TEMPLATES).format(
        community=community, developer=rng.choice(DEVELOPERS), person=rng.choice(PEOPLE),
        days=rng.randint(2, 30), amount=f"{rng.randrange(1_000, 9_000_000, 500):,}", percent=rng.randint(5, 80),
        minutes=rng.choice([5, 10, 15, 30]))


def _section_text(rng: random.Random, section: Section, community: str) -> str:
    blocks = [_vary_block(rng, b) for b in section.blocks]
    if rng.random() < FACT_RATE:
        blocks.insert(rng.randint(0, len(blocks)), _fact(rng, community))
    heading = section.heading if rng.random() < 0.7 else f"{section.heading} in {community}"
    return f"## {heading}\n" + "\n\n".join(blocks)


def generate(count: int, seed: int = 7) -> list[GeneratedArticle]:
    rng = random.Random(seed)
    themes = handbook_themes()
    every_section = [(theme, s) for theme in themes for s in theme.sections]
    titles: set[str] = set()
    articles = []
    for _ in range(count):
        theme = rng.choice(themes)
        community = rng.choice(COMMUNITIES)
        variant = rng.choice(VARIANTS)
        title = f"{theme.title}: {community} {variant}"
        suffix = 2
        while title.lower() in titles:
            title = f"{theme.title}: {community} {variant} ({suffix})"
            suffix += 1
        titles.add(title.lower())
        own = rng.sample(theme.sections, min(len(theme.sections), rng.randint(2, 3)))
        borrowed = [s for t, s in rng.sample(every_section, rng.randint(1, 3)) if t is not theme]
        sections = own + borrowed
        rng.shuffle(sections)
        intro = " ".join(_vary_block(rng, b) for b in theme.intro[:1])
        if rng.random() < FACT_RATE:
            intro = f"{intro} {_fact(rng, community)}"
        content = "\n\n".join([intro.strip(), *(_section_text(rng, s, community) for s in sections)])
        tags = list(dict.fromkeys([*rng.sample(theme.tags, min(len(theme.tags), rng.randint(2, 5))),
                                   community.lower(), variant.lower()]))[:20]
        articles.append(GeneratedArticle(title[:255], theme.category, tags, content))
    return articles
