"""The CRM core (leads and clients, their interactions and stage history) and the nurturing machinery built on
it: sequences and enrolments, follow-up drafts, workflow automations and the inbound lead endpoint.

A "client" is a lead that was won: the inactive-client sweep looks at won leads, everything else at open ones.
`last_contacted_at` and `first_contacted_at` are kept by the interaction service so that sweeps and lists never
have to aggregate interactions per lead.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_scopes import ScopedManager
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from brokerages.models import Brokerage


class Stage(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFIED = "qualified", "Qualified"
    VIEWING = "viewing", "Viewing"
    OFFER = "offer", "Offer"
    WON = "won", "Won"
    LOST = "lost", "Lost"


OPEN_STAGES = (Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED, Stage.VIEWING, Stage.OFFER)
CLOSED_STAGES = (Stage.WON, Stage.LOST)
# A lead's climb through the funnel. Lost is not a step: a lost lead keeps how far it had climbed.
LADDER = (Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED, Stage.VIEWING, Stage.OFFER, Stage.WON)


def further_stage(reached: str, entered: str) -> str:
    """The later on the ladder of the stage a lead had reached and the stage it has just entered."""
    if entered not in LADDER or LADDER.index(entered) <= LADDER.index(reached):
        return reached
    return entered


class Priority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


class Source(models.TextChoices):
    WEBSITE = "website", "Website"
    PORTAL = "portal", "Property portal"
    REFERRAL = "referral", "Referral"
    WALK_IN = "walk_in", "Walk-in"
    SOCIAL = "social", "Social media"
    CALL = "call", "Inbound call"
    EVENT = "event", "Event"
    IMPORT = "import", "Imported"
    OTHER = "other", "Other"


class PropertyType(models.TextChoices):
    APARTMENT = "apartment", "Apartment"
    VILLA = "villa", "Villa"
    TOWNHOUSE = "townhouse", "Townhouse"
    PENTHOUSE = "penthouse", "Penthouse"
    OFFICE = "office", "Office"
    RETAIL = "retail", "Retail"
    LAND = "land", "Land"


class Timeline(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    MONTHS_3 = "3_months", "Within 3 months"
    MONTHS_6 = "6_months", "Within 6 months"
    MONTHS_12 = "12_months", "Within a year"
    EXPLORING = "exploring", "Just exploring"


class Channel(models.TextChoices):
    CALL = "call", "Call"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    EMAIL = "email", "E-mail"
    MEETING = "meeting", "Meeting"
    NOTE = "note", "Note"


# Channels a follow-up can go out on (a meeting or a note is not something the platform sends).
SEND_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP, Channel.CALL)


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"
    INTERNAL = "internal", "Internal"


class Lead(models.Model):
    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="leads")
    assigned_agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="assigned_leads")
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, help_text="International format, e.g. +971501234567.")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.OTHER)
    external_id = models.CharField(max_length=100, blank=True,
                                   help_text="The sender's id for a lead that came through the webhook or import.")
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NEW)
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    budget_min = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    budget_max = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    areas = models.JSONField(default=list, blank=True)
    property_type = models.CharField(max_length=20, choices=PropertyType.choices, blank=True)
    timeline = models.CharField(max_length=20, choices=Timeline.choices, blank=True)
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    lost_reason = models.CharField(max_length=255, blank=True)
    sale_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    commission = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    satisfaction_score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="1 (poor) to 5 (great).")
    next_followup_date = models.DateField(null=True, blank=True)
    do_not_contact = models.BooleanField(default=False, help_text="The lead asked not to be contacted again.")
    marketing_consent = models.BooleanField(default=False,
                                            help_text="The lead agreed to receive nurturing messages.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    # Kept by the stage services so that the funnel is a count over leads, not over their whole history.
    furthest_stage = models.CharField(max_length=20, choices=[(stage.value, stage.label) for stage in LADDER],
                                      default=Stage.NEW, editable=False,
                                      help_text="The furthest stage from new to won the lead has ever reached.")
    first_contacted_at = models.DateTimeField(null=True, blank=True)
    last_contacted_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    # Stamps of the speed-to-lead watchdog and the idle-lead escalation, so each fires once.
    response_alerted_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [("work_lead", "Contact, update and follow up the lead")]
        constraints = [
            models.CheckConstraint(condition=Q(budget_min__isnull=True) | Q(budget_max__isnull=True)
                                   | Q(budget_min__lte=models.F("budget_max")), name="lead_budget_range_ordered",
                                   violation_error_message="The budget's maximum is below its minimum."),
            models.CheckConstraint(condition=Q(satisfaction_score__isnull=True)
                                   | Q(satisfaction_score__gte=1, satisfaction_score__lte=5),
                                   name="lead_satisfaction_1_to_5",
                                   violation_error_message="Satisfaction is scored from 1 to 5."),
            models.CheckConstraint(condition=Q(stage__in=[choice.value for choice in Stage]),
                                   name="lead_stage_known"),
            models.UniqueConstraint(fields=["brokerage", "external_id"], condition=~Q(external_id=""),
                                    name="unique_lead_external_id"),
        ]
        indexes = [
            models.Index(fields=["brokerage", "stage", "last_contacted_at"], name="lead_sweep"),
            models.Index(fields=["brokerage", "assigned_agent", "stage"], name="lead_agent_stage"),
            models.Index(fields=["brokerage", "-created_at"], name="lead_recent"),
            models.Index(fields=["brokerage", "email"], name="lead_email"),
            models.Index(fields=["brokerage", "phone"], name="lead_phone"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.split() else self.name

    @property
    def response_minutes(self) -> int | None:
        if self.first_contacted_at is None:
            return None
        return max(0, int((self.first_contacted_at - self.created_at).total_seconds() // 60))


class LeadUserObjectPermission(UserObjectPermissionBase):
    """The assigned agent's hold on a lead (granted and withdrawn by the assignment service)."""

    content_object = models.ForeignKey(Lead, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        abstract = False


class LeadGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Lead, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        abstract = False


class Interaction(models.Model):
    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="interactions")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.OUTBOUND)
    occurred_at = models.DateTimeField()
    summary = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "-occurred_at"], name="interaction_timeline")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} with {self.lead_id} at {self.occurred_at:%Y-%m-%d %H:%M}"


class StageChange(models.Model):
    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    changed_at = models.DateTimeField()
    note = models.CharField(max_length=255, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["lead", "-changed_at"], name="stage_change_timeline")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '—'} → {self.to_stage}"


class SequenceType(models.TextChoices):
    NEW_LEAD = "new_lead", "New lead"
    INACTIVE_CLIENT = "inactive_client", "Inactive client"
    FOLLOW_UP = "follow_up", "Follow-up"


class NurturingSequence(models.Model):
    """The seed's `client_nurturing_sequences`. `steps` is a validated list (see `nurturing.steps`)."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="nurturing_sequences")
    name = models.CharField(max_length=255)
    sequence_type = models.CharField(max_length=20, choices=SequenceType.choices)
    steps = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brokerage", "name"], name="unique_sequence_name")]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    """A lead's place in a sequence. One row per lead and sequence: enrolling again resumes this row, so a step
    already sent is never sent twice."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"
        COMPLETED = "completed", "Completed"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="enrollments")
    sequence = models.ForeignKey(NurturingSequence, on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    stop_reason = models.CharField(max_length=255, blank=True)
    next_step = models.PositiveSmallIntegerField(default=0, help_text="Index of the next step to draft.")
    next_due_at = models.DateTimeField(null=True, blank=True)
    enrolled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    enrolled_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [models.UniqueConstraint(fields=["lead", "sequence"], name="unique_enrollment")]
        indexes = [models.Index(fields=["brokerage", "status", "next_due_at"], name="enrollment_due")]

    def __str__(self) -> str:
        return f"{self.lead_id} in {self.sequence_id} ({self.status})"


class FollowUp(models.Model):
    """A drafted message for a lead, waiting for its agent: the seed's generated follow-up (`lead_id, lead_name,
    content, suggested_send_date, priority`) with channel, reason and status."""

    class Reason(models.TextChoices):
        FORGOTTEN_LEAD = "forgotten_lead", "Forgotten lead"
        INACTIVE_CLIENT = "inactive_client", "Inactive client"
        SEQUENCE_STEP = "sequence_step", "Sequence step"
        AUTOMATION = "automation", "Automation"
        MANUAL = "manual", "Written by hand"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        APPROVED = "approved", "Approved, waiting to send"
        SENT = "sent", "Sent"
        DISMISSED = "dismissed", "Dismissed"
        FAILED = "failed", "Failed to send"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="followups")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="followups")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    subject = models.CharField(max_length=255, blank=True)
    content = models.TextField()
    suggested_send_date = models.DateField()
    priority = models.CharField(max_length=10, choices=Priority.choices, default=Priority.MEDIUM)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    engine = models.CharField(max_length=20, default="local", help_text="Which engine wrote the draft.")
    degraded = models.BooleanField(default=False, help_text="The model engine failed and the local one wrote it.")
    sequence = models.ForeignKey(NurturingSequence, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")
    step_index = models.PositiveSmallIntegerField(null=True, blank=True)
    dismiss_reason = models.CharField(max_length=255, blank=True)
    send_after = models.DateTimeField(null=True, blank=True, help_text="Approved sends wait for quiet hours to end.")
    error = models.CharField(max_length=255, blank=True)
    interaction = models.OneToOneField(Interaction, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="followup")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["suggested_send_date", "-id"]
        constraints = [
            # At most one open draft per lead and reason (sequence steps are told apart by step below).
            models.UniqueConstraint(fields=["lead", "reason"], condition=Q(status__in=["draft", "approved"])
                                    & Q(sequence__isnull=True), name="one_open_followup_per_reason"),
            models.UniqueConstraint(fields=["lead", "sequence", "step_index"], condition=Q(sequence__isnull=False),
                                    name="one_followup_per_sequence_step"),
        ]
        indexes = [
            models.Index(fields=["brokerage", "status", "agent"], name="followup_queue"),
            models.Index(fields=["brokerage", "status", "send_after"], name="followup_send_due"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} for {self.lead_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.APPROVED)


class WorkflowType(models.TextChoices):
    NURTURING = "nurturing", "Nurturing"
    FOLLOW_UP = "follow_up", "Follow-up"
    REPORTING = "reporting", "Reporting"


class WorkflowAutomation(models.Model):
    """The seed's `workflow_automation`: when `trigger_conditions` match a lead, run `actions` in order. Both
    JSON documents are validated against `nurturing.automation_schema`."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="workflow_automations")
    name = models.CharField(max_length=255)
    workflow_type = models.CharField(max_length=20, choices=WorkflowType.choices, default=WorkflowType.NURTURING)
    trigger_conditions = models.JSONField(default=dict)
    actions = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    # Round-robin assignment remembers whom it gave the last lead to.
    last_assigned_agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                            blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["brokerage", "name"], name="unique_automation_name")]

    def __str__(self) -> str:
        return self.name


class AutomationRun(models.Model):
    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Conditions not met"

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    automation = models.ForeignKey(WorkflowAutomation, on_delete=models.CASCADE, related_name="runs")
    lead = models.ForeignKey(Lead, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    trigger = models.CharField(max_length=30)
    status = models.CharField(max_length=10, choices=Status.choices)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.automation_id} on {self.lead_id}: {self.status}"


class LeadWebhook(models.Model):
    """A brokerage's inbound lead endpoint: senders post to its token URL and sign the body with its secret."""

    brokerage = models.OneToOneField(Brokerage, on_delete=models.CASCADE, related_name="lead_webhook")
    token = models.CharField(max_length=48, unique=True)
    secret = models.CharField(max_length=64)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(brokerage="brokerage")

    def __str__(self) -> str:
        return f"Lead webhook of {self.brokerage_id}"


# Homes have bedrooms; an office, a shop or a plot is described without them.
RESIDENTIAL_TYPES = (PropertyType.APARTMENT, PropertyType.VILLA, PropertyType.TOWNHOUSE, PropertyType.PENTHOUSE)
PERMIT_REQUIRED_MESSAGE = ("A listing can only be active or under offer with its advertising permit number "
                           "(Trakheesi / RERA). Add the permit number first.")
PERMIT_TAKEN_MESSAGE = "Another listing of the brokerage already has this permit number."


class ListingPurpose(models.TextChoices):
    SALE = "sale", "For sale"
    RENT = "rent", "For rent"


class ListingStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    UNDER_OFFER = "under_offer", "Under offer"
    SOLD = "sold", "Sold"
    RENTED = "rented", "Rented"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Listing(models.Model):
    """A property the brokerage markets (the seed's agent menu "Properties"). Facts may be missing while the
    listing is a draft; it is advertised (active or under offer) only with its advertising permit number, and
    `nurturing.services.listings.missing_fields` says which facts a description still lacks."""

    Purpose = ListingPurpose
    Status = ListingStatus

    # The statuses in which the property is advertised, so the permit number must be on it.
    ADVERTISED = (Status.ACTIVE, Status.UNDER_OFFER)

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="listings")
    listing_agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="listings")
    title = models.CharField(max_length=200)
    community = models.CharField(max_length=100, blank=True, help_text="e.g. Dubai Marina, JVC, Arabian Ranches.")
    building = models.CharField(max_length=120, blank=True, help_text="Tower or project, if any.")
    property_type = models.CharField(max_length=20, choices=PropertyType.choices, blank=True)
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.SALE)
    bedrooms = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0 for a studio.")
    bathrooms = models.PositiveSmallIntegerField(null=True, blank=True)
    size_sqft = models.PositiveIntegerField(null=True, blank=True, verbose_name="size (sq ft)")
    price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True, verbose_name="price (AED)",
                                help_text="The asking price; for a rental, the yearly rent.")
    features = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    permit_number = models.CharField(
        max_length=40, blank=True, verbose_name="advertising permit number",
        help_text="The Trakheesi / RERA advertising permit; needed before the listing goes active.",
        validators=[RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9/-]{3,39}$",
                                   "A permit number is 4 to 40 letters, digits, dashes or slashes, as printed on "
                                   "the permit.")])
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__isnull=True) | Q(price__gt=0), name="listing_price_positive",
                                   violation_error_message="The price must be more than zero."),
            models.CheckConstraint(condition=Q(bedrooms__isnull=True) | Q(bedrooms__gte=0, bedrooms__lte=50),
                                   name="listing_bedrooms_range",
                                   violation_error_message="Bedrooms go from 0 (a studio) to 50."),
            models.CheckConstraint(condition=Q(bathrooms__isnull=True) | Q(bathrooms__gte=0, bathrooms__lte=50),
                                   name="listing_bathrooms_range",
                                   violation_error_message="Bathrooms go from 0 to 50."),
            models.CheckConstraint(condition=Q(size_sqft__isnull=True) | Q(size_sqft__gt=0),
                                   name="listing_size_positive",
                                   violation_error_message="The size must be more than zero square feet."),
            models.CheckConstraint(condition=Q(status__in=ListingStatus.values), name="listing_status_known"),
            models.CheckConstraint(condition=~Q(status__in=[ListingStatus.ACTIVE, ListingStatus.UNDER_OFFER])
                                   | ~Q(permit_number=""), name="listing_advertised_needs_permit",
                                   violation_error_message=PERMIT_REQUIRED_MESSAGE),
            models.CheckConstraint(condition=~Q(status=ListingStatus.SOLD) | Q(purpose=ListingPurpose.SALE),
                                   name="listing_sold_is_for_sale",
                                   violation_error_message="Only a listing for sale can be sold; a rental is "
                                                           "rented."),
            models.CheckConstraint(condition=~Q(status=ListingStatus.RENTED) | Q(purpose=ListingPurpose.RENT),
                                   name="listing_rented_is_for_rent",
                                   violation_error_message="Only a listing for rent can be rented; a sale is "
                                                           "sold."),
            models.UniqueConstraint(fields=["brokerage", "permit_number"], condition=~Q(permit_number=""),
                                    name="unique_listing_permit", violation_error_message=PERMIT_TAKEN_MESSAGE),
        ]
        indexes = [
            models.Index(fields=["brokerage", "status", "community"], name="listing_status_community"),
            models.Index(fields=["brokerage", "listing_agent", "status"], name="listing_agent_status"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_residential(self) -> bool:
        return self.property_type in RESIDENTIAL_TYPES


class ListingPhoto(models.Model):
    """One photo of a listing; `position` orders them and the first is the cover."""

    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(upload_to="listings/photos/%Y/%m/")
    position = models.PositiveSmallIntegerField(default=0)
    caption = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["listing", "position"], name="listing_photo_order")]

    def __str__(self) -> str:
        return f"Photo {self.position + 1} of {self.listing_id}"
