"""Pages of the follow-up queue (htmx): an agent reviews, edits, approves and sends or dismisses the drafts of
their leads; owners and support staff see the team's queue and how much the brokerage is leaking, and owners
can run the sweep at once. Also the member's notifications (speed-to-lead alerts, escalations, automations)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.selectors import settings_values
from brokerages.web import form_error, tenant_view

from ..forms.followups import DISMISS_SUGGESTIONS, CalledForm, DismissForm, FollowUpEditForm, QueueFilterForm
from ..models import Channel, FollowUp
from ..permissions import can_work_lead, can_work_lead_of
from ..schedule import BrokerageClock
from ..selectors import followups as selectors
from ..selectors.leads import assignable_agents, lead_get
from ..services import followups as services
from ..services.sweeps import nurture_sweep

CARD = "nurturing/partials/followup_card.html#card"


def _is_manager(request) -> bool:
    return "manage_leads" in request_perms(request)


def _clock(request) -> BrokerageClock:
    return BrokerageClock.of(settings_values(request.brokerage))


def _card(request, followup: FollowUp, *, form=None, error: str = "", editing: bool = False):
    """The follow-up's card (htmx swaps it in place); without htmx, back to the queue with the outcome."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("nurturing:followups")
    return render(request, CARD, {
        "followup": followup, "form": form, "error": error, "editing": editing, "clock": _clock(request),
        "show_agent": _is_manager(request), "can_redraft": services.engine_is_model(request.brokerage),
    })


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@tenant_view("work_leads")
def queue(request):
    brokerage, perms = request.brokerage, request_perms(request)
    manager = _is_manager(request)
    filters = QueueFilterForm(request.GET or None, agents=assignable_agents(brokerage)) if manager else None
    agent_id = filters.agent_id if filters is not None else None
    values, now = settings_values(brokerage), timezone.now()
    clock = BrokerageClock.of(values)
    context = {
        "groups": selectors.followup_queue(brokerage, request.user, perms, clock=clock, now=now, agent_id=agent_id),
        "filters": filters, "is_manager": manager, "clock": clock, "show_agent": manager,
        "can_sweep": "manage_nurturing" in perms, "can_redraft": services.engine_is_model(brokerage),
        "dismiss_suggestions": DISMISS_SUGGESTIONS,
        "leakage": selectors.leakage(brokerage, selectors.LeakageRules.of(values, now), agent_id=agent_id)
        if manager else None,
    }
    template = "nurturing/followup_queue.html#queue" if request.htmx and not request.htmx.boosted else \
        "nurturing/followup_queue.html"
    return render(request, template, context)


@tenant_view("work_leads", lookup=selectors.followup_get, allow=can_work_lead_of)
def card(request, obj):
    return _card(request, obj)


@tenant_view("work_leads", lookup=selectors.followup_get, allow=can_work_lead_of)
def edit(request, obj):
    if request.method != "POST":
        return _card(request, obj, form=FollowUpEditForm.for_followup(obj), editing=True)
    form = FollowUpEditForm.for_followup(obj, data=request.POST)
    if form.is_valid():
        try:
            obj = services.followup_edit(brokerage=request.brokerage, actor=request.user, followup=obj,
                                         data=form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            return _card(request, obj)
    return _card(request, obj, form=form, editing=True)


@tenant_view("work_leads", lookup=selectors.followup_get, allow=can_work_lead_of)
@require_POST
def send(request, obj):
    try:
        obj = services.followup_approve_send(brokerage=request.brokerage, actor=request.user, followup=obj)
    except ValidationError as error:
        return _card(request, obj, error=_error_text(error))
    if not request.htmx:
        messages.success(request, _outcome(obj))
    return _card(request, obj)


def _outcome(followup: FollowUp) -> str:
    if followup.status == FollowUp.Status.SENT:
        return f"Sent to {followup.lead.name}."
    if followup.status == FollowUp.Status.FAILED:
        return f"Sending to {followup.lead.name} failed: {followup.error}"
    if followup.channel == Channel.CALL:
        return f"{followup.lead.name} is on your list of calls to make."
    return "Approved; it goes out when quiet hours end."


@tenant_view("work_leads", lookup=selectors.followup_get, allow=can_work_lead_of)
@require_POST
def called(request, obj):
    form = CalledForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        obj = services.followup_mark_called(brokerage=request.brokerage, actor=request.user, followup=obj, note=note)
    except ValidationError as error:
        return _card(request, obj, error=_error_text(error))
    return _card(request, obj)


@tenant_view("work_leads", lookup=selectors.followup_get, allow=can_work_lead_of)
@require_POST
def dismiss(request, obj):
    form = DismissForm(request.POST)
    if not form.is_valid():
        return _card(request, obj, error=" ".join(form.errors.get("reason", ["Say why you are dismissing it."])))
    try:
        obj = services.followup_dismiss(brokerage=request.brokerage, actor=request.user, followup=obj,
                                        reason=form.cleaned_data["reason"])
    except ValidationError as error:
        return _card(request, obj, error=_error_text(error))
    return _card(request, obj)


@tenant_view("work_leads", lookup=selectors.followup_get, allow=can_work_lead_of)
@require_POST
def redraft(request, obj):
    if obj.status != FollowUp.Status.DRAFT:
        return _card(request, obj, error="Only a draft can be rewritten.")
    services.followups_redraft(brokerage=request.brokerage, actor=request.user, followups=[obj])
    return _card(request, selectors.followup_get(request.brokerage, obj.pk))


@tenant_view("work_leads", lookup=lead_get, allow=can_work_lead)
@require_POST
def followup_new(request, obj):
    """Draft a follow-up for one lead now (the lead page's "Draft a follow-up")."""
    try:
        created = services.followup_create(brokerage=request.brokerage, actor=request.user, lead=obj,
                                           reason=FollowUp.Reason.MANUAL)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("nurturing:lead", pk=obj.pk)
    if created is None:
        messages.info(request, f"{obj.name} already has a draft waiting in the follow-up queue.")
    else:
        messages.success(request, f"A {created.get_channel_display()} draft for {obj.name} is in your queue.")
        return redirect(f"{reverse('nurturing:followups')}#followup-{created.pk}")
    return redirect("nurturing:followups")


@tenant_view("manage_nurturing")
@require_POST
def sweep(request):
    result = nurture_sweep(brokerage=request.brokerage, actor=request.user)
    if not request.htmx:
        messages.success(request, f"Sweep done: {len(result.generated_followups)} new drafts.")
        return redirect("nurturing:followups")
    return render(request, "nurturing/followup_queue.html#sweep_report", {"result": result})


@tenant_view("view_brokerage")
def notifications(request):
    found = selectors.notifications(request.brokerage, request.user)
    return render(request, "nurturing/notifications.html", {
        "notifications": found[:200], "unread": found.filter(read_at__isnull=True).count()})


def _own_notification(user, perms, notification) -> bool:
    return notification.recipient_id == user.pk


@tenant_view("view_brokerage", lookup=selectors.notification_get, allow=_own_notification)
@require_POST
def notification_read(request, obj):
    obj = services.notification_mark_read(brokerage=request.brokerage, actor=request.user, notification=obj)
    if request.htmx:
        return render(request, "nurturing/notifications.html#row", {"notification": obj})
    # Notification links are the platform's own paths; anything else falls back to the list.
    if obj.url and url_has_allowed_host_and_scheme(obj.url, allowed_hosts={request.get_host()}):
        return redirect(obj.url)
    return redirect("nurturing:notifications")


@tenant_view("view_brokerage")
@require_POST
def notifications_read_all(request):
    count = services.notifications_mark_all_read(brokerage=request.brokerage, actor=request.user)
    messages.success(request, f"Marked {count} notification{'s' if count != 1 else ''} read.")
    return redirect("nurturing:notifications")


urlpatterns = [
    path("followups/", queue, name="followups"),
    path("followups/sweep/", sweep, name="followups_sweep"),
    path("followups/<int:pk>/", card, name="followup_card"),
    path("followups/<int:pk>/edit/", edit, name="followup_edit"),
    path("followups/<int:pk>/send/", send, name="followup_send"),
    path("followups/<int:pk>/called/", called, name="followup_called"),
    path("followups/<int:pk>/dismiss/", dismiss, name="followup_dismiss"),
    path("followups/<int:pk>/redraft/", redraft, name="followup_redraft"),
    path("leads/<int:pk>/followups/new/", followup_new, name="followup_new"),
    path("notifications/", notifications, name="notifications"),
    path("notifications/read-all/", notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/read/", notification_read, name="notification_read"),
]
