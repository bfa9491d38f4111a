"""The coaching records in the Django admin, for system admins looking across brokerages (the middleware
disables tenant scoping under /admin/).

Read-only: every coaching record is written by a service that keeps counters, alerts and the audit log
consistent (a conversation's messages and analysis, a session's counters, an alert's delivery), and the training
library is maintained by data migrations, so the admin shows them and changes nothing.
"""

from django.contrib import admin

from brokerages.admin import ReadOnlyAdminMixin

from .models import CoachingAlert, CoachingSession, Conversation, Message, TrainingModule, TrainingPlan, \
    TrainingPlanItem


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    fields = ("position", "speaker", "text", "sent_at")
    readonly_fields = fields
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdmin):
    list_display = ("pk", "brokerage", "agent", "lead", "channel", "started_at", "ended_at", "message_count",
                    "quality_score", "analysis_engine", "analysis_degraded")
    list_filter = ("channel", "analysis_engine", "analysis_degraded", "brokerage")
    list_select_related = ("brokerage", "agent", "lead")
    search_fields = ("external_id", "agent__email")
    date_hierarchy = "started_at"
    inlines = [MessageInline]


@admin.register(CoachingSession)
class CoachingSessionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "brokerage", "agent", "status", "intensity", "started_at", "ended_at",
                    "conversations_monitored", "coaching_alerts_sent", "baseline_quality_score",
                    "current_quality_score")
    list_filter = ("status", "intensity", "brokerage")
    list_select_related = ("brokerage", "agent")
    search_fields = ("agent__email",)


@admin.register(CoachingAlert)
class CoachingAlertAdmin(ReadOnlyAdmin):
    list_display = ("pk", "brokerage", "agent", "priority", "area", "code", "title", "escalated", "created_at",
                    "acknowledged_at")
    list_filter = ("priority", "area", "alert_type", "escalated", "brokerage")
    list_select_related = ("brokerage", "agent")
    search_fields = ("code", "title", "agent__email")


@admin.register(TrainingModule)
class TrainingModuleAdmin(ReadOnlyAdmin):
    list_display = ("key", "title", "area", "level", "duration_minutes", "brokerage", "is_active")
    list_filter = ("area", "level", "is_active", "brokerage")
    search_fields = ("key", "title")


class TrainingPlanItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TrainingPlanItem
    fields = ("position", "module", "status", "started_at", "completed_at")
    readonly_fields = fields
    extra = 0


@admin.register(TrainingPlan)
class TrainingPlanAdmin(ReadOnlyAdmin):
    list_display = ("pk", "brokerage", "agent", "status", "created_at", "target_completion_date", "engine",
                    "degraded")
    list_filter = ("status", "engine", "brokerage")
    list_select_related = ("brokerage", "agent")
    inlines = [TrainingPlanItemInline]
