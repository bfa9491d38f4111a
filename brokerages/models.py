"""The tenant (Brokerage), its people, typed settings, brand assets and the append-only audit log."""

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from .private_storage import export_archive_path, export_storage

HEX_COLOUR_PATTERN = r"^#[0-9A-Fa-f]{6}$"
hex_colour_validator = RegexValidator(HEX_COLOUR_PATTERN, "Enter a colour as #RRGGBB, for example #1F4E79.")


class Role(models.TextChoices):
    BROKERAGE_OWNER = "brokerage_owner", "Brokerage owner"
    AGENT = "agent", "Agent"
    SUPPORT_STAFF = "support_staff", "Support staff"
    SYSTEM_ADMIN = "system_admin", "System admin"


class PerformanceTier(models.TextChoices):
    DEVELOPING = "developing", "Developing"
    STANDARD = "standard", "Standard"
    HIGH_PERFORMER = "high_performer", "High performer"
    TOP_PRODUCER = "top_producer", "Top producer"


class Brokerage(models.Model):
    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=80, unique=True)
    license_number = models.CharField(max_length=100, unique=True)
    rera_number = models.CharField("RERA number", max_length=100, blank=True)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    email = models.EmailField(max_length=255, blank=True)
    website = models.URLField(max_length=255, blank=True)
    logo = models.ImageField(upload_to="brokerages/logos/", blank=True)
    primary_color = models.CharField(max_length=7, default="#1F4E79", validators=[hex_colour_validator])
    secondary_color = models.CharField(max_length=7, default="#C9A227", validators=[hex_colour_validator])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            ("manage_brokerage", "Manage the brokerage: profile, branding, settings and team"),
            ("view_team_performance", "View team performance"),
            ("view_knowledge_base", "Use the knowledge base and the mentor"),
            ("manage_knowledge_base", "Write, import and retire knowledge articles"),
            ("use_workflow_automation", "Use workflow automation"),
            ("view_audit_log", "View the audit log"),
            ("work_leads", "Open the CRM: one's own leads, or every lead with manage_leads"),
            ("manage_leads", "See, assign and import every lead of the brokerage"),
            ("manage_nurturing", "Build nurturing sequences, workflow automations and the lead webhook"),
            ("use_coaching", "Be coached: one's own conversations, alerts, performance and training plan"),
            ("manage_coaching", "Coach the team: sessions, escalations, every agent's conversations and plans"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(primary_color__regex=HEX_COLOUR_PATTERN) & Q(secondary_color__regex=HEX_COLOUR_PATTERN),
                name="brokerage_colours_are_hex",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def logo_url(self) -> str:
        return self.logo.url if self.logo else ""


# Direct foreign keys instead of guardian's generic tables: permission lookups join on an integer key.
class BrokerageUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Brokerage, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class BrokerageGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Brokerage, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.SYSTEM_ADMIN)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    brokerage = models.ForeignKey(
        Brokerage, on_delete=models.PROTECT, related_name="members", null=True, blank=True
    )
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.AGENT)
    agent_license_number = models.CharField(max_length=100, blank=True)
    hire_date = models.DateField(null=True, blank=True)
    performance_tier = models.CharField(
        max_length=50, choices=PerformanceTier.choices, default=PerformanceTier.STANDARD
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["full_name", "email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role=Role.SYSTEM_ADMIN) | Q(brokerage__isnull=False),
                name="user_in_brokerage_unless_system_admin",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()
        if self.role != Role.SYSTEM_ADMIN and self.brokerage_id is None:
            raise ValidationError({"brokerage": "Everyone but a system admin belongs to a brokerage."})

    @property
    def display_name(self) -> str:
        return self.full_name or self.email.split("@")[0]

    @property
    def is_owner(self) -> bool:
        return self.role == Role.BROKERAGE_OWNER


class BrokerageSetting(models.Model):
    """One typed value of the settings registry (`brokerages.settings_registry`), stored as text."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="settings")
    setting_key = models.CharField(max_length=100)
    setting_value = models.TextField(blank=True)
    setting_type = models.CharField(max_length=50, default="string")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["setting_key"]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "setting_key"], name="unique_setting_per_brokerage"),
        ]

    def __str__(self) -> str:
        return f"{self.setting_key}={self.setting_value}"


class BrandAsset(models.Model):
    class AssetType(models.TextChoices):
        LOGO = "logo", "Logo"
        TEMPLATE = "template", "Template"
        BROCHURE = "brochure", "Brochure"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="brand_assets")
    asset_type = models.CharField(max_length=50, choices=AssetType.choices)
    asset_name = models.CharField(max_length=255)
    file = models.FileField(upload_to="brokerages/assets/")
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.asset_name

    @property
    def asset_url(self) -> str:
        return self.file.url


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AuditLog(models.Model):
    """Who did what to which resource, when and from where. Written only by `audit_record`."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.PROTECT, related_name="audit_entries")
    actor = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    action = models.CharField(max_length=100)
    resource_type = models.CharField(max_length=100)
    resource_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = ScopedManager(brokerage="brokerage", _manager_class=models.Manager.from_queryset(AppendOnlyQuerySet))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brokerage", "-created_at"], name="audit_brokerage_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"

    @property
    def summary(self) -> str:
        """The details as a person reads them: "field: old → new" for changes, "key: value" otherwise."""
        parts = []
        for key, value in self.details.items():
            if key == "changes" and isinstance(value, dict):
                parts += [f"{field}: {pair[0] or '∅'} → {pair[1] or '∅'}" for field, pair in value.items()]
            else:
                parts.append(f"{key}: {value}")
        return "; ".join(parts)

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")


class Notification(models.Model):
    """An in-app message to one member (a lead waiting too long, an escalation, an automation's notice).
    `key` makes a notice idempotent: the same event never notifies the same person twice."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="notifications")
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=50)
    message = models.CharField(max_length=500)
    url = models.CharField(max_length=300, blank=True)
    key = models.CharField(max_length=120)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="unique_notification_key")]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return self.message


class ApiArea(models.TextChoices):
    """The parts of the API an integration key may be scoped to: one per app, read or write."""

    BROKERAGES = "brokerages", "Brokerage: profile, team, settings, webhooks"
    COPILOT = "copilot", "Co-Pilot: mentor, knowledge base, assistant"
    NURTURING = "nurturing", "Nurturing: leads, interactions, listings, sequences, follow-ups, automations"
    COACHING = "coaching", "Coaching: conversations, alerts, sessions, training plans"
    ANALYTICS = "analytics", "Analytics: dashboard and team performance"


API_SCOPES = tuple(f"{area}:{level}" for area in ApiArea.values for level in ("read", "write"))


class ApiKey(models.Model):
    """A brokerage-level integration credential. Only a SHA-256 of the key is stored; the key itself is shown
    once. It acts with the permissions of the owner who created it, narrowed to its scopes."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "name"], condition=Q(revoked_at__isnull=True),
                                    name="unique_live_api_key_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class WebhookEndpoint(models.Model):
    """A receiver an owner registered for some events. Deliveries are signed with `secret`; after a rotation
    the previous secret also signs until `previous_secret_expires_at`, so receivers can switch over."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=80)
    previous_secret = models.CharField(max_length=80, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint. `event_id` stays the same across retries and manual
    redeliveries, so a receiver can drop duplicates."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RETRYING = "retrying", "Retrying"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=60)
    event_id = models.UUIDField(db_index=True)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    redelivery_of = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_endpoint"),
            # The sweep's question, "which deliveries are due?", without scanning the delivered history.
            models.Index(fields=["next_attempt_at"], name="webhook_delivery_due",
                         condition=Q(status__in=["pending", "retrying"])),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"


class DataExport(models.Model):
    """An archive of everything a brokerage stores (`brokerages.exports`), built in the background for an owner,
    kept in private storage until `expires_at`, then deleted (the row stays, `expired`, as the record of it)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to start"
        RUNNING = "running", "Being built"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired (deleted)"

    IN_PROGRESS = (Status.PENDING, Status.RUNNING)

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="data_exports")
    requested_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    include_media = models.BooleanField(default=True, help_text="Logos, brand assets, listing photos and "
                                                                "generated reports are in the archive too.")
    archive = models.FileField(upload_to=export_archive_path, storage=export_storage, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True, help_text="Records per table in the archive.")
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One archive at a time per brokerage: a second request while one is built is refused, not queued.
            models.UniqueConstraint(fields=["brokerage"], condition=Q(status__in=["pending", "running"]),
                                    name="one_data_export_in_progress"),
            models.CheckConstraint(condition=~Q(status="ready") | ~Q(archive=""), name="ready_data_export_has_file"),
        ]

    def __str__(self) -> str:
        return f"Data export #{self.pk} of {self.brokerage_id} ({self.status})"

    @property
    def in_progress(self) -> bool:
        return self.status in self.IN_PROGRESS

    @property
    def record_count(self) -> int:
        return sum(self.counts.values())
