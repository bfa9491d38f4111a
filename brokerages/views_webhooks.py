"""The owners' webhook pages: the endpoints with a form to register one, and an endpoint's page (its events,
secret, state and delivery log, with redeliver — one delivery or every event it missed —, rotate,
disable/enable, test event and delete). Same services as
the API (`brokerages.webhooks.services`); the secret is shown once, on the page after it was made."""

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_POST

from .models import WebhookDelivery
from .web import form_error, tenant_view
from .webhooks import WEBHOOK_EVENTS, selectors, services
from .webhooks.delivery import max_attempts

DELIVERIES_PAGE_SIZE = 25
# The session holds a new secret between the POST that made it and the page that shows it (once).
SHOWN_ONCE_SESSION_KEY = "webhook_secret_shown_once"


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(label="Receiver URL", max_length=500, widget=forms.URLInput(
        attrs={"placeholder": "https://crm.example.com/hooks/agent-excellence"}),
        help_text="A public https:// address. Each delivery is a signed POST of JSON (see the receiver guide).")
    description = forms.CharField(max_length=200, required=False, help_text="What receives it, e.g. “Our CRM”.")
    events = forms.MultipleChoiceField(choices=[(name, name) for name in WEBHOOK_EVENTS], required=False,
                                       widget=forms.CheckboxSelectMultiple)


class DeliveryFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *WebhookDelivery.Status.choices], required=False)


def _wait(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _page_context() -> dict:
    """The event catalogue and the delivery policy the receiver guide states (from the settings)."""
    return {"event_descriptions": WEBHOOK_EVENTS, "timeout": f"{settings.WEBHOOKS_TIMEOUT_SECONDS:g}",
            "retry_waits": [_wait(seconds) for seconds in settings.WEBHOOKS_RETRY_DELAYS],
            "disable_after": settings.WEBHOOKS_DISABLE_AFTER_FAILURES}


@tenant_view("manage_brokerage")
def webhooks(request):
    form = WebhookEndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.webhook_endpoint_create(brokerage=request.brokerage, actor=request.user,
                                                                **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            request.session[SHOWN_ONCE_SESSION_KEY] = {"endpoint": endpoint.pk, "secret": secret}
            messages.success(request, "Endpoint registered. Copy its signing secret now: it is shown only once.")
            return redirect("brokerages:webhook", pk=endpoint.pk)
    return render(request, "brokerages/webhooks.html", {
        "endpoints": selectors.webhook_endpoints(request.brokerage), "form": form, **_page_context()},
        status=400 if form.errors else 200)


@tenant_view("manage_brokerage", lookup=selectors.webhook_endpoint_get)
def webhook(request, obj):
    endpoint = obj
    form = WebhookEndpointForm(request.POST or None, initial={
        "url": endpoint.url, "description": endpoint.description, "events": endpoint.events})
    if request.method == "POST" and form.is_valid():
        try:
            services.webhook_endpoint_update(brokerage=request.brokerage, actor=request.user, endpoint=endpoint,
                                             data=form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("brokerages:webhook", pk=endpoint.pk)
    shown = request.session.get(SHOWN_ONCE_SESSION_KEY)
    secret = None
    if shown and shown.get("endpoint") == endpoint.pk:
        secret = request.session.pop(SHOWN_ONCE_SESSION_KEY)["secret"]
    filters = DeliveryFilterForm(request.GET or None)
    status = filters.cleaned_data["status"] if filters.is_bound and filters.is_valid() else ""
    page = Paginator(selectors.webhook_deliveries(request.brokerage, endpoint, status=status),
                     DELIVERIES_PAGE_SIZE).get_page(request.GET.get("page"))
    for delivery in page.object_list:
        delivery.body_pretty = json.dumps(delivery.payload, indent=2, sort_keys=True, ensure_ascii=False)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"endpoint": endpoint, "form": form, "secret": secret, "filters": filters, "page": page,
               "query": query.urlencode(), "max_attempts": max_attempts("lead.created"), "now": timezone.now(),
               "failed_events": selectors.webhook_failed_events(request.brokerage, endpoint).count(),
               **_page_context()}
    if request.htmx and not request.htmx.boosted:
        return render(request, "brokerages/webhooks_detail.html#deliveries", context)
    return render(request, "brokerages/webhooks_detail.html", context, status=400 if form.errors else 200)


@tenant_view("manage_brokerage", lookup=selectors.webhook_endpoint_get)
@require_POST
def webhook_rotate(request, obj):
    endpoint, secret = services.webhook_endpoint_rotate_secret(brokerage=request.brokerage, actor=request.user,
                                                               endpoint=obj)
    request.session[SHOWN_ONCE_SESSION_KEY] = {"endpoint": endpoint.pk, "secret": secret}
    messages.success(request, "New signing secret. The previous one also signs deliveries for 24 hours: switch "
                              "your receiver over within that time.")
    return redirect("brokerages:webhook", pk=endpoint.pk)


@tenant_view("manage_brokerage", lookup=selectors.webhook_endpoint_get)
@require_POST
def webhook_active(request, obj):
    active = request.POST.get("active") == "1"
    switch = services.webhook_endpoint_enable if active else services.webhook_endpoint_disable
    switch(brokerage=request.brokerage, actor=request.user, endpoint=obj)
    messages.success(request, "Endpoint enabled: new events are delivered to it again." if active else
                     "Endpoint disabled: nothing more is sent to it until you enable it.")
    return redirect("brokerages:webhook", pk=obj.pk)


@tenant_view("manage_brokerage", lookup=selectors.webhook_endpoint_get)
@require_POST
def webhook_ping(request, obj):
    services.webhook_ping(brokerage=request.brokerage, actor=request.user, endpoint=obj)
    messages.success(request, "Test event queued; its delivery appears below within seconds (reload the page).")
    return redirect("brokerages:webhook", pk=obj.pk)


@tenant_view("manage_brokerage", lookup=selectors.webhook_endpoint_get)
@require_POST
def webhook_delete(request, obj):
    services.webhook_endpoint_delete(brokerage=request.brokerage, actor=request.user, endpoint=obj)
    messages.success(request, f"Endpoint {obj.url} deleted with its delivery log.")
    return redirect("brokerages:webhooks")


@tenant_view("manage_brokerage", lookup=selectors.webhook_delivery_get)
@require_POST
def webhook_redeliver(request, obj):
    try:
        services.webhook_redeliver(brokerage=request.brokerage, actor=request.user, delivery=obj)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{obj.event} queued again with the same delivery id ({obj.event_id}).")
    return redirect("brokerages:webhook", pk=obj.endpoint_id)


@tenant_view("manage_brokerage", lookup=selectors.webhook_endpoint_get)
@require_POST
def webhook_redeliver_failed(request, obj):
    try:
        sent = services.webhook_redeliver_failed(brokerage=request.brokerage, actor=request.user, endpoint=obj)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        noun = "event" if sent.queued == 1 else "events"
        more = f" {sent.remaining} more are waiting: redeliver again for the next ones." if sent.remaining else ""
        messages.success(request, f"{sent.queued} missed {noun} queued again, with their original delivery ids."
                                  f"{more}")
    return redirect("brokerages:webhook", pk=obj.pk)


urlpatterns = [
    path("webhooks/", webhooks, name="webhooks"),
    path("webhooks/<int:pk>/", webhook, name="webhook"),
    path("webhooks/<int:pk>/rotate/", webhook_rotate, name="webhook_rotate"),
    path("webhooks/<int:pk>/active/", webhook_active, name="webhook_active"),
    path("webhooks/<int:pk>/ping/", webhook_ping, name="webhook_ping"),
    path("webhooks/<int:pk>/delete/", webhook_delete, name="webhook_delete"),
    path("webhooks/deliveries/<int:pk>/redeliver/", webhook_redeliver, name="webhook_redeliver"),
    path("webhooks/<int:pk>/redeliver-failed/", webhook_redeliver_failed, name="webhook_redeliver_failed"),
]
