"""Pages: workflow automations. Owners build them with forms (never raw JSON) and switch them on and off;
agents, who use them, may read the list and the runs on their own leads."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import tenant_view

from ..automation_schema import MAX_ACTIONS, describe_action, describe_conditions, describe_trigger
from ..forms.automations import (
    ACTIONS_PREFIX,
    ActionForm,
    AutomationForm,
    action_formset,
    readable_path,
    show_schema_errors,
)
from ..selectors import automations as selectors
from ..selectors.leads import assignable_agents
from ..selectors.sequences import active_sequences
from ..services import automations as services

RUNS_PER_PAGE = 25


def _can_manage(request) -> bool:
    return "manage_nurturing" in request_perms(request)


def _described(brokerage, automations: list) -> list[dict]:
    names = selectors.action_names(brokerage, automations)
    return [{"automation": automation,
             "trigger": describe_trigger(automation.trigger_conditions),
             "conditions": describe_conditions(automation.trigger_conditions.get("conditions", {})),
             "actions": [describe_action(action, names) for action in automation.actions]}
            for automation in automations]


@tenant_view("use_workflow_automation")
def automation_list(request):
    found = list(selectors.automations(request.brokerage))
    return render(request, "nurturing/automation_list.html", {
        "rows": _described(request.brokerage, found), "can_manage": _can_manage(request)})


@tenant_view("use_workflow_automation", lookup=selectors.automation_get)
def automation_detail(request, obj):
    runs = selectors.automation_runs(request.brokerage, obj, request.user, request_perms(request))
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"row": _described(request.brokerage, [obj])[0], "automation": obj, "page": page,
               "can_manage": _can_manage(request)}
    if request.htmx and not request.htmx.boosted:
        return render(request, "nurturing/automation_detail.html#runs", context)
    return render(request, "nurturing/automation_detail.html", context)


def _choices(brokerage) -> dict:
    return {"sequences": [(sequence.pk, sequence.name) for sequence in active_sequences(brokerage)],
            "agents": [(agent.pk, f"{agent.display_name} ({agent.get_role_display()})")
                       for agent in assignable_agents(brokerage)]}


def _builder(request, automation=None):
    """The new/edit page: validate both forms, then let the service validate the documents they make."""
    choices = _choices(request.brokerage)
    initial = AutomationForm.initial_for(automation) if automation else None
    form = AutomationForm(request.POST or None, initial=initial)
    formset = action_formset(request.POST or None, automation=automation, **choices)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        values = {"name": form.cleaned_data["name"], "workflow_type": form.cleaned_data["workflow_type"],
                  "trigger_conditions": form.trigger_conditions(), "actions": formset.actions(),
                  "is_active": form.cleaned_data["is_active"]}
        try:
            if automation is None:
                automation = services.automation_create(brokerage=request.brokerage, actor=request.user, **values)
            else:
                automation = services.automation_update(brokerage=request.brokerage, actor=request.user,
                                                        automation=automation, data=values)
        except ValidationError as error:
            show_schema_errors(error, form, formset)
        else:
            messages.success(request, f"“{automation.name}” is saved"
                                      f"{' and running' if automation.is_active else ' (switched off)'}.")
            return redirect("nurturing:automation", pk=automation.pk)
    return render(request, "nurturing/automation_form.html", {
        "form": form, "formset": formset, "automation": automation, "max_actions": MAX_ACTIONS})


@tenant_view("manage_nurturing")
def automation_new(request):
    return _builder(request)


@tenant_view("manage_nurturing", lookup=selectors.automation_get)
def automation_edit(request, obj):
    return _builder(request, obj)


@tenant_view("manage_nurturing", lookup=selectors.automation_get)
@require_POST
def automation_toggle(request, obj):
    try:
        automation = services.automation_set_active(brokerage=request.brokerage, actor=request.user, automation=obj,
                                                    is_active=not obj.is_active)
    except ValidationError as error:
        messages.error(request, f"“{obj.name}” stays off until it is fixed: " + " ".join(
            f"{readable_path(path)}: {' '.join(problems)}" for path, problems in error.message_dict.items()))
    else:
        messages.success(request, f"“{automation.name}” is {'on' if automation.is_active else 'off'}.")
    if request.POST.get("next") == "detail":
        return redirect("nurturing:automation", pk=obj.pk)
    return redirect("nurturing:automations")


@tenant_view("manage_nurturing")
def automation_action_form(request):
    """One row of the action formset for htmx: a new row ("Add an action"), or a row redrawn with the fields
    of the action type just chosen (what was typed so far is kept)."""
    index = request.GET.get("index")
    adding = index is None
    try:
        index = int(request.GET.get(f"{ACTIONS_PREFIX}-TOTAL_FORMS", 0) if adding else index)
    except ValueError:
        return HttpResponseBadRequest("index must be a number.")
    if not 0 <= index < MAX_ACTIONS:
        return HttpResponse(f'<p class="error" role="alert">At most {MAX_ACTIONS} actions.</p>' if adding else "")
    prefix = f"{ACTIONS_PREFIX}-{index}"
    initial = {name: request.GET.get(f"{prefix}-{name}") for name in ActionForm.base_fields
               if request.GET.get(f"{prefix}-{name}") is not None}
    form = ActionForm(prefix=prefix, initial=initial, **_choices(request.brokerage))
    return render(request, "nurturing/automation_form.html#action_row", {
        "action_form": form, "index": index, "total_forms": index + 1 if adding else None})


urlpatterns = [
    path("automations/", automation_list, name="automations"),
    path("automations/new/", automation_new, name="automation_new"),
    path("automations/action-form/", automation_action_form, name="automation_action_form"),
    path("automations/<int:pk>/", automation_detail, name="automation"),
    path("automations/<int:pk>/edit/", automation_edit, name="automation_edit"),
    path("automations/<int:pk>/toggle/", automation_toggle, name="automation_toggle"),
]
