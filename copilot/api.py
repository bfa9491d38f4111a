"""REST endpoints of the co-pilot: the seed's mentor endpoint and the knowledge base. Same services as the pages."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from brokerages.api_base import StrictSerializer, TenantAPIView
from brokerages.permissions import brokerage_perms

from . import selectors, services
from .services import MAX_QUESTION_CHARS


class MentorQuestionSerializer(StrictSerializer):
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


class ArticleWriteSerializer(StrictSerializer, ArticleSerializer):
    is_active = serializers.BooleanField(required=False)


class SearchResultSerializer(serializers.Serializer):
    article_id = serializers.IntegerField(source="article.pk")
    title = serializers.CharField(source="article.title")
    category = serializers.CharField(source="article.category")
    heading = serializers.CharField()
    snippet = serializers.CharField(source="snippet_html")
    score = serializers.FloatField()


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

    @extend_schema(parameters=[OpenApiParameter("category", str), OpenApiParameter("tag", str)],
                   responses=ArticleSerializer(many=True), summary="List articles")
    def get(self, request):
        manage = "manage_knowledge_base" in brokerage_perms(request.user, self.brokerage)
        found = selectors.articles(self.brokerage, category=request.query_params.get("category", ""),
                                   tag=request.query_params.get("tag", ""), include_inactive=manage)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(ArticleSerializer(page, many=True).data)

    @extend_schema(request=ArticleWriteSerializer, responses={201: ArticleSerializer}, summary="Create an article")
    def post(self, request):
        incoming = ArticleWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        article = services.article_create(brokerage=self.brokerage, actor=request.user, **incoming.validated_data)
        return Response(ArticleSerializer(article).data, status=status.HTTP_201_CREATED)


def _any_article(brokerage, pk):
    return selectors.article_get(brokerage, pk, include_inactive=True)


class ArticleAPI(TenantAPIView):
    """One article; owners and support staff change or retire it (is_active=false)."""

    method_perms = {"GET": "view_knowledge_base", "PATCH": "manage_knowledge_base"}
    lookup = _any_article

    @extend_schema(responses=ArticleSerializer, summary="One article")
    def get(self, request, pk: int):
        if not self.object.is_active and "manage_knowledge_base" not in brokerage_perms(request.user, self.brokerage):
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

    @extend_schema(parameters=[OpenApiParameter("q", str, required=True), OpenApiParameter("category", str),
                               OpenApiParameter("tag", str)],
                   responses=SearchResultSerializer(many=True), summary="Search the knowledge base")
    def get(self, request):
        query = request.query_params.get("q", "")[:500]
        if not query.strip():
            raise serializers.ValidationError({"q": ["Give a search text."]})
        results = selectors.knowledge_search(self.brokerage, query, category=request.query_params.get("category", ""),
                                             tag=request.query_params.get("tag", ""))
        return Response(SearchResultSerializer(results, many=True).data)
