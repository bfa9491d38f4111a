"""The registry of brokerage settings: every key a brokerage may set, with its type, default and validation.

A setting not stored for a brokerage reads as its default. Values are stored as text in `BrokerageSetting` and
converted through the spec on the way in (`parse`) and out (`load`).
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    type: str  # "int", "bool", "choice", "time"
    default: Any
    help_text: str = ""
    section: str = "General"
    min_value: int | None = None
    max_value: int | None = None
    choices: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    # For an int that 0 switches off (e.g. "keep forever"): blank reads as 0, and any other value must be at
    # least this. `min_value` stays 0 so that the settings form's number field accepts the 0.
    min_when_on: int | None = None

    def parse(self, raw: Any) -> Any:
        """Turn user input (form text, JSON value) into the typed value, or raise ValidationError."""
        if self.type == "int":
            if isinstance(raw, bool):
                raise ValidationError(f"{self.label} must be a whole number.")
            if self.min_when_on is not None and (raw is None or str(raw).strip() == ""):
                return 0
            try:
                value = int(str(raw).strip())
            except (TypeError, ValueError):
                raise ValidationError(f"{self.label} must be a whole number.") from None
            if self.min_when_on is not None and 0 < value < self.min_when_on:
                raise ValidationError(f"{self.label} must be 0 (off) or at least {self.min_when_on}.")
            if self.min_value is not None and value < self.min_value:
                raise ValidationError(f"{self.label} must be at least {self.min_value}.")
            if self.max_value is not None and value > self.max_value:
                raise ValidationError(f"{self.label} must be at most {self.max_value}.")
            return value
        if self.type == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"true", "1", "yes", "on"}:
                return True
            if text in {"false", "0", "no", "off", ""}:
                return False
            raise ValidationError(f"{self.label} must be true or false.")
        if self.type == "choice":
            value = str(raw).strip()
            allowed = [key for key, _ in self.choices]
            if value not in allowed:
                raise ValidationError(f"{self.label} must be one of: {', '.join(allowed)}.")
            return value
        if self.type == "time":
            if isinstance(raw, dt.time):
                return raw.replace(second=0, microsecond=0)
            try:
                return dt.time.fromisoformat(str(raw).strip()).replace(second=0, microsecond=0)
            except ValueError:
                raise ValidationError(f"{self.label} must be a time such as 21:00.") from None
        raise ValueError(f"Unknown setting type {self.type!r}")

    def dump(self, value: Any) -> str:
        if self.type == "bool":
            return "true" if value else "false"
        if self.type == "time":
            return value.strftime("%H:%M")
        return str(value)

    def load(self, stored: str) -> Any:
        """Read a stored value; a value that no longer validates (the spec changed) reads as the default."""
        try:
            return self.parse(stored)
        except ValidationError:
            return self.default


COACHING_INTENSITIES = (
    ("LIGHT_TOUCH", "Light touch — only critical issues"),
    ("MODERATE", "Moderate — critical issues and low quality scores"),
    ("INTENSIVE", "Intensive — high and critical priority issues"),
    ("CRITICAL", "Critical — every opportunity, with manager escalation"),
)
AI_PROVIDERS = (
    ("default", "Platform default"),
    ("local", "Local engine (offline)"),
    ("anthropic", "Claude (Anthropic)"),
    ("gemini", "Gemini (Google)"),
)
TIMEZONES = tuple(
    (name, name)
    for name in ("Asia/Dubai", "Asia/Riyadh", "Asia/Qatar", "Asia/Bahrain", "Asia/Kuwait", "Asia/Muscat",
                 "Europe/London", "UTC")
    if name in zoneinfo.available_timezones() or name == "UTC"
)

SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("timezone", "Brokerage time zone", "choice", "Asia/Dubai",
                "Days, quiet hours and reports follow this clock.", "General", choices=TIMEZONES),
    SettingSpec("forgotten_lead_days", "Forgotten lead after (days)", "int", 7,
                "An open lead with no contact for this many days is flagged and gets a follow-up draft.",
                "Nurturing", 1, 365),
    SettingSpec("inactive_client_days", "Inactive client after (days)", "int", 90,
                "A past client with no contact for this many days gets a check-in draft.", "Nurturing", 7, 1095),
    SettingSpec("response_time_target_minutes", "Speed-to-lead target (minutes)", "int", 5,
                "A new lead should be contacted within this time.", "Nurturing", 1, 1440),
    SettingSpec("escalation_minutes", "Escalate to owner after (minutes)", "int", 60,
                "An uncontacted new lead is escalated to the owner after this time.", "Nurturing", 5, 10080),
    SettingSpec("quiet_hours_start", "Quiet hours start", "time", dt.time(21, 0),
                "No automated message is sent between quiet hours start and end.", "Nurturing"),
    SettingSpec("quiet_hours_end", "Quiet hours end", "time", dt.time(8, 0), "", "Nurturing"),
    SettingSpec("default_coaching_intensity", "Default coaching intensity", "choice", "MODERATE",
                "Intensity of new coaching sessions unless the owner picks another.", "Coaching",
                choices=COACHING_INTENSITIES),
    SettingSpec("training_minutes_per_week", "Training time per agent (minutes a week)", "int", 120,
                "Time an agent sets aside for training modules; training plans are sized to fit it.", "Coaching",
                15, 1200),
    # The ROI assumptions of the coaching metrics: every figure of the ROI page says which of these it used.
    SettingSpec("coaching_review_minutes_per_conversation", "Manual review time per conversation (minutes)", "int",
                30, "How long a manager would spend reviewing one conversation by hand; each conversation the "
                "engine analyses saves this much.", "Coaching", 1, 240),
    SettingSpec("coaching_reviewer_hourly_cost_aed", "Reviewer's hourly cost (AED)", "int", 200,
                "What an hour of the manager who would review conversations costs the brokerage.", "Coaching",
                0, 100_000),
    SettingSpec("coaching_platform_monthly_cost_aed", "Coaching cost per month (AED)", "int", 2000,
                "What coaching costs the brokerage each month (subscription, AI usage); the ROI divides by it.",
                "Coaching", 0, 10_000_000),
    SettingSpec("ai_provider", "AI provider", "choice", "default",
                "Which engine writes answers and drafts; the local engine works offline.", "AI",
                choices=AI_PROVIDERS),
    SettingSpec("weekly_report_enabled", "E-mail the weekly team report", "bool", True,
                "Every Monday morning each owner receives the team performance report of the past seven days "
                "as a PDF. Turn off to stop these e-mails.", "Analytics"),
    # Data rights (coaching.services.retention, brokerages.data_rights, brokerages.exports): each nightly run of
    # the data retention task applies them.
    SettingSpec("transcript_retention_days", "Keep conversation transcripts for (days)", "int", 0,
                "The words of coaching conversations that ended longer ago than this are removed; scores, "
                "findings, alerts and metrics stay. 0 keeps transcripts forever; otherwise at least 30 days.",
                "Data retention", 0, 3650, min_when_on=30),
    SettingSpec("webhook_delivery_retention_days", "Keep webhook delivery logs for (days)", "int", 30,
                "Finished webhook deliveries (their payloads and responses) older than this are deleted. "
                "0 keeps them forever; otherwise at least 7 days.", "Data retention", 0, 3650, min_when_on=7),
    SettingSpec("data_export_retention_days", "Keep data export archives for (days)", "int", 7,
                "A data export archive can be downloaded for this many days after it is ready, then it is "
                "deleted.", "Data retention", 1, 30),
)

REGISTRY: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}


def get_spec(key: str) -> SettingSpec:
    try:
        return REGISTRY[key]
    except KeyError:
        raise ValidationError(f"Unknown setting {key!r}.") from None
