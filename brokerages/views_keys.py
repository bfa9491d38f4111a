"""Owners' pages for integration API keys: the list, a new key (its secret shown on that one response only)
and revoking. The rules live in `brokerages.keys`."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import keys
from .forms_keys import ApiKeyForm
from .web import form_error, tenant_view


def _page(request, form: ApiKeyForm, new_key: tuple | None = None):
    now = timezone.now()
    rows = [(key, keys.key_status(key, now)) for key in keys.api_keys(request.brokerage)]
    return render(request, "brokerages/api_keys.html", {"form": form, "rows": rows, "new_key": new_key})


@tenant_view("manage_brokerage")
def api_keys(request):
    return _page(request, ApiKeyForm())


@tenant_view("manage_brokerage")
@require_POST
@never_cache  # the answer carries the key's secret: no browser or proxy may keep it
def api_key_create(request):
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form)
    try:
        key, raw = keys.api_key_create(brokerage=request.brokerage, actor=request.user, **form.cleaned_data)
    except ValidationError as error:
        form_error(form, error)
        return _page(request, form)
    return _page(request, ApiKeyForm(), new_key=(key, raw))


@tenant_view("manage_brokerage", lookup=keys.api_key_get)
@require_POST
def api_key_revoke(request, obj):
    key = keys.api_key_revoke(brokerage=request.brokerage, actor=request.user, key=obj)
    messages.success(request, f"Key “{key.name}” ({key.prefix}) revoked: calls with it now answer 401.")
    return redirect("brokerages:api_keys")
