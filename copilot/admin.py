"""The co-pilot's records in the Django admin, for system admins looking across brokerages (the middleware
disables tenant scoping under /admin/)."""

from django.contrib import admin

from brokerages.admin import ReadOnlyAdminMixin

from .models import AssistantRun, BrokerageTemplate, ComplianceRule


# Read-only: owners change templates and rules on their Quality pages, through services that validate the
# skeleton's placeholders and write the audit log.
@admin.register(BrokerageTemplate)
class BrokerageTemplateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("brokerage", "kind", "updated_by", "updated_at")
    list_filter = ("kind", "brokerage")
    list_select_related = ("brokerage", "updated_by")
    fields = ("brokerage", "kind", "text", "updated_by", "updated_at")
    readonly_fields = fields


@admin.register(ComplianceRule)
class ComplianceRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "brokerage", "kind", "element", "pattern", "applies_to", "is_active")
    list_filter = ("kind", "element", "applies_to", "is_active", "brokerage")
    list_select_related = ("brokerage",)
    search_fields = ("name", "pattern", "brokerage__name")
    fields = ("brokerage", "kind", "name", "element", "pattern", "applies_to", "is_active", "explanation",
              "created_at", "updated_at")
    readonly_fields = fields


# Read-only: runs are logged by the assistant's automation service and reviewed by their agent on the runs pages.
# The PDF is not linked: it lives in private storage and is served only to the agent who ran it.
@admin.register(AssistantRun)
class AssistantRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "brokerage", "agent", "automation_type", "status", "engine", "degraded", "created_at")
    list_filter = ("automation_type", "status", "engine", "degraded", "brokerage")
    list_select_related = ("brokerage", "agent")
    search_fields = ("agent__email", "brokerage__name", "error")
    date_hierarchy = "created_at"
    fields = ("brokerage", "agent", "automation_type", "status", "engine", "degraded", "error", "inputs", "output",
              "edited_text", "created_at", "updated_at", "reviewed_at")
    readonly_fields = fields
