"""The brokerage's knowledge base (articles split into searchable passages), the mentor's question log, the
Quality & Consistency engine's templates and compliance rules, and the Agentic Assistant's automation runs."""

import re
import uuid

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django_scopes import ScopedManager

from brokerages.models import Brokerage
from brokerages.private_storage import PrivateFileStorage, private_storage


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


# Quality & Consistency: the brokerage's templates and the compliance rules every marketing text is checked against.

class TemplateKind(models.TextChoices):
    EMAIL_SIGNATURE = "email_signature", "E-mail signature"
    DISCLAIMER = "disclaimer", "Disclaimer"
    LISTING_SKELETON = "listing_description_skeleton", "Listing description skeleton"
    TONE_OF_VOICE = "tone_of_voice", "Tone of voice"


# What a listing-description skeleton may say in braces: the listing's facts, then the brokerage's own details
# (filled from its profile and templates, so a skeleton can carry every element the compliance check requires).
SKELETON_PLACEHOLDERS: dict[str, str] = {
    "title": "the listing's title",
    "community": "the community",
    "building": "the building",
    "property_type": "the property type",
    "bedrooms": "the number of bedrooms",
    "size": "the size",
    "price": "the price",
    "features": "the features",
    "permit_number": "the listing's permit number",
    "brokerage_name": "the brokerage's name",
    "licence_number": "the brokerage's RERA ORN number (its licence number when it has none)",
    "disclaimer": "the brokerage's disclaimer",
}
PLACEHOLDER_PATTERN = re.compile(r"\{([^{}\n]*)\}")


def skeleton_placeholder_error(text: str) -> str:
    """Empty when every {placeholder} in `text` is one of SKELETON_PLACEHOLDERS, else a message naming the rest."""
    unknown = sorted({name for name in PLACEHOLDER_PATTERN.findall(text) if name not in SKELETON_PLACEHOLDERS})
    if not unknown:
        return ""
    names = ", ".join("{" + name + "}" for name in unknown)
    known = ", ".join("{" + name + "}" for name in SKELETON_PLACEHOLDERS)
    return f"Unknown placeholder{'s' if len(unknown) > 1 else ''} {names}. Use only {known}."


class BrokerageTemplate(models.Model):
    """One text per brokerage and kind that every generator uses; a kind without a row uses the built-in default
    (`copilot.compliance.template_text`). The skeleton's placeholders are checked by `clean()`."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=TemplateKind.choices)
    text = models.TextField(max_length=5000)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "kind"], name="unique_template_kind_per_brokerage"),
            models.CheckConstraint(condition=models.Q(kind__in=TemplateKind.values), name="template_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.brokerage_id})"

    def clean(self) -> None:
        super().clean()
        if self.kind == TemplateKind.LISTING_SKELETON and (problem := skeleton_placeholder_error(self.text)):
            raise ValidationError({"text": problem})


class ComplianceRule(models.Model):
    """A required element or a prohibited claim, checked by `copilot.compliance.compliance_check`.

    A prohibited claim and an owner's required phrase match `pattern` as a plain phrase (case, spacing, hyphens
    and curly quotes do not matter); a built-in required element (`element`) is looked up in the text itself:
    the listing's permit number, the brokerage's licence / RERA ORN number, the brokerage's disclaimer.
    """

    class Kind(models.TextChoices):
        REQUIRED = "required", "Required element"
        PROHIBITED = "prohibited", "Prohibited claim"

    class Element(models.TextChoices):
        PHRASE = "phrase", "A phrase (the pattern)"
        PERMIT_NUMBER = "permit_number", "The listing's permit number"
        LICENCE_NUMBER = "licence_number", "The brokerage's licence / RERA ORN number"
        DISCLAIMER = "disclaimer", "The brokerage's disclaimer"

    class AppliesTo(models.TextChoices):
        ALL = "all", "All marketing text"
        LISTING = "listing", "Listing texts"
        SOCIAL = "social", "Social posts"
        EMAIL = "email", "E-mails"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=120)
    element = models.CharField(max_length=20, choices=Element.choices, default=Element.PHRASE)
    pattern = models.CharField(max_length=200, blank=True,
                               help_text="A plain phrase, matched whatever its case, spacing or hyphens.")
    applies_to = models.CharField(max_length=20, choices=AppliesTo.choices, default=AppliesTo.ALL)
    is_active = models.BooleanField(default=True)
    explanation = models.CharField(max_length=500, help_text="Shown with every failure: why, and what to do.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "name"], name="unique_compliance_rule_name"),
            # A phrase rule needs its phrase; a built-in element has none; only required rules use built-ins.
            models.CheckConstraint(
                condition=(models.Q(element="phrase") & ~models.Q(pattern=""))
                | (models.Q(kind="required") & ~models.Q(element="phrase") & models.Q(pattern="")),
                name="compliance_rule_pattern_matches_element",
            ),
        ]
        indexes = [models.Index(fields=["brokerage", "is_active"], name="compliance_rules_active")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.element != self.Element.PHRASE:
            if self.kind == self.Kind.PROHIBITED:
                raise ValidationError({"element": "Only a phrase can be prohibited: the built-in elements are "
                                                  "things a text must contain."})
            self.pattern = ""  # a built-in element is found by what it is, not by a phrase
        elif not re.search(r"\w", self.pattern):
            raise ValidationError({"pattern": "Enter the phrase to look for, for example “guaranteed returns”."})


# The Agentic Assistant: every automation it runs for an agent, whatever the outcome, with what it produced.

def assistant_report_storage() -> PrivateFileStorage:
    """The storage of the assistant's PDFs (a callable, so migrations name it instead of freezing its state)."""
    return private_storage


def assistant_report_path(run: "AssistantRun", filename: str) -> str:
    """Per brokerage, under a random name: the name says nothing about the run or the agent."""
    return f"assistant/{run.brokerage_id}/reports/{uuid.uuid4().hex}.pdf"


class AutomationType(models.TextChoices):
    CONTENT_GENERATION = "content_generation", "Content generation"
    LEAD_FOLLOWUP = "lead_followup", "Lead follow-up drafts"
    REPORT_CREATION = "report_creation", "Report"


class AssistantRun(models.Model):
    """One automation the assistant ran for an agent (the seed's AutomationRequest and its AutomationResult).

    A run that did its work is `succeeded` and waits for the agent: marketing text is edited (`edited_text`),
    approved once it passes the compliance check, or discarded; follow-up drafts are reviewed in the agent's
    follow-up queue; a report keeps its PDF in private storage. A run that could not do its work is `failed` with
    the reason in words (`error`). `degraded`: the model engine failed and the local engine did the work.
    """

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Ready for review"
        FAILED = "failed", "Failed"
        APPROVED = "approved", "Approved"
        DISCARDED = "discarded", "Discarded"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              help_text="Who ran it: the run is in their history and only they review it.")
    automation_type = models.CharField(max_length=30, choices=AutomationType.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    inputs = models.JSONField(default=dict, blank=True, help_text="The parameters as the run understood them.")
    output = models.JSONField(default=dict, blank=True, help_text="Texts, draft ids or the report's metadata.")
    edited_text = models.TextField(blank=True, help_text="The agent's version of the generated text.")
    engine = models.CharField(max_length=20, blank=True)
    degraded = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    report_file = models.FileField(upload_to=assistant_report_path, storage=assistant_report_storage, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brokerage", "agent", "-created_at"], name="assistant_run_history")]
        constraints = [
            models.CheckConstraint(condition=models.Q(automation_type__in=AutomationType.values),
                                   name="assistant_run_type_known"),
            models.CheckConstraint(condition=models.Q(status__in=["succeeded", "failed", "approved", "discarded"]),
                                   name="assistant_run_status_known"),
            models.CheckConstraint(condition=~models.Q(status="failed") | ~models.Q(error=""),
                                   name="assistant_run_failure_says_why"),
        ]

    def __str__(self) -> str:
        return f"{self.get_automation_type_display()} #{self.pk} ({self.status})"

    @property
    def text(self) -> str:
        """The marketing text as it stands: the agent's edit, else what was generated ("" for other runs)."""
        return self.edited_text or self.output.get("text", "")

    @property
    def is_content(self) -> bool:
        return self.automation_type == AutomationType.CONTENT_GENERATION

    @property
    def awaits_review(self) -> bool:
        return self.status == self.Status.SUCCEEDED
