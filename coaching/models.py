"""The AI Coaching Engine's records: conversations and their messages, coaching sessions, the alerts they raise,
the training module library and agents' training plans, and the cached performance profiles.

A conversation belongs to one agent (and optionally a CRM lead). While the agent has a running coaching session,
each message is analysed and may raise an alert; an alert is stored once per finding of a conversation
(`coaching_alert_once_per_finding`), which is what makes delivery idempotent under a flood of messages.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager

from brokerages.models import Brokerage


class ConversationChannel(models.TextChoices):
    CALL = "call", "Phone call"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", "E-mail"
    CHAT = "chat", "Web chat"
    IN_PERSON = "in_person", "In person"


class Speaker(models.TextChoices):
    AGENT = "agent", "Agent"
    LEAD = "lead", "Lead"


class Area(models.TextChoices):
    """The seed's five conversation quality areas."""

    LEAD_QUALIFICATION = "lead_qualification", "Lead qualification"
    PROPERTY_PRESENTATION = "property_presentation", "Property presentation"
    OBJECTION_HANDLING = "objection_handling", "Objection handling"
    CLOSING = "closing", "Closing"
    MARKET_EXPERTISE = "market_expertise", "Market expertise"


class Intensity(models.TextChoices):
    LIGHT_TOUCH = "LIGHT_TOUCH", "Light touch"
    MODERATE = "MODERATE", "Moderate"
    INTENSIVE = "INTENSIVE", "Intensive"
    CRITICAL = "CRITICAL", "Critical"


class Priority(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    CRITICAL = "CRITICAL", "Critical"


class SkillLevel(models.TextChoices):
    BEGINNER = "beginner", "Beginner"
    INTERMEDIATE = "intermediate", "Intermediate"
    ADVANCED = "advanced", "Advanced"
    EXPERT = "expert", "Expert"


class Conversation(models.Model):
    """One agent–lead conversation. Open while `ended_at` is null; messages are refused once it has ended.

    `analysis` holds the latest analysis as JSON (`Analysis.to_dict()`): the incremental one while the
    conversation is live, the full one after it ended. `quality_score` is set only by the full analysis, so
    profiles and metrics never average half-finished conversations.
    """

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="conversations")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    lead = models.ForeignKey("nurturing.Lead", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="conversations")
    channel = models.CharField(max_length=16, choices=ConversationChannel.choices, default=ConversationChannel.CALL)
    # The id the posting system (phone, SMS or WhatsApp platform) uses, so a retried post finds the same row.
    external_id = models.CharField(max_length=100, blank=True, default="")
    session = models.ForeignKey("CoachingSession", on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="conversations")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    analysis = models.JSONField(default=dict, blank=True)
    quality_score = models.FloatField(null=True, blank=True)
    analysis_engine = models.CharField(max_length=16, blank=True, default="")
    analysis_degraded = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-started_at", "-pk"]
        indexes = [
            models.Index(fields=["brokerage", "agent", "-started_at"], name="coaching_conv_agent_idx"),
            models.Index(fields=["brokerage", "ended_at"], name="coaching_conv_ended_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "external_id"], condition=~Q(external_id=""),
                                    name="coaching_conversation_external_id_unique"),
            models.CheckConstraint(condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                                   name="coaching_conversation_ends_after_start"),
            models.CheckConstraint(
                condition=Q(quality_score__isnull=True) | Q(quality_score__gte=0, quality_score__lte=100),
                name="coaching_conversation_quality_0_100"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} with {self.lead or 'a lead'} ({self.started_at:%Y-%m-%d %H:%M})"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class Message(models.Model):
    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # 1, 2, 3 … in arrival order; the unique constraint keeps concurrent posts from sharing a place.
    position = models.PositiveIntegerField()
    speaker = models.CharField(max_length=8, choices=Speaker.choices)
    text = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["conversation", "position"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "position"], name="coaching_message_position_unique"),
            models.CheckConstraint(condition=~Q(text=""), name="coaching_message_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.get_speaker_display()}: {self.text[:60]}"


class CoachingSession(models.Model):
    """The seed's CoachingSession: an agent coached in real time at an intensity, with its counters.

    At most one running (active or paused) session per agent, enforced by the database.
    `baseline_quality_score` is the agent's average conversation quality before the session started;
    `current_quality_score` the average of the conversations it monitored that have ended.
    """

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        PAUSED = "PAUSED", "Paused"
        COMPLETED = "COMPLETED", "Completed"
        CANCELLED = "CANCELLED", "Cancelled"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="coaching_sessions")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_sessions")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    intensity = models.CharField(max_length=12, choices=Intensity.choices, default=Intensity.MODERATE)
    started_at = models.DateTimeField(default=timezone.now)
    paused_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    conversations_monitored = models.PositiveIntegerField(default=0)
    coaching_alerts_sent = models.PositiveIntegerField(default=0)
    real_time_interventions = models.PositiveIntegerField(default=0)
    baseline_quality_score = models.FloatField(null=True, blank=True)
    current_quality_score = models.FloatField(null=True, blank=True)
    enable_real_time_coaching = models.BooleanField(default=True)
    enable_notifications = models.BooleanField(default=True)
    preferred_channels = models.JSONField(default=list, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    RUNNING = (Status.ACTIVE, Status.PAUSED)

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(status__in=["ACTIVE", "PAUSED"]),
                                    name="coaching_one_running_session_per_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_intensity_display()} coaching for {self.agent} ({self.get_status_display()})"

    @property
    def improvement_delta(self) -> float | None:
        if self.baseline_quality_score is None or self.current_quality_score is None:
            return None
        return round(self.current_quality_score - self.baseline_quality_score, 1)


class CoachingAlert(models.Model):
    """The seed's alert structure, plus the area and conversation it is about. `escalated` alerts also go to
    the brokerage's managers. One alert per finding code and conversation."""

    class AlertType(models.TextChoices):
        REAL_TIME_SUGGESTION = "REAL_TIME_SUGGESTION", "Real-time suggestion"
        CONVERSATION_REVIEW = "CONVERSATION_REVIEW", "Conversation review"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="coaching_alerts")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="coaching_alerts")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="alerts")
    session = models.ForeignKey(CoachingSession, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="alerts")
    message = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    alert_type = models.CharField(max_length=24, choices=AlertType.choices, default=AlertType.REAL_TIME_SUGGESTION)
    area = models.CharField(max_length=24, choices=Area.choices)
    code = models.CharField(max_length=64)
    title = models.CharField(max_length=200)
    text = models.TextField(help_text="The alert's message.")
    priority = models.CharField(max_length=8, choices=Priority.choices)
    suggested_action = models.TextField(blank=True, default="")
    evidence = models.JSONField(default=list, blank=True)
    channels = models.JSONField(default=list, blank=True)
    escalated = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["brokerage", "agent", "acknowledged_at"], name="coaching_alert_agent_idx"),
            models.Index(fields=["brokerage", "escalated", "-created_at"], name="coaching_alert_escalated_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "code"], name="coaching_alert_once_per_finding"),
        ]

    def __str__(self) -> str:
        return f"{self.get_priority_display()}: {self.title}"


class TrainingModule(models.Model):
    """A module of the training library. Rows without a brokerage are the platform's library (seeded by a data
    migration) and every brokerage sees them; a brokerage's own modules are visible to it alone.

    Not a ScopedManager: the library rows have no brokerage, so selectors filter
    `Q(brokerage=None) | Q(brokerage=brokerage)` explicitly.
    """

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, null=True, blank=True,
                                  related_name="training_modules")
    key = models.SlugField(max_length=80)
    area = models.CharField(max_length=24, choices=Area.choices)
    level = models.CharField(max_length=12, choices=SkillLevel.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    duration_minutes = models.PositiveIntegerField()
    topics = models.JSONField(default=list)
    practice_scenarios = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = models.Manager()

    class Meta:
        ordering = ["area", "level", "title"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=Q(brokerage__isnull=True),
                                    name="coaching_library_module_key_unique"),
            models.UniqueConstraint(fields=["brokerage", "key"], condition=Q(brokerage__isnull=False),
                                    name="coaching_brokerage_module_key_unique"),
            models.CheckConstraint(condition=Q(duration_minutes__gt=0), name="coaching_module_has_duration"),
        ]

    def __str__(self) -> str:
        return self.title


class TrainingPlan(models.Model):
    """The seed's TrainingPlan; its modules are `items` in order. One active plan per agent: a new plan
    supersedes the previous one."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        COMPLETED = "completed", "Completed"
        SUPERSEDED = "superseded", "Superseded"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="training_plans")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_plans")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    target_completion_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    priority_skills = models.JSONField(default=list)
    improvement_goals = models.JSONField(default=list)
    target_quality_score = models.FloatField()
    target_conversion_rate = models.FloatField()
    target_expertise_level = models.CharField(max_length=12, choices=SkillLevel.choices)
    baseline_metrics = models.JSONField(default=dict)
    current_metrics = models.JSONField(default=dict)
    rationale = models.TextField(blank=True, default="")
    engine = models.CharField(max_length=16, default="local")
    degraded = models.BooleanField(default=False)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["agent"], condition=Q(status="active"),
                                    name="coaching_one_active_plan_per_agent"),
        ]

    def __str__(self) -> str:
        return f"Training plan for {self.agent} ({self.created_at:%Y-%m-%d})"


class TrainingPlanItem(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(TrainingPlan, on_delete=models.CASCADE, related_name="items")
    module = models.ForeignKey(TrainingModule, on_delete=models.PROTECT, related_name="plan_items")
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    # Why the module was picked (the skill gap and its evidence), shown to the agent.
    reason = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["plan", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "module"], name="coaching_plan_module_once"),
            models.UniqueConstraint(fields=["plan", "position"], name="coaching_plan_position_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.module} ({self.get_status_display()})"


class PerformanceSnapshot(models.Model):
    """A computed AgentPerformance profile (as JSON) for one agent and look-back window. Kept in the database so
    every process shares it; deleted whenever the agent's data changes (a conversation ends, a module is done)."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    days_lookback = models.PositiveIntegerField()
    computed_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField()

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "days_lookback"], name="coaching_snapshot_once_per_window"),
        ]
