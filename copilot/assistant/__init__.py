"""The Agentic Assistant, the co-pilot's second mode: where the mentor teaches, the assistant looks at the agent's
real workload, says what to fix first (`analyze_workflow`) and offers the automations that do the busywork."""

from .analysis import ANALYSIS_TYPES, analysis_subject, analyze_workflow
from .opportunities import LEAD_FOLLOWUP_REASONS, FollowupReason
from .types import AssistantAnalysis, AutomationOpportunity, Recommendation

__all__ = ["ANALYSIS_TYPES", "LEAD_FOLLOWUP_REASONS", "AssistantAnalysis", "AutomationOpportunity", "FollowupReason",
           "Recommendation", "analysis_subject", "analyze_workflow"]
