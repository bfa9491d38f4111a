"""The assistant's automation pages: run an automation (the Assistant tab's opportunity buttons, and the forms
of the runs page), the agent's automation history, and one run to review — edit the text, see the compliance
findings, approve or discard, download the PDF.

Everything here needs `use_workflow_automation`; a run is seen and reviewed by the agent who ran it only
(another member: 403, another brokerage's run: 404). The rules live in `copilot.assistant.automations`.
"""

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import tenant_view
from nurturing.selectors.listings import ListingFilters, listings

from .assistant import automations
from .assistant.automations import assistant_run_get, can_review_run
from .forms_runs import AutomateForm, GenerateForm, ReportForm, RunEditForm
from .models import AssistantRun, AutomationType

ASSISTANT_PERM = "use_workflow_automation"
RUNS_PER_PAGE = 25
_run_view = tenant_view(ASSISTANT_PERM, lookup=assistant_run_get, allow=can_review_run)


def _fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _form_errors(form) -> list[str]:
    return [f"{form.fields[name].label}: {message}" if name in form.fields else message
            for name, errors in form.errors.items() for message in errors]


def _own_listings(request):
    return listings(request.brokerage, request.user, request_perms(request), ListingFilters(mine=True))


def _runs_page(request, *, errors=(), generate_form=None, report_form=None, status=200):
    page = Paginator(automations.assistant_runs(request.brokerage, request.user), RUNS_PER_PAGE).get_page(
        request.GET.get("page"))
    return render(request, "copilot/runs/list.html", {
        "page": page, "errors": errors, "report_form": report_form or ReportForm(),
        "generate_form": generate_form or GenerateForm(listings=_own_listings(request))}, status=status)


@tenant_view(ASSISTANT_PERM)
def runs(request):
    return _runs_page(request)


def _requested(request) -> tuple[str, dict, dict, list[str]]:
    """(type, parameters, forms, errors) from the post: an opportunity button's JSON parameters, or one of the
    runs page's forms (returned to be shown again when something is wrong)."""
    kind = request.POST.get("type", "")
    if kind == AutomationType.CONTENT_GENERATION and "parameters" not in request.POST:
        form, name = GenerateForm(request.POST, listings=_own_listings(request)), "generate_form"
    elif kind == AutomationType.REPORT_CREATION and "parameters" not in request.POST:
        form, name = ReportForm(request.POST), "report_form"
    else:
        form = AutomateForm(request.POST)
        if not form.is_valid():
            return kind, {}, {}, _form_errors(form)
        return form.cleaned_data["type"], form.cleaned_data["parameters"], {}, []
    if not form.is_valid():
        return kind, {}, {name: form}, _form_errors(form)
    return kind, form.parameters(), {name: form}, []


@tenant_view(ASSISTANT_PERM)
@require_POST
def automate(request):
    """Run an automation. htmx gets the run's card (or why it was refused, with status 200 so it is swapped
    in); a plain post goes to the run's page, or back to the runs page with the reason (400)."""
    kind, parameters, forms, errors = _requested(request)
    if not errors:
        try:
            run = automations.automation_run(brokerage=request.brokerage, actor=request.user,
                                             automation_type=kind, parameters=parameters)
        except ValidationError as error:
            errors = error.messages
    if errors:
        if _fragment(request):
            return render(request, "copilot/runs/partials/refused.html", {"errors": errors})
        return _runs_page(request, errors=errors, status=400, **forms)
    if _fragment(request):
        return render(request, "copilot/runs/partials/run_card.html", {"run": run})
    return redirect("copilot:assistant_run", pk=run.pk)


def _run_page(request, run: AssistantRun, *, edit_form=None, errors=(), status=200):
    context = {"run": run, "compliance": automations.run_compliance(run), "errors": errors,
               "edit_form": edit_form or RunEditForm(initial={"text": run.text}),
               # "Generate again" posts the run's own parameters, as an opportunity button does.
               "again": json.dumps(run.inputs) if run.is_content else ""}
    template = "copilot/runs/detail.html#review" if _fragment(request) else "copilot/runs/detail.html"
    # htmx swaps in only successful responses: a refusal is shown in the fragment with 200.
    return render(request, template, context, status=200 if _fragment(request) else status)


@_run_view
def run_detail(request, obj):
    return _run_page(request, obj)


def _review(request, run: AssistantRun, action, done: str, *, edit_form=None):
    try:
        run = action()
    except ValidationError as error:  # nothing was saved: the page shows the run as it was, and why
        return _run_page(request, run, edit_form=edit_form, errors=error.messages, status=400)
    if _fragment(request):
        return _run_page(request, run)
    messages.success(request, done)
    return redirect("copilot:assistant_run", pk=run.pk)


@_run_view
@require_POST
def run_edit(request, obj):
    form = RunEditForm(request.POST)
    if not form.is_valid():
        return _run_page(request, obj, edit_form=form, errors=_form_errors(form), status=400)
    return _review(request, obj, lambda: automations.assistant_run_edit(
        brokerage=request.brokerage, actor=request.user, run=obj, text=form.cleaned_data["text"]),
        "Your version is saved and checked again.", edit_form=form)


@_run_view
@require_POST
def run_approve(request, obj):
    def approve():
        return automations.assistant_run_approve(brokerage=request.brokerage, actor=request.user, run=obj)

    return _review(request, obj, approve, "Approved.")


@_run_view
@require_POST
def run_discard(request, obj):
    def discard():
        return automations.assistant_run_discard(brokerage=request.brokerage, actor=request.user, run=obj)

    return _review(request, obj, discard, "Discarded.")


@_run_view
def run_pdf(request, obj):
    """The run's PDF, to the agent who ran it only (the file has no public address)."""
    if not obj.report_file:
        raise Http404("This run has no PDF.")
    response = FileResponse(obj.report_file.open("rb"), as_attachment=True, content_type="application/pdf",
                            filename=obj.output.get("filename") or "report.pdf")
    response["Cache-Control"] = "private, no-store"
    return response
