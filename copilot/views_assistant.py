"""The Co-Pilot page with its two modes as tabs of one page — the On-Demand Mentor and the Agentic Assistant —
and the assistant's "Analyze my workflow".

Both panels are rendered on every load, so switching tabs (a small script, or plain links without it) never
loses the mentor's answer or the assistant's analysis. `/copilot/` opens the mentor, `/copilot/assistant/` (or
`/copilot/?tab=assistant`) the assistant.
"""

from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import form_error, tenant_view
from nurturing.selectors.leads import assignable_agents

from . import selectors
from .assistant import analysis_subject, analyze_workflow
from .assistant.analysis import ANALYSE_OTHERS_PERM
from .assistant.forms import AnalyzeForm
from .forms import AskForm

ASSISTANT_PERM = "use_workflow_automation"
TABS = ("mentor", "assistant")


def _analyze_form(request, data=None) -> AnalyzeForm:
    may_pick = ANALYSE_OTHERS_PERM in request_perms(request)
    return AnalyzeForm(data, agents=assignable_agents(request.brokerage) if may_pick else ())


def copilot_page(request, *, tab: str, analysis=None, analyze_form=None, status: int = 200):
    """The whole page, opened on `tab` (the mentor when the tab is unknown or the role has no assistant)."""
    can_assist = ASSISTANT_PERM in request_perms(request)
    if tab not in TABS or (tab == "assistant" and not can_assist):
        tab = "mentor"
    context = {"tab": tab, "can_assist": can_assist, "form": AskForm(),
               "history": selectors.mentor_history(request.brokerage, request.user)}
    if can_assist:
        context.update(analysis=analysis, analyze_form=analyze_form or _analyze_form(request),
                       may_pick_agent=ANALYSE_OTHERS_PERM in request_perms(request))
    return render(request, "copilot/copilot.html", context, status=status)


@tenant_view(ASSISTANT_PERM)
def assistant(request):
    return copilot_page(request, tab="assistant")


@tenant_view(ASSISTANT_PERM)
@require_POST
def assistant_analyze(request):
    """htmx: the analysis fragment; without JavaScript: the page on the assistant tab with the analysis."""
    form = _analyze_form(request, request.POST)
    analysis = None
    if form.is_valid():
        agent = analysis_subject(brokerage=request.brokerage, actor=request.user, perms=request_perms(request),
                                 agent_id=form.agent_id())
        try:
            analysis = analyze_workflow(brokerage=request.brokerage, agent=agent, viewer=request.user,
                                        analysis_type=form.cleaned_data["analysis_type"])
        except ValidationError as error:
            form_error(form, error)
    if request.htmx and not request.htmx.boosted:
        # 200 even for a refused request: htmx swaps in only successful responses, and the fragment shows why.
        return render(request, "copilot/partials/assistant_analysis.html", {"analysis": analysis, "analyze_form": form})
    return copilot_page(request, tab="assistant", analysis=analysis, analyze_form=form,
                        status=200 if analysis is not None else 400)
