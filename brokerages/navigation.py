"""The role-based menus of the seed's Navigation component.

Each item names the permission it needs, so a menu never links to a page that would answer 403.
"""

from dataclasses import dataclass

from django.urls import reverse

from .models import Role


@dataclass(frozen=True)
class MenuItem:
    label: str
    url_name: str
    perm: str

    @property
    def url(self) -> str:
        return reverse(self.url_name)


MENUS: dict[str, tuple[MenuItem, ...]] = {
    Role.BROKERAGE_OWNER: (
        MenuItem("Dashboard", "analytics:dashboard", "view_team_performance"),
        MenuItem("Team Performance", "analytics:team", "view_team_performance"),
        MenuItem("Lead Analytics", "analytics:leads", "view_team_performance"),
        MenuItem("Reports", "analytics:reports", "view_team_performance"),
        MenuItem("Leads", "nurturing:leads", "work_leads"),
        MenuItem("Follow-up queue", "nurturing:followups", "work_leads"),
        MenuItem("Sequences", "nurturing:sequences", "manage_nurturing"),
        MenuItem("Automations", "nurturing:automations", "manage_nurturing"),
        MenuItem("Import leads", "nurturing:import", "manage_leads"),
        MenuItem("Export CSV", "nurturing:exports", "work_leads"),
        MenuItem("Lead webhook", "nurturing:lead_webhook_settings", "manage_nurturing"),
        MenuItem("Team coaching", "coaching:team", "manage_coaching"),
        MenuItem("Live escalations", "coaching:escalations", "manage_coaching"),
        MenuItem("Coaching ROI", "coaching:metrics", "view_team_performance"),
        MenuItem("Properties", "nurturing:listings", "work_leads"),
        MenuItem("Knowledge Base", "copilot:knowledge", "view_knowledge_base"),
        MenuItem("Unanswered questions", "copilot:mentor_gaps", "manage_knowledge_base"),
        MenuItem("Templates", "copilot:templates", "manage_brokerage"),
        MenuItem("Compliance rules", "copilot:compliance_rules", "manage_brokerage"),
        MenuItem("Brand Management", "brokerages:branding", "manage_brokerage"),
        MenuItem("Compliance", "brokerages:audit_log", "view_audit_log"),
        MenuItem("Team", "brokerages:team", "manage_brokerage"),
        MenuItem("Brokerage", "brokerages:profile", "manage_brokerage"),
        MenuItem("Settings", "brokerages:settings", "manage_brokerage"),
        MenuItem("API keys", "brokerages:api_keys", "manage_brokerage"),
        MenuItem("Webhooks", "brokerages:webhooks", "manage_brokerage"),
        MenuItem("Data export", "brokerages:data_exports", "manage_brokerage"),
    ),
    Role.AGENT: (
        MenuItem("My Dashboard", "home", "view_brokerage"),
        MenuItem("Agent Co-Pilot", "copilot:copilot", "view_knowledge_base"),
        MenuItem("Live coaching", "coaching:live", "use_coaching"),
        MenuItem("My performance", "coaching:performance", "use_coaching"),
        MenuItem("My training plan", "coaching:training", "use_coaching"),
        MenuItem("Leads", "nurturing:leads", "work_leads"),
        MenuItem("Properties", "nurturing:listings", "work_leads"),
        MenuItem("Knowledge Base", "copilot:knowledge", "view_knowledge_base"),
        MenuItem("Assistant runs & reports", "copilot:assistant_runs", "use_workflow_automation"),
        MenuItem("Smart Nurturing", "nurturing:followups", "work_leads"),
        MenuItem("Sequences", "nurturing:sequences", "use_workflow_automation"),
        MenuItem("Automations", "nurturing:automations", "use_workflow_automation"),
        MenuItem("Export CSV", "nurturing:exports", "work_leads"),
    ),
    Role.SUPPORT_STAFF: (
        MenuItem("Dashboard", "home", "view_brokerage"),
        MenuItem("Team Performance", "analytics:team", "view_team_performance"),
        MenuItem("Lead Analytics", "analytics:leads", "view_team_performance"),
        MenuItem("Leads", "nurturing:leads", "work_leads"),
        MenuItem("Follow-up queue", "nurturing:followups", "work_leads"),
        MenuItem("Import leads", "nurturing:import", "manage_leads"),
        MenuItem("Export CSV", "nurturing:exports", "work_leads"),
        MenuItem("Team coaching", "coaching:team", "manage_coaching"),
        MenuItem("Live escalations", "coaching:escalations", "manage_coaching"),
        MenuItem("Properties", "nurturing:listings", "work_leads"),
        MenuItem("Knowledge Base", "copilot:knowledge", "view_knowledge_base"),
        MenuItem("Unanswered questions", "copilot:mentor_gaps", "manage_knowledge_base"),
        MenuItem("Check a text", "copilot:compliance_check", "view_knowledge_base"),
    ),
}


def menu_for(user, perms: frozenset[str]) -> list[MenuItem]:
    return [item for item in MENUS.get(user.role, ()) if item.perm in perms]
