"""The brokerage's knowledge base (articles split into searchable passages) and the mentor's question log."""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django_scopes import ScopedManager

from brokerages.models import Brokerage


class KnowledgeArticle(models.Model):
    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="knowledge_articles")
    category = models.CharField(max_length=100)
    title = models.CharField(max_length=255)
    content = models.TextField(help_text="Markdown. Sections start with ## headings; each becomes a passage.")
    tags = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["category", "title"]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "title"], name="unique_article_title_per_brokerage"),
        ]
        indexes = [models.Index(fields=["brokerage", "is_active", "category"], name="article_browse")]

    def __str__(self) -> str:
        return self.title


class KnowledgePassage(models.Model):
    """One section of an article: the unit that search ranks and the mentor cites.

    `search_vector` is kept on PostgreSQL (GIN-indexed, weighted title > tags/heading > text); on SQLite the
    FTS5 table `copilot_passage_fts` (rowid = passage id) holds the same text.
    """

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    article = models.ForeignKey(KnowledgeArticle, on_delete=models.CASCADE, related_name="passages")
    position = models.PositiveSmallIntegerField()
    heading = models.CharField(max_length=255, blank=True)
    text = models.TextField()
    search_vector = SearchVectorField(null=True, editable=False)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["article_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["article", "position"], name="unique_passage_position"),
        ]

    def __str__(self) -> str:
        return f"{self.article_id}#{self.position} {self.heading}"


class KnowledgeTerm(models.Model):
    """How many active passages of a brokerage contain a (stemmed) term: the rarity the mentor weighs evidence
    by when it decides whether the knowledge base answers a question. The empty term is in every passage: its
    count is the number of passages (`search_index.ALL_PASSAGES`)."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=64)
    passage_count = models.PositiveIntegerField(default=0)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brokerage", "term"], name="unique_term_per_brokerage")]


class MentorQuestion(models.Model):
    """Every question asked of the mentor with what it answered; abstentions are the owners' gap list."""

    class Feedback(models.IntegerChoices):
        HELPFUL = 1, "Helpful"
        NOT_HELPFUL = -1, "Not helpful"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    question = models.TextField()
    answer = models.TextField(blank=True)
    sources = models.JSONField(default=list, blank=True)
    confidence_score = models.FloatField(default=0.0)
    provider = models.CharField(max_length=20)
    degraded = models.BooleanField(default=False)
    abstained = models.BooleanField(default=False)
    latency_ms = models.FloatField(default=0.0)
    feedback = models.SmallIntegerField(choices=Feedback.choices, null=True, blank=True)
    resolved = models.BooleanField(default=False, help_text="An owner filled the gap this question revealed.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brokerage", "abstained", "resolved"], name="mentor_gaps")]
        constraints = [
            models.CheckConstraint(condition=models.Q(confidence_score__gte=0) & models.Q(confidence_score__lte=1),
                                   name="mentor_confidence_in_unit_range"),
        ]

    def __str__(self) -> str:
        return self.question[:80]
