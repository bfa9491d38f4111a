"""Isolation cases of the Agentic Assistant: the Assistant tab and "Analyze my workflow" (page and API) need
`use_workflow_automation` (owners and agents; support staff get 403). Analysing another brokerage's member
answers 404 — in tests/copilot/test_assistant_page.py, since the member is named in the body, not the URL."""

from tests.isolation import AGENT, OWNER, Case

ASSISTANT_USERS = frozenset({OWNER, AGENT})

ROUTES = {
    "copilot:assistant": [Case(ASSISTANT_USERS)],
    "copilot:assistant_analyze": [Case(ASSISTANT_USERS, ("POST",), data={"analysis_type": "workflow_efficiency"})],
    "api-assistant-analyze": [Case(ASSISTANT_USERS, ("POST",), api=True)],
}
