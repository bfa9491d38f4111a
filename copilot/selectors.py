"""Reads for the co-pilot. Each takes the tenant explicitly."""

from dataclasses import dataclass

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User

from . import search_index
from .models import KnowledgeArticle, KnowledgePassage, MentorQuestion
from .vocabulary import concepts, search_phrases


def articles(brokerage: Brokerage, *, category: str = "", tag: str = "",
             include_inactive: bool = False) -> QuerySet[KnowledgeArticle]:
    found = KnowledgeArticle.objects.filter(brokerage=brokerage).select_related("created_by")
    if not include_inactive:
        found = found.filter(is_active=True)
    if category:
        found = found.filter(category=category)
    if tag:
        # Tags are a JSON list; matching its quoted text works the same on SQLite and PostgreSQL.
        found = found.filter(tags__icontains=f'"{tag.lower()}"')
    return found


def article_get(brokerage: Brokerage, pk: int, *, include_inactive: bool = False) -> KnowledgeArticle:
    """The brokerage's article; another brokerage's (or, for readers, a retired one) answers 404."""
    return get_object_or_404(articles(brokerage, include_inactive=include_inactive), pk=pk)


def categories(brokerage: Brokerage) -> list[str]:
    return list(KnowledgeArticle.objects.filter(brokerage=brokerage, is_active=True)
                .order_by("category").values_list("category", flat=True).distinct())


def tags(brokerage: Brokerage) -> list[str]:
    found: set[str] = set()
    for article_tags in KnowledgeArticle.objects.filter(brokerage=brokerage, is_active=True).values_list(
            "tags", flat=True):
        found.update(article_tags)
    return sorted(found)


@dataclass
class SearchResult:
    article: KnowledgeArticle
    heading: str
    snippet_html: str
    score: float


def knowledge_search(brokerage: Brokerage, query: str, *, category: str = "", tag: str = "",
                     limit: int = 20) -> list[SearchResult]:
    """Passages ranked by the engine for the query (with trade synonyms), one result per passage."""
    article_filter = {}
    if category:
        article_filter["category"] = category
    if tag:
        article_filter["tags__icontains"] = f'"{tag.lower()}"'
    hits = search_index.search(brokerage.pk, search_phrases(concepts(query)), article_filter=article_filter,
                               limit=limit)
    passages = KnowledgePassage.objects.filter(pk__in=[h.passage_id for h in hits]).select_related("article")
    by_id = {p.pk: p for p in passages}
    return [SearchResult(by_id[h.passage_id].article, by_id[h.passage_id].heading, h.snippet_html, h.score)
            for h in hits if h.passage_id in by_id]


def mentor_history(brokerage: Brokerage, user: User, limit: int = 20) -> QuerySet[MentorQuestion]:
    return MentorQuestion.objects.filter(brokerage=brokerage, asked_by=user)[:limit]


def mentor_question_get(brokerage: Brokerage, pk: int) -> MentorQuestion:
    return get_object_or_404(MentorQuestion, brokerage=brokerage, pk=pk)


def mentor_gaps(brokerage: Brokerage) -> QuerySet[MentorQuestion]:
    """Questions the mentor could not answer that nobody has dealt with yet, newest first."""
    return MentorQuestion.objects.filter(brokerage=brokerage, abstained=True, resolved=False).select_related(
        "asked_by")
