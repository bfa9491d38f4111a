"""Pages of the CRM core: the lead list, a lead with its timeline, and the quick actions on it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import form_error, tenant_view

from ..forms.leads import (
    PAGE_SIZE,
    AssignForm,
    ContactPreferencesForm,
    InteractionForm,
    LeadFilterForm,
    LeadForm,
    StageForm,
)
from ..permissions import can_work_lead
from ..selectors import leads as selectors
from ..selectors import listings as listing_selectors
from ..selectors import sequences as sequence_selectors
from ..services import leads as services


def _is_manager(request) -> bool:
    return "manage_leads" in request_perms(request)


def _lead_page(request, lead, **forms):
    """The lead page, with whichever of its forms came back with errors."""
    brokerage = request.brokerage
    agents = selectors.assignable_agents(brokerage) if _is_manager(request) else None
    context = {
        "lead": lead,
        "timeline": selectors.lead_timeline(lead),
        "interaction_form": forms.get("interaction_form") or InteractionForm(),
        "stage_form": forms.get("stage_form") or StageForm(initial={"stage": lead.stage}),
        "assign_form": forms.get("assign_form") or (
            AssignForm(initial={"agent": lead.assigned_agent_id}, agents=agents) if agents is not None else None),
        "preferences_form": ContactPreferencesForm(initial={"do_not_contact": lead.do_not_contact,
                                                            "marketing_consent": lead.marketing_consent}),
        "enrollments": sequence_selectors.lead_enrollments(brokerage, lead),
        "active_sequences": sequence_selectors.active_sequences(brokerage),
        # The lead page is only shown to someone who may work the lead; enrolling also needs the automation right.
        "can_enrol": "use_workflow_automation" in request_perms(request),
        "listing_matches": listing_selectors.listings_for_lead(lead, request.user, perms=request_perms(request)),
    }
    status = 400 if forms else 200
    return render(request, "nurturing/lead_detail.html", context, status=status)


@tenant_view("work_leads")
def lead_list(request):
    brokerage = request.brokerage
    agents = selectors.assignable_agents(brokerage) if _is_manager(request) else None
    form = LeadFilterForm(request.GET or None, agents=agents)
    queryset = selectors.leads(brokerage, request.user, request_perms(request), form.filters())
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode(), "is_manager": _is_manager(request)}
    template = "nurturing/lead_list.html#results" if request.htmx and not request.htmx.boosted else \
        "nurturing/lead_list.html"
    return render(request, template, context)


@tenant_view("work_leads")
def lead_new(request):
    form = LeadForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # An agent's own lead is theirs; managers assign it from the lead page (or automations do).
        agent = None if _is_manager(request) else request.user
        try:
            lead = services.lead_create(brokerage=request.brokerage, actor=request.user, data=form.lead_data(),
                                        assigned_agent=agent)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"{lead.name} is in the CRM.")
            return redirect("nurturing:lead", pk=lead.pk)
    return render(request, "nurturing/lead_form.html", {"form": form}, status=400 if form.errors else 200)


@tenant_view("work_leads", lookup=selectors.lead_get, allow=can_work_lead)
def lead_detail(request, obj):
    return _lead_page(request, obj)


@tenant_view("work_leads", lookup=selectors.lead_get, allow=can_work_lead)
def lead_edit(request, obj):
    form = LeadForm(request.POST or None, instance=obj)
    if request.method == "POST" and form.is_valid():
        try:
            services.lead_update(brokerage=request.brokerage, actor=request.user, lead=obj, data=form.lead_data())
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Lead saved.")
            return redirect("nurturing:lead", pk=obj.pk)
    return render(request, "nurturing/lead_form.html", {"form": form, "lead": obj},
                  status=400 if form.errors else 200)


@require_POST
@tenant_view("work_leads", lookup=selectors.lead_get, allow=can_work_lead)
def lead_log_interaction(request, obj):
    form = InteractionForm(request.POST)
    if form.is_valid():
        try:
            services.interaction_log(brokerage=request.brokerage, actor=request.user, lead=obj,
                                     channel=form.cleaned_data["channel"], direction=form.cleaned_data["direction"],
                                     summary=form.cleaned_data["summary"],
                                     occurred_at=form.cleaned_data["occurred_at"])
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Interaction logged.")
            return redirect("nurturing:lead", pk=obj.pk)
    return _lead_page(request, obj, interaction_form=form)


@require_POST
@tenant_view("work_leads", lookup=selectors.lead_get, allow=can_work_lead)
def lead_change_stage(request, obj):
    form = StageForm(request.POST)
    if form.is_valid():
        try:
            services.lead_change_stage(brokerage=request.brokerage, actor=request.user, lead=obj,
                                       **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"Stage is now {form.cleaned_data['stage']}.")
            return redirect("nurturing:lead", pk=obj.pk)
    return _lead_page(request, obj, stage_form=form)


@require_POST
@tenant_view("manage_leads", lookup=selectors.lead_get)
def lead_assign(request, obj):
    form = AssignForm(request.POST, agents=selectors.assignable_agents(request.brokerage))
    if form.is_valid():
        try:
            lead = services.lead_assign(brokerage=request.brokerage, actor=request.user, lead=obj,
                                        agent=form.cleaned_data["agent"])
        except ValidationError as error:
            form_error(form, error)
        else:
            holder = lead.assigned_agent.display_name if lead.assigned_agent else "nobody"
            messages.success(request, f"{lead.name} is now with {holder}.")
            return redirect("nurturing:lead", pk=obj.pk)
    return _lead_page(request, obj, assign_form=form)


@require_POST
@tenant_view("work_leads", lookup=selectors.lead_get, allow=can_work_lead)
def lead_contact_preferences(request, obj):
    form = ContactPreferencesForm(request.POST)
    form.is_valid()  # two checkboxes: always valid
    services.lead_set_contact_preferences(brokerage=request.brokerage, actor=request.user, lead=obj,
                                          **form.cleaned_data)
    messages.success(request, "Contact preferences saved.")
    return redirect("nurturing:lead", pk=obj.pk)


urlpatterns = [
    path("leads/", lead_list, name="leads"),
    path("leads/new/", lead_new, name="lead_new"),
    path("leads/<int:pk>/", lead_detail, name="lead"),
    path("leads/<int:pk>/edit/", lead_edit, name="lead_edit"),
    path("leads/<int:pk>/interactions/", lead_log_interaction, name="lead_log_interaction"),
    path("leads/<int:pk>/stage/", lead_change_stage, name="lead_change_stage"),
    path("leads/<int:pk>/assign/", lead_assign, name="lead_assign"),
    path("leads/<int:pk>/contact-preferences/", lead_contact_preferences, name="lead_contact_preferences"),
]
