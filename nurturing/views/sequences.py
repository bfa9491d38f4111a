"""Pages: nurturing sequences (owners build them; agents see the active ones and enrol their leads) and the
enrolment controls, which the lead page embeds through `templates/nurturing/partials/lead_enrollments.html`."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import form_error, tenant_view

from ..forms.sequences import (
    EnrolInSequenceForm,
    EnrolLeadForm,
    LeadSearchForm,
    StopForm,
    sequence_form,
    step_formset,
)
from ..models import Channel, Enrollment
from ..permissions import can_work_lead, can_work_lead_of
from ..selectors import sequences as selectors
from ..selectors.leads import lead_get
from ..services import sequences as services
from ..steps import MERGE_FIELDS

ENROLLMENTS_PAGE_SIZE = 25
# The lead page's enrolment panel; an htmx action aimed at it gets the panel back rather than a table row.
LEAD_PANEL_ID = "lead-enrollments"


def _can_manage(request) -> bool:
    return "manage_nurturing" in request_perms(request)


def _visible_sequence(request, obj):
    """Agents see the active sequences only; a switched-off one does not exist for them."""
    if not obj.is_active and not _can_manage(request):
        raise Http404("No such sequence.")
    return obj


def _next_url(request, fallback: str) -> str:
    """Where to go back to after a form post: the posted `next` when it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return fallback


def _is_fragment(request) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


@tenant_view("use_workflow_automation")
def sequence_list(request):
    can_manage = _can_manage(request)
    return render(request, "nurturing/sequence_list.html", {
        "sequences": selectors.sequences(request.brokerage, active_only=not can_manage), "can_manage": can_manage})


def _editor(request, form, formset, sequence=None):
    return render(request, "nurturing/sequence_form.html", {
        "form": form, "formset": formset, "sequence": sequence, "merge_fields": MERGE_FIELDS,
        "running": selectors.running_count(sequence) if sequence else 0})


def _save(request, form, formset, save):
    """Validate the sequence and its steps and hand them to `save(**fields)`; None when the page shows errors."""
    if "add_step" in request.POST or not (form.is_valid() and formset.is_valid()):
        return None
    try:
        return save(**form.cleaned_data, steps=formset.steps)
    except ValidationError as error:
        form_error(form, error)
        return None


@tenant_view("manage_nurturing")
def sequence_new(request):
    if request.method != "POST":
        return _editor(request, sequence_form(), step_formset())
    adding = "add_step" in request.POST
    form, formset = sequence_form(request.POST, add_row=adding), step_formset(request.POST, add_row=adding)
    created = _save(request, form, formset, lambda **fields: services.sequence_create(
        brokerage=request.brokerage, actor=request.user, **fields))
    if created is None:
        return _editor(request, form, formset)
    messages.success(request, f"“{created.name}” is saved with {len(created.steps)} "
                              f"step{'s' if len(created.steps) != 1 else ''}.")
    return redirect("nurturing:sequence", pk=created.pk)


@tenant_view("manage_nurturing", lookup=selectors.sequence_get)
def sequence_edit(request, obj):
    if request.method != "POST":
        form = sequence_form(initial={"name": obj.name, "sequence_type": obj.sequence_type,
                                      "is_active": obj.is_active})
        return _editor(request, form, step_formset(steps=obj.steps), obj)
    adding = "add_step" in request.POST
    form, formset = sequence_form(request.POST, add_row=adding), step_formset(request.POST, add_row=adding)
    saved = _save(request, form, formset, lambda **fields: services.sequence_update(
        brokerage=request.brokerage, actor=request.user, sequence=obj, data=fields))
    if saved is None:
        return _editor(request, form, formset, obj)
    messages.success(request, f"“{saved.name}” is saved.")
    return redirect("nurturing:sequence", pk=saved.pk)


@tenant_view("manage_nurturing", lookup=selectors.sequence_get)
@require_POST
def sequence_toggle(request, obj):
    sequence = services.sequence_set_active(brokerage=request.brokerage, actor=request.user, sequence=obj,
                                            is_active=not obj.is_active)
    messages.success(request, f"“{sequence.name}” is {'on' if sequence.is_active else 'off'}."
                     + ("" if sequence.is_active else " Its enrolments wait where they are until it is on again."))
    return redirect("nurturing:sequence", pk=sequence.pk)


@tenant_view("use_workflow_automation", lookup=selectors.sequence_get)
def sequence_detail(request, obj):
    sequence = _visible_sequence(request, obj)
    perms = request_perms(request)
    search = LeadSearchForm(request.GET or None)
    query = search.cleaned_data["q"] if search.is_valid() else ""
    context = {"sequence": sequence, "search": search, "query": query, "can_manage": _can_manage(request),
               "candidates": selectors.enrollable_leads(request.brokerage, request.user, perms, sequence, q=query)
               if sequence.is_active else []}
    if _is_fragment(request):
        return render(request, "nurturing/sequence_detail.html#lead_picker", context)
    page = Paginator(selectors.sequence_enrollments(request.brokerage, sequence, request.user, perms),
                     ENROLLMENTS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "nurturing/sequence_detail.html", {
        **context, "page": page, "merge_fields": MERGE_FIELDS, "steps": _step_rows(sequence.steps)})


def _step_rows(steps: list[dict]) -> list[dict]:
    """The steps as the page lists them: numbered from 1, with the day after enrolment each falls on."""
    rows, day = [], 0
    for number, step in enumerate(steps, start=1):
        day += step["delay_days"]
        rows.append({**step, "number": number, "day": day, "channel_label": Channel(step["channel"]).label})
    return rows


@tenant_view("use_workflow_automation", lookup=selectors.sequence_get)
@require_POST
def sequence_enrol(request, obj):
    sequence = _visible_sequence(request, obj)
    back = _next_url(request, reverse("nurturing:sequence", kwargs={"pk": sequence.pk}))
    form = EnrolLeadForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick a lead to enrol.")
        return redirect(back)
    lead = lead_get(request.brokerage, form.cleaned_data["lead"])
    if not can_work_lead(request.user, request_perms(request), lead):
        raise PermissionDenied("You can only enrol leads you work.")
    try:
        enrollment = services.enrollment_enrol(brokerage=request.brokerage, actor=request.user, lead=lead,
                                               sequence=sequence)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, services.enrollment_summary(enrollment))
    return redirect(back)


def _lead_panel(request, lead, *, notice: str = "", error: str = ""):
    return render(request, "nurturing/partials/lead_enrollments.html", {
        "lead": lead, "enrollments": selectors.lead_enrollments(request.brokerage, lead),
        "sequences": selectors.active_sequences(request.brokerage), "can_enrol": True,
        "next_url": _next_url(request, ""), "notice": notice, "error": error})


def _answer(request, enrollment: Enrollment | None, lead, *, notice: str, error: str, fallback: str):
    """Answer an enrolment control the way it was asked: the lead page's panel or the sequence page's table row
    for htmx, otherwise a message and a redirect to `next` (or `fallback`)."""
    if _is_fragment(request):
        if request.htmx.target == LEAD_PANEL_ID or enrollment is None:
            return _lead_panel(request, lead, notice=notice, error=error)
        return render(request, "nurturing/sequence_detail.html#enrollment_row", {
            "enrollment": enrollment, "sequence": enrollment.sequence, "row_error": error,
            "next_url": _next_url(request, "")})
    (messages.error if error else messages.success)(request, error or notice)
    return redirect(_next_url(request, fallback))


@tenant_view("use_workflow_automation", lookup=lead_get, allow=can_work_lead)
@require_POST
def lead_enrol(request, obj):
    lead = obj
    form = EnrolInSequenceForm(request.POST, sequences=selectors.active_sequences(request.brokerage))
    if not form.is_valid():
        return _answer(request, None, lead, notice="", error=" ".join(form.errors["sequence"]),
                       fallback=reverse("nurturing:sequences"))
    sequence = form.cleaned_data["sequence"]
    fallback = reverse("nurturing:sequence", kwargs={"pk": sequence.pk})
    try:
        enrollment = services.enrollment_enrol(brokerage=request.brokerage, actor=request.user, lead=lead,
                                               sequence=sequence)
    except ValidationError as error:
        existing = selectors.lead_enrollments(request.brokerage, lead).filter(sequence=sequence).first()
        return _answer(request, existing, lead, notice="", error=" ".join(error.messages), fallback=fallback)
    return _answer(request, enrollment, lead, notice=services.enrollment_summary(enrollment), error="",
                   fallback=fallback)


def _enrollment_action(request, enrollment: Enrollment, act):
    """Run `act()`, one service call on the enrolment, and answer it."""
    try:
        changed = act()
    except ValidationError as error:
        return _answer(request, enrollment, enrollment.lead, notice="", error=" ".join(error.messages),
                       fallback=reverse("nurturing:sequence", kwargs={"pk": enrollment.sequence_id}))
    notice = f"{changed.lead.name} in “{changed.sequence.name}”: {changed.get_status_display().lower()}."
    return _answer(request, changed, changed.lead, notice=notice, error="",
                   fallback=reverse("nurturing:sequence", kwargs={"pk": changed.sequence_id}))


@tenant_view("use_workflow_automation", lookup=selectors.enrollment_get, allow=can_work_lead_of)
@require_POST
def enrollment_pause(request, obj):
    return _enrollment_action(request, obj, lambda: services.enrollment_pause(
        brokerage=request.brokerage, actor=request.user, enrollment=obj))


@tenant_view("use_workflow_automation", lookup=selectors.enrollment_get, allow=can_work_lead_of)
@require_POST
def enrollment_resume(request, obj):
    return _enrollment_action(request, obj, lambda: services.enrollment_resume(
        brokerage=request.brokerage, actor=request.user, enrollment=obj))


@tenant_view("use_workflow_automation", lookup=selectors.enrollment_get, allow=can_work_lead_of)
@require_POST
def enrollment_stop(request, obj):
    form = StopForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if not reason and request.htmx:
        reason = request.htmx.prompt or ""  # the Stop button asks for a reason with hx-prompt
    return _enrollment_action(request, obj, lambda: services.enrollment_stop(
        brokerage=request.brokerage, actor=request.user, enrollment=obj, reason=reason))


urlpatterns = [
    path("nurturing/sequences/", sequence_list, name="sequences"),
    path("nurturing/sequences/new/", sequence_new, name="sequence_new"),
    path("nurturing/sequences/<int:pk>/", sequence_detail, name="sequence"),
    path("nurturing/sequences/<int:pk>/edit/", sequence_edit, name="sequence_edit"),
    path("nurturing/sequences/<int:pk>/toggle/", sequence_toggle, name="sequence_toggle"),
    path("nurturing/sequences/<int:pk>/enrol/", sequence_enrol, name="sequence_enrol"),
    path("nurturing/leads/<int:pk>/enrol/", lead_enrol, name="lead_enrol"),
    path("nurturing/enrollments/<int:pk>/pause/", enrollment_pause, name="enrollment_pause"),
    path("nurturing/enrollments/<int:pk>/resume/", enrollment_resume, name="enrollment_resume"),
    path("nurturing/enrollments/<int:pk>/stop/", enrollment_stop, name="enrollment_stop"),
]
