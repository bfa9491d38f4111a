"""The owner's page that erases a lead's personal data, after saying what goes and what stays."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import path

from brokerages.web import form_error, tenant_view

from ..forms.erasure import EraseLeadForm
from ..selectors import leads as selectors
from ..services import erasure as services


@tenant_view(services.ERASE_PERMISSION, lookup=selectors.lead_get)
def lead_erase(request, obj):
    previous = services.erasure_entry(request.brokerage, obj)
    form = EraseLeadForm(request.POST or None, lead=obj)
    if request.method == "POST" and (previous is not None or form.is_valid()):
        reason = "" if previous is not None else form.cleaned_data["reason"]
        try:
            erasure = services.lead_erase(brokerage=request.brokerage, actor=request.user, lead=obj, reason=reason)
        except ValidationError as error:
            form_error(form, error)
        else:
            (messages.info if erasure.already_erased else messages.success)(request, erasure.message)
            return redirect("nurturing:lead", pk=obj.pk)
    return render(request, "nurturing/lead_erase.html", {"lead": obj, "form": form, "previous": previous},
                  status=400 if form.errors else 200)


urlpatterns = [
    path("leads/<int:pk>/erase/", lead_erase, name="lead_erase"),
]
