"""Coaching session actions: start (an agent for themself, a manager for any agent, with an intensity), pause,
resume, stop and cancel. The live page swaps its session card with htmx; the team pages post plain forms and
come back to where they were (`next`)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_POST

from brokerages.selectors import setting_value

from ..forms import SessionStartForm
from ..permissions import can_coach
from ..selectors.sessions import coached_agent_get, coached_agents, session_for_agent, session_get
from ..services import sessions as services
from .common import back, coaching_view, fragment, is_manager

CARD = "coaching/partials/session_card.html"


def session_card_context(request, agent, form=None) -> dict:
    """The session card of `agent` as the signed-in member sees it."""
    manager = is_manager(request)
    session = session_for_agent(brokerage=request.brokerage, agent=agent)
    return {
        "session": session,
        "card_agent": agent,
        "session_form": form or SessionStartForm(
            manager=manager, default_intensity=setting_value(request.brokerage, "default_coaching_intensity")),
        # A session a manager started is the manager's to end; the agent may pause it.
        "can_end": session is not None and (manager or session.started_by_id == request.user.pk),
    }


def _done(request, agent, *, form=None, notice: str = "", error: str = ""):
    if fragment(request):
        context = session_card_context(request, agent, form)
        return render(request, CARD, {**context, "notice": notice, "error": error})
    if error:
        messages.error(request, error)
    elif notice:
        messages.success(request, notice)
    if agent.pk == request.user.pk:
        return back(request, "coaching:live")
    return back(request, "coaching:agent", pk=agent.pk)


@require_POST
@coaching_view()
def session_start(request):
    """Start a session. A manager names the agent (their own card posts themself); an agent starts their own."""
    brokerage, manager = request.brokerage, is_manager(request)
    form = SessionStartForm(request.POST, agents=coached_agents(brokerage) if manager else None, manager=manager,
                            default_intensity=setting_value(brokerage, "default_coaching_intensity"))
    agent = request.user
    if form.is_valid():
        if manager:
            agent = coached_agent_get(brokerage, form.cleaned_data["agent"])
        data = form.cleaned_data
        try:
            session = services.session_start(
                brokerage=brokerage, actor=request.user, agent=agent, intensity=data["intensity"],
                enable_real_time=data["enable_real_time"], enable_notifications=data["enable_notifications"])
        except ValidationError as error:
            return _done(request, agent, error=" ".join(error.messages))
        return _done(request, agent, notice=f"{session.get_intensity_display()} coaching started for "
                                            f"{agent.display_name}.")
    return _done(request, agent, form=form,
                 error=" ".join(error for errors in form.errors.values() for error in errors))


def _action(service, verb: str):
    @require_POST
    @coaching_view(lookup=session_get, allow=can_coach)
    def view(request, obj):
        try:
            session = service(brokerage=request.brokerage, actor=request.user, session=obj)
        except ValidationError as error:
            return _done(request, obj.agent, error=" ".join(error.messages))
        return _done(request, session.agent, notice=f"Coaching for {session.agent.display_name} {verb}.")

    view.__name__ = f"session_{service.__name__.removeprefix('session_')}"
    return view


session_pause = _action(services.session_pause, "paused")
session_resume = _action(services.session_resume, "resumed")
session_stop = _action(services.session_stop, "stopped")
session_cancel = _action(services.session_cancel, "cancelled")

urlpatterns = [
    path("coaching/sessions/start/", session_start, name="session_start"),
    path("coaching/sessions/<int:pk>/pause/", session_pause, name="session_pause"),
    path("coaching/sessions/<int:pk>/resume/", session_resume, name="session_resume"),
    path("coaching/sessions/<int:pk>/stop/", session_stop, name="session_stop"),
    path("coaching/sessions/<int:pk>/cancel/", session_cancel, name="session_cancel"),
]
