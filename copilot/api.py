"""REST endpoints of the co-pilot: the seed's mentor endpoint and the knowledge base (also under the seed's
`POST /api/brokerage/knowledge-base`). Same services as the pages. Articles are never deleted, as on the pages:
owners and support staff retire one with `is_active: false` (the mentor and search stop using it) and bring it
back with `true`; DELETE answers 405."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import Pagination, StrictInput, paginated, query_params

from . import selectors, services
from .services import MAX_QUESTION_CHARS


class MentorQuestionSerializer(StrictInput):
    question = serializers.CharField(max_length=MAX_QUESTION_CHARS, allow_blank=True,
                                     error_messages={"max_length": f"Keep the question under {MAX_QUESTION_CHARS} "
                                                                   "characters."})


class SourceSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    article_id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()
    snippet = serializers.CharField(help_text="HTML-escaped text with <mark> around the matched words.")


class MentorResponseSerializer(serializers.Serializer):
    question_id = serializers.IntegerField()
    answer = serializers.CharField()
    sources = SourceSerializer(many=True)
    confidence_score = serializers.FloatField(min_value=0, max_value=1)
    provider = serializers.CharField()
    abstained = serializers.BooleanField()
    degraded = serializers.BooleanField()


class ArticleSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(max_length=255)
    category = serializers.CharField(max_length=100)
    content = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=20, required=False)
    is_active = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class ArticleWriteSerializer(StrictInput, ArticleSerializer):
    is_active = serializers.BooleanField(required=False)


class SearchResultSerializer(serializers.Serializer):
    article_id = serializers.IntegerField(source="article.pk")
    title = serializers.CharField(source="article.title")
    category = serializers.CharField(source="article.category")
    heading = serializers.CharField()
    snippet = serializers.CharField(source="snippet_html")
    score = serializers.FloatField()


class ArticleQuerySerializer(serializers.Serializer):
    category = serializers.CharField(required=False, allow_blank=True, max_length=100,
                                     help_text="Only this category (exact).")
    tag = serializers.CharField(required=False, allow_blank=True, max_length=50,
                                help_text="Only articles with this tag.")


class SearchQuerySerializer(ArticleQuerySerializer):
    q = serializers.CharField(max_length=500, help_text="What to look for.",
                              error_messages={"required": "Give a search text.", "blank": "Give a search text."})
    limit = serializers.IntegerField(required=False, min_value=1, max_value=50, default=20, help_text=(
        "At most this many passages (default 20): a ranked top list, not pages."))


class MentorAskAPI(TenantAPIView):
    """Ask the On-Demand Mentor: an answer grounded in the brokerage's knowledge base with numbered sources, or
    an abstention when the knowledge base does not cover the question."""

    method_perms = {"POST": "view_knowledge_base"}

    @extend_schema(request=MentorQuestionSerializer, responses=MentorResponseSerializer, summary="Ask the mentor")
    def post(self, request):
        incoming = MentorQuestionSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        record, answer = services.mentor_ask(brokerage=self.brokerage, actor=request.user,
                                             question=incoming.validated_data["question"])
        return Response(MentorResponseSerializer({
            "question_id": record.pk, "answer": answer.answer, "sources": [s.__dict__ for s in answer.sources],
            "confidence_score": answer.confidence_score, "provider": answer.provider,
            "abstained": answer.abstained, "degraded": answer.degraded}).data)


class ArticleListAPI(TenantAPIView):
    """Knowledge articles of the brokerage (active ones; managers also see retired ones)."""

    method_perms = {"GET": "view_knowledge_base", "POST": "manage_knowledge_base"}
    pagination_class = Pagination

    @extend_schema(parameters=[ArticleQuerySerializer], responses=ArticleSerializer(many=True),
                   summary="List articles")
    def get(self, request):
        query = query_params(ArticleQuerySerializer, request)
        found = selectors.articles(self.brokerage, category=query.get("category", ""), tag=query.get("tag", ""),
                                   include_inactive="manage_knowledge_base" in self.perms).order_by("title", "pk")
        return paginated(self, found, ArticleSerializer)

    @extend_schema(request=ArticleWriteSerializer, responses={201: ArticleSerializer}, summary="Create an article")
    def post(self, request):
        return _create_article(self, request)


def _create_article(view, request) -> Response:
    incoming = ArticleWriteSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    article = services.article_create(brokerage=view.brokerage, actor=request.user, **incoming.validated_data)
    return Response(ArticleSerializer(article).data, status=status.HTTP_201_CREATED)


class KnowledgeBaseItemAPI(TenantAPIView):
    """The seed's `POST /api/brokerage/knowledge-base`: create a knowledge base item (an article), exactly as
    `POST /api/knowledge/articles` does. Owners and support staff."""

    method_perms = {"POST": "manage_knowledge_base"}

    @extend_schema(request=ArticleWriteSerializer, responses={201: ArticleSerializer},
                   summary="Create a knowledge base item")
    def post(self, request):
        return _create_article(self, request)


def _any_article(brokerage, pk):
    return selectors.article_get(brokerage, pk, include_inactive=True)


class ArticleAPI(TenantAPIView):
    """One article; owners and support staff change it, retire it (`is_active: false`) or bring it back.
    Retired articles are visible to them only (404 for other members)."""

    method_perms = {"GET": "view_knowledge_base", "PATCH": "manage_knowledge_base"}
    lookup = _any_article

    @extend_schema(responses=ArticleSerializer, summary="One article")
    def get(self, request, pk: int):
        if not self.object.is_active and "manage_knowledge_base" not in self.perms:
            raise NotFound("No such article.")
        return Response(ArticleSerializer(self.object).data)

    @extend_schema(request=ArticleWriteSerializer, responses=ArticleSerializer, summary="Change an article")
    def patch(self, request, pk: int):
        incoming = ArticleWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        article = services.article_update(brokerage=self.brokerage, actor=request.user, article=self.object,
                                          data=incoming.validated_data)
        return Response(ArticleSerializer(article).data)


class KnowledgeSearchAPI(TenantAPIView):
    """Full-text search over the brokerage's active articles, ranked by passage."""

    method_perms = {"GET": "view_knowledge_base"}

    @extend_schema(parameters=[SearchQuerySerializer], responses=SearchResultSerializer(many=True),
                   summary="Search the knowledge base")
    def get(self, request):
        query = query_params(SearchQuerySerializer, request)
        results = selectors.knowledge_search(self.brokerage, query["q"], category=query.get("category", ""),
                                             tag=query.get("tag", ""), limit=query["limit"])
        return Response(SearchResultSerializer(results, many=True).data)
