"""Full-text index of knowledge passages, on PostgreSQL (tsvector + GIN, websearch_to_tsquery, ts_rank,
ts_headline) or on SQLite (FTS5 with the porter tokenizer, bm25, snippet). One interface for both:
`index_article` keeps an article's passages searchable (only active articles have passages) and `search`
ranks passages for a question's phrases.
"""

import html
import math
import re
from collections import Counter
from dataclasses import dataclass

from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Case, F, FloatField, Value, When

from .models import KnowledgeArticle, KnowledgePassage, KnowledgeTerm
from .vocabulary import stems

FTS_TABLE = "copilot_passage_fts"
MAX_PASSAGE_CHARS = 1500
MARK_START, MARK_END = "\x02", "\x03"  # the engines mark matches with these; we escape, then turn them to <mark>
# A phrase in more than this share of passages (and more than COMMON_FLOOR of them) is too common to search for:
# ranking thousands of its matches costs more than it tells. Small knowledge bases keep every phrase.
COMMON_SHARE = 0.10
COMMON_FLOOR = 1000
# PostgreSQL ranks only the passages matching the question's rarest phrases, about this many (see
# `_rank_candidates`): ranking every match cost up to 60 ms at 10,000 articles, 2,000 rows cost a few ms.
RANK_BUDGET = 2000
WEIGHTS = {"title": 8.0, "tags": 4.0, "heading": 3.0, "text": 1.0}
# Every passage has the empty term, so its count is the brokerage's number of passages: kept by `index_article`
# with the other term counts, it is read with them in one query instead of counting the passages on every search
# (a COUNT that grows with the knowledge base: 3 ms at 10,000 articles, 20 ms right after an import).
ALL_PASSAGES = ""


@dataclass(frozen=True)
class PassageHit:
    passage_id: int
    article_id: int
    score: float
    snippet_html: str


def split_passages(content: str) -> list[tuple[str, str]]:
    """(heading, text) per `##` section; the text before the first heading is a passage of its own, and a
    section longer than MAX_PASSAGE_CHARS is cut at paragraph boundaries."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in content.replace("\r\n", "\n").split("\n"):
        match = re.match(r"^#{2,3}\s+(.*)$", line)
        if match:
            sections.append((match.group(1).strip(), []))
        else:
            sections[-1][1].append(line)
    passages = []
    for heading, lines in sections:
        chunk = ""
        for paragraph in "\n".join(lines).split("\n\n"):
            paragraph = paragraph.strip()
            if not paragraph:
                continue
            if chunk and len(chunk) + len(paragraph) > MAX_PASSAGE_CHARS:
                passages.append((heading, chunk))
                chunk = ""
            chunk = f"{chunk}\n\n{paragraph}" if chunk else paragraph
        if chunk:
            passages.append((heading, chunk))
    return passages


def _passage_terms(article: KnowledgeArticle, heading: str, text: str) -> set[str]:
    return stems(" ".join([article.title, " ".join(article.tags), heading, text])) | {ALL_PASSAGES}


def _adjust_term_counts(brokerage_id: int, delta: Counter) -> None:
    delta = Counter({term[:64]: n for term, n in delta.items() if n})
    if not delta:
        return
    rows = {row.term: row for row in KnowledgeTerm.objects.filter(brokerage_id=brokerage_id, term__in=list(delta))}
    for row in rows.values():
        row.passage_count = max(0, row.passage_count + delta[row.term])
    KnowledgeTerm.objects.bulk_update(rows.values(), ["passage_count"], batch_size=500)
    KnowledgeTerm.objects.bulk_create(
        [KnowledgeTerm(brokerage_id=brokerage_id, term=term, passage_count=n)
         for term, n in delta.items() if term not in rows and n > 0],
        batch_size=500,
    )


def index_article(article: KnowledgeArticle) -> int:
    """Rebuild the article's passages, their full-text entries and the brokerage's term counts.

    Before: inside a transaction. After: an active article has one passage per section, searchable; an
    inactive one has none. Returns the number of passages.
    """
    old = list(KnowledgePassage.objects.filter(article=article).select_related("article"))
    delta: Counter = Counter()
    for passage in old:
        delta.subtract(_passage_terms(passage.article, passage.heading, passage.text))
    _fts_delete([p.pk for p in old])
    KnowledgePassage.objects.filter(article=article).delete()
    new = []
    if article.is_active:
        new = KnowledgePassage.objects.bulk_create([
            KnowledgePassage(brokerage_id=article.brokerage_id, article=article, position=i, heading=h, text=t,
                             search_vector=_search_vector(article, h, t))
            for i, (h, t) in enumerate(split_passages(article.content))
        ])
        for passage in new:
            delta.update(_passage_terms(article, passage.heading, passage.text))
        _fts_insert(article, new)
    _adjust_term_counts(article.brokerage_id, delta)
    return len(new)


def _fts_delete(passage_ids: list[int]) -> None:
    if connection.vendor == "sqlite" and passage_ids:
        with connection.cursor() as cursor:
            cursor.executemany(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [(pk,) for pk in passage_ids])  # noqa: S608


def _fts_insert(article: KnowledgeArticle, passages: list[KnowledgePassage]) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO {FTS_TABLE} (rowid, tenant, title, tags, heading, body) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s)",
                [(p.pk, _tenant_token(article.brokerage_id), article.title, " ".join(article.tags), p.heading,
                  p.text) for p in passages],
            )


def _search_vector(article: KnowledgeArticle, heading: str, text: str) -> SearchVector | None:
    """PostgreSQL: the passage's weighted tsvector (title > tags, heading > text), computed by the INSERT itself.
    Filling it with an UPDATE afterwards left a dead copy of every passage until autovacuum came by, so a
    search right after an import read twice the rows. SQLite keeps the words in its FTS5 table instead."""
    if connection.vendor != "postgresql":
        return None
    return (SearchVector(Value(article.title), weight="A", config="english")
            + SearchVector(Value(" ".join(article.tags)), weight="B", config="english")
            + SearchVector(Value(heading), weight="B", config="english")
            + SearchVector(Value(text), weight="C", config="english"))


def _tenant_token(brokerage_id: int) -> str:
    return f"t{brokerage_id}"


def _quote_fts5(phrase: str) -> str:
    return '"' + phrase.replace('"', " ") + '"'


def _marked_html(raw: str) -> str:
    escaped = html.escape(raw)
    return escaped.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


@dataclass(frozen=True)
class TermStats:
    """How many of the brokerage's passages contain each term, and how many passages it has."""

    counts: dict[str, int]
    total: int


def term_stats(brokerage_id: int, terms: set[str]) -> TermStats:
    counts = dict(KnowledgeTerm.objects.filter(brokerage_id=brokerage_id, term__in=terms | {ALL_PASSAGES})
                  .values_list("term", "passage_count"))
    return TermStats(counts, counts.pop(ALL_PASSAGES, 0))


def phrase_terms(phrases: list[str]) -> set[str]:
    return set().union(*(stems(phrase) for phrase in phrases)) if phrases else set()


def search(brokerage_id: int, phrases: list[str], *, article_filter: dict | None = None,
           limit: int = 10, stats: TermStats | None = None) -> list[PassageHit]:
    """Passages of the brokerage's active articles matching any of `phrases`, best first.

    `phrases` are plain words (see `vocabulary.search_phrases`); they are quoted for the engine, so no search
    syntax can be injected. `article_filter` narrows by article fields (e.g. {"category": "Leasing"}).
    """
    phrases = [p for p in phrases if p.strip()]
    stats = stats or term_stats(brokerage_id, phrase_terms(phrases))
    phrases = _discriminating(phrases, stats)
    if not phrases:
        return []
    if connection.vendor == "sqlite":
        return _search_sqlite(brokerage_id, phrases, article_filter or {}, limit)
    return _search_postgres(brokerage_id, phrases, article_filter or {}, limit, stats)


def _rarity(phrases: list[str], stats: TermStats) -> dict[str, int]:
    """How many passages could match each phrase: as many as contain its rarest term (a phrase needs them all)."""
    return {phrase: min(stats.counts.get(term, 0) for term in terms)
            for phrase in phrases if (terms := stems(phrase))}


def _discriminating(phrases: list[str], stats: TermStats) -> list[str]:
    """The phrases worth asking the engine for: ones the brokerage's passages contain, and not so common that
    they match a large share of them (they would cost more to rank than they tell; the mentor still weighs
    every concept afterwards). When every phrase is common, the rarest one is kept."""
    present = {phrase: n for phrase, n in _rarity(phrases, stats).items() if n > 0}
    if not present:
        return []
    ceiling = max(COMMON_SHARE * stats.total, COMMON_FLOOR)
    kept = [phrase for phrase in phrases if 0 < present.get(phrase, 0) <= ceiling]
    return kept or [min(present, key=present.get)]


def _rank_candidates(phrases: list[str], stats: TermStats) -> list[str]:
    """The rarest phrases that together match at most RANK_BUDGET passages (always at least the rarest one).

    PostgreSQL's ts_rank reads and scores every row the match returns, and an OR of a few phrases that are
    each below the COMMON_SHARE ceiling still matches a fifth of a large knowledge base (11,800 of 54,500
    passages for "tenancy renewal notice 90 days": 60 ms). Requiring a rare phrase bounds the work and keeps
    the distinctive evidence; small knowledge bases rank every match."""
    rarity = _rarity(phrases, stats)
    chosen: list[str] = []
    counted: set[frozenset[str]] = set()  # phrases with the same stems ("notice", "notication") match once
    matches = 0
    for phrase in sorted(rarity, key=rarity.get):
        terms = frozenset(stems(phrase))
        if terms not in counted:
            if chosen and matches + rarity[phrase] > RANK_BUDGET:
                break
            counted.add(terms)
            matches += rarity[phrase]
        chosen.append(phrase)
    if not any(len(stems(phrase)) == 1 for phrase in chosen):
        # A phrase's count is its rarest word's, an upper bound ("know your customer" may be in no passage at
        # all); a single word's is exact, so the rarest one keeps the candidates from coming back empty.
        chosen += [phrase for phrase in sorted(rarity, key=rarity.get) if len(stems(phrase)) == 1][:1]
    return chosen


def _search_sqlite(brokerage_id: int, phrases: list[str], article_filter: dict, limit: int) -> list[PassageHit]:
    match = f"tenant : {_tenant_token(brokerage_id)} AND (" + " OR ".join(_quote_fts5(p) for p in phrases) + ")"
    weights = ", ".join(str(w) for w in WEIGHTS.values())
    where, params = "", []
    if article_filter:
        allowed = KnowledgeArticle.objects.filter(brokerage_id=brokerage_id, **article_filter).values("pk")
        allowed_sql, allowed_params = allowed.query.sql_with_params()
        where = f" AND p.article_id IN ({allowed_sql})"
        params = list(allowed_params)
    sql = (
        f"SELECT p.id, p.article_id, bm25({FTS_TABLE}, 0, {weights}) AS rank, "  # noqa: S608
        f"snippet({FTS_TABLE}, 4, '{MARK_START}', '{MARK_END}', '…', 28) "
        f"FROM {FTS_TABLE} JOIN copilot_knowledgepassage p ON p.id = {FTS_TABLE}.rowid "
        f"WHERE {FTS_TABLE} MATCH %s{where} ORDER BY rank LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, *params, limit])
        rows = cursor.fetchall()
    # bm25 is "lower is better" and negative; flip it so every engine reports higher = better.
    return [PassageHit(pid, aid, -rank, _marked_html(snippet)) for pid, aid, rank, snippet in rows]


def _websearch(phrases: list[str]) -> SearchQuery:
    return SearchQuery(" or ".join(f'"{p}"' if " " in p else p for p in phrases), search_type="websearch",
                       config="english")


def _search_postgres(brokerage_id: int, phrases: list[str], article_filter: dict, limit: int,
                     stats: TermStats) -> list[PassageHit]:
    """Candidates from the GIN index (see _rank_candidates), ranked as bm25 ranks the same OR query on SQLite:
    first by the rarity (idf) of the candidate phrases each passage has, then by ts_rank on every phrase
    (frequency and field: title > tags, heading > text). ts_rank alone knows nothing of rarity, so a passage
    with a common word several times would beat the one with the question's rare word. ts_headline runs on the
    final `limit` only."""
    query = _websearch(phrases)
    candidates = _rank_candidates(phrases, stats)
    rank = SearchRank(F("search_vector"), query, weights=[0.1, 0.3, 0.6, 1.0], normalization=0)
    if len({frozenset(stems(phrase)) for phrase in candidates}) > 1:  # else every candidate has them all
        rarity = _rarity(candidates, stats)
        for phrase in candidates:
            idf = math.log((stats.total + 1) / (rarity[phrase] + 0.5))
            rank = rank + Case(When(search_vector=_websearch([phrase]), then=Value(idf)), default=Value(0.0),
                               output_field=FloatField())
    passages = (
        KnowledgePassage.objects.filter(brokerage_id=brokerage_id, search_vector=_websearch(candidates),
                                        **{f"article__{k}": v for k, v in article_filter.items()})
        .annotate(rank=rank)
        .order_by("-rank", "id")[:limit]
    )
    hits = list(passages.values_list("id", "article_id", "rank"))
    snippets = dict(
        KnowledgePassage.objects.filter(pk__in=[h[0] for h in hits]).annotate(snippet=SearchHeadline(
            "text", query, config="english", start_sel=MARK_START, stop_sel=MARK_END, max_words=35, min_words=15,
        )).values_list("id", "snippet")
    )
    return [PassageHit(pid, aid, float(rank), _marked_html(snippets.get(pid, ""))) for pid, aid, rank in hits]
