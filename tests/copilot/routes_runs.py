"""Isolation cases of the assistant's automations: running one (page and API), the runs pages, a run's review
and its PDF need `use_workflow_automation` (owners and agents; support staff get 403). A run is its agent's:
another brokerage's run answers 404 (below), a colleague's 403 (tests/copilot/test_assistant_automations.py)."""

from django.core.files.base import ContentFile

from copilot.models import AssistantRun
from tests.isolation import AGENT, OWNER, Case

ASSISTANT_USERS = frozenset({OWNER, AGENT})


def report_run(tenant, member) -> dict:
    """A report run of `member` with its PDF (the bytes are a stand-in: drawing a real one is tested elsewhere)."""
    run = AssistantRun(brokerage=tenant.brokerage, agent=member, automation_type="report_creation",
                       status="succeeded", inputs={"report": "agent_weekly"}, engine="local",
                       output={"report": "agent_weekly", "report_label": "Agent weekly report", "title": "Agent report",
                               "filename": "report.pdf", "has_data": False})
    run.report_file.save("report.pdf", ContentFile(b"%PDF-1.7 stand-in"), save=False)
    run.save()
    return {"pk": run.pk}


ROUTES = {
    "copilot:assistant_automate": [Case(ASSISTANT_USERS, ("POST",), data={"type": "report_creation",
                                                                          "parameters": '{"report": "weekly"}'})],
    "copilot:assistant_runs": [Case(ASSISTANT_USERS)],
    "copilot:assistant_run": [Case(ASSISTANT_USERS, objects=report_run)],
    "copilot:assistant_run_edit": [Case(ASSISTANT_USERS, ("POST",), objects=report_run, data={"text": "New"})],
    "copilot:assistant_run_approve": [Case(ASSISTANT_USERS, ("POST",), objects=report_run)],
    "copilot:assistant_run_discard": [Case(ASSISTANT_USERS, ("POST",), objects=report_run)],
    "copilot:assistant_run_pdf": [Case(ASSISTANT_USERS, objects=report_run)],
    "api-assistant-automate": [Case(ASSISTANT_USERS, ("POST",), api=True)],
    "api-assistant-runs": [Case(ASSISTANT_USERS, ("GET",), api=True)],
    "api-assistant-run": [Case(ASSISTANT_USERS, ("GET",), objects=report_run, api=True)],
}
