"""Pages of conversations: the agent's live coaching page (session, alert tray, the conversation being logged
with its analysis updating per message), the conversation list and detail, pasting a transcript, and
acknowledging an alert."""

import datetime as dt
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.selectors import setting_value
from brokerages.web import form_error
from nurturing.selectors.leads import leads as visible_leads

from ..forms import PAGE_SIZE, ConversationFilterForm, ConversationStartForm, MessageForm, TranscriptForm
from ..permissions import can_acknowledge, can_coach
from ..realtime import tray_alerts
from ..selectors import conversations as selectors
from ..selectors.sessions import coached_agent_get, coached_agents
from ..services import conversations as services
from ..services.alerts import alert_acknowledge
from ..transcripts import parse_transcript
from .common import analysis_view, back, coaching_view, fragment, is_manager
from .sessions import CARD, session_card_context

LIVE_PANEL = "coaching/partials/live_conversation.html"
# Leads offered in the pickers, newest first; enough for an agent's book, bounded for a manager's.
LEAD_CHOICES = 500


def _leads(request):
    # The pickers show names: whole rows with their agents would cost an owner's live page ~22 ms of CPU (500
    # leads); the services read only the lead's brokerage and pk.
    return list(visible_leads(request.brokerage, request.user, request_perms(request))
                .select_related(None).only("pk", "name", "brokerage_id")[:LEAD_CHOICES])


def _live_context(request, conversation, form=None) -> dict:
    return {
        "conversation": conversation,
        "transcript": list(selectors.messages_of(conversation)) if conversation else [],
        "view": analysis_view(conversation.analysis) if conversation else None,
        "message_form": form or MessageForm(),
        "can_write": conversation is not None and can_coach(request.user, request_perms(request), conversation),
    }


@coaching_view("use_coaching")
def live(request):
    brokerage, agent = request.brokerage, request.user
    open_list = list(selectors.open_conversations(brokerage, agent))
    chosen = request.GET.get("conversation", "")
    conversation = next((item for item in open_list if str(item.pk) == chosen), None) or \
        (open_list[0] if open_list else None)
    context = {
        **_live_context(request, conversation),
        **session_card_context(request, agent),
        "alerts": tray_alerts(brokerage=brokerage, agent=agent),
        "open_conversations": open_list,
        "start_form": ConversationStartForm(leads=_leads(request)),
    }
    return render(request, "coaching/live.html", context)


@require_POST
@coaching_view("use_coaching")
def conversation_start(request):
    """Start logging a conversation of one's own (managers log for agents through the API or a transcript)."""
    leads = _leads(request)
    form = ConversationStartForm(request.POST, leads=leads)
    if form.is_valid():
        lead = next((item for item in leads if item.pk == form.cleaned_data["lead"]), None)
        try:
            conversation = services.conversation_start(brokerage=request.brokerage, actor=request.user,
                                                       agent=request.user, lead=lead,
                                                       channel=form.cleaned_data["channel"])
        except ValidationError as error:
            form_error(form, error)
        else:
            return redirect(f"{reverse('coaching:live')}?conversation={conversation.pk}")
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, error)
    return redirect("coaching:live")


@require_POST
@coaching_view(lookup=selectors.conversation_get, allow=can_coach)
def conversation_message(request, obj):
    """Record one message (agent or lead, from the button pressed); htmx gets the live panel back with the
    updated analysis, a plain post goes back to the page."""
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            services.message_record(brokerage=request.brokerage, actor=request.user, conversation=obj,
                                    speaker=form.cleaned_data["speaker"], text=form.cleaned_data["text"])
        except ValidationError as error:
            form_error(form, error)
        else:
            form = None
    if not fragment(request):
        if form is not None:
            for error in form.errors.values():
                messages.error(request, " ".join(error))
        return back(request, "coaching:conversation", pk=obj.pk)
    obj.refresh_from_db()
    response = render(request, LIVE_PANEL, _live_context(request, obj, form))
    if obj.agent_id == request.user.pk and _on_live_page(request):
        # The message may have linked the session and raised alerts: the card's counters follow along.
        response.content += render_to_string(CARD, {**session_card_context(request, request.user), "oob": True},
                                             request=request).encode()
    return response


def _on_live_page(request) -> bool:
    current = request.htmx.current_url_abs_path or ""
    return current.split("?")[0] == reverse("coaching:live")


@require_POST
@coaching_view(lookup=selectors.conversation_get, allow=can_coach)
def conversation_end(request, obj):
    conversation = services.conversation_end(brokerage=request.brokerage, actor=request.user, conversation=obj)
    if conversation.quality_score is not None:
        messages.success(request, f"Conversation ended: quality {conversation.quality_score:.0f}/100.")
    else:
        messages.success(request, "Conversation ended.")
    return redirect("coaching:conversation", pk=conversation.pk)


@coaching_view()
def conversation_list(request):
    brokerage, perms = request.brokerage, request_perms(request)
    manager = is_manager(request)
    form = ConversationFilterForm(request.GET or None, agents=coached_agents(brokerage) if manager else None)
    queryset = selectors.conversations(brokerage, request.user, perms, **form.filters())
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "is_manager": manager}
    template = "coaching/conversation_list.html#results" if fragment(request) else "coaching/conversation_list.html"
    return render(request, template, context)


@coaching_view(lookup=selectors.conversation_get, allow=can_coach)
def conversation_detail(request, obj):
    perms = request_perms(request)
    context = {
        **_live_context(request, obj),
        "alerts": list(selectors.alerts(request.brokerage, request.user, perms, conversation_id=obj.pk)),
        "is_own": obj.agent_id == request.user.pk,
    }
    return render(request, "coaching/conversation_detail.html", context)


@coaching_view()
def transcript_new(request):
    """Paste a finished conversation; managers pick whose it was. Every unreadable line is listed by number and
    nothing is stored until the transcript reads cleanly."""
    brokerage = request.brokerage
    manager = is_manager(request)
    leads = _leads(request)
    agents = list(coached_agents(brokerage)) if manager else None
    form = TranscriptForm(request.POST or None, agents=agents, leads=leads,
                          initial={"agent": request.user.pk} if manager else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        agent = coached_agent_get(brokerage, data["agent"]) if manager else request.user
        lead = next((item for item in leads if item.pk == data["lead"]), None)
        zone = setting_value(brokerage, "timezone")
        try:
            lines = parse_transcript(data["transcript"], agent_names=[agent.full_name, agent.display_name],
                                     lead_names=[lead.name] if lead else [], day=data["date"], timezone=zone)
            conversation = services.transcript_record(
                brokerage=brokerage, actor=request.user, agent=agent, lead=lead, channel=data["channel"],
                lines=lines, started_at=None if any(line.sent_at for line in lines) else _noon(data["date"], zone))
        except ValidationError as error:
            form_error(form, error)
        else:
            score = conversation.quality_score
            messages.success(request, f"Transcript saved: {conversation.message_count} messages"
                                      + (f", quality {score:.0f}/100." if score is not None else "."))
            return redirect("coaching:conversation", pk=conversation.pk)
    return render(request, "coaching/transcript_form.html", {"form": form}, status=400 if form.errors else 200)


def _noon(day: dt.date, zone: str) -> dt.datetime:
    """An untimed transcript of a past day is dated at its noon (one of today: now), so it sorts into its day."""
    now = timezone.now()
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(zone))
    return min(noon, now) if day < timezone.localdate(now, ZoneInfo(zone)) else now


@require_POST
@coaching_view("use_coaching", lookup=selectors.alert_get, allow=can_acknowledge)
def alert_ack(request, obj):
    alert = alert_acknowledge(brokerage=request.brokerage, actor=request.user, alert=obj)
    if fragment(request):
        return render(request, "coaching/partials/conversation_alert.html", {"alert": alert})
    return back(request, "coaching:conversation", pk=alert.conversation_id)


urlpatterns = [
    path("coaching/", live, name="live"),
    path("coaching/conversations/", conversation_list, name="conversations"),
    path("coaching/conversations/start/", conversation_start, name="conversation_start"),
    path("coaching/conversations/transcript/", transcript_new, name="transcript"),
    path("coaching/conversations/<int:pk>/", conversation_detail, name="conversation"),
    path("coaching/conversations/<int:pk>/messages/", conversation_message, name="conversation_message"),
    path("coaching/conversations/<int:pk>/end/", conversation_end, name="conversation_end"),
    path("coaching/alerts/<int:pk>/acknowledge/", alert_ack, name="alert_ack"),
]
