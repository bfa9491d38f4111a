"""Pages: the CSV import (upload → map the columns and check → import) and the inbound lead webhook, both its
settings page and the endpoint senders post to."""

import json
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from brokerages.web import form_error, tenant_view

from ..forms.ingestion import ImportMappingForm, ImportUploadForm
from ..selectors.automations import lead_webhook_of
from ..services import ingestion as services

SAMPLE_ROWS = 3
# The secret of a just-created or rotated endpoint, shown on the next page load and never again.
SHOWN_ONCE_SESSION_KEY = "lead_webhook_secret"


@dataclass(frozen=True)
class StoredUpload:
    id: str
    data: bytes


def _stored_upload(brokerage, pk) -> StoredUpload:
    try:
        return StoredUpload(pk, services.import_upload_read(brokerage=brokerage, upload_id=pk))
    except FileNotFoundError:
        raise Http404("This upload is gone: it was imported already or is over a day old. Upload it again.") from None


@tenant_view("manage_leads")
def import_upload(request):
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data["file"].read()
        try:
            services.csv_read(data)
        except ValidationError as error:
            form.add_error("file", error)
        else:
            upload_id = services.import_upload_store(brokerage=request.brokerage, data=data)
            return redirect("nurturing:import_map", pk=upload_id)
    return render(request, "nurturing/import_upload.html", {"form": form})


@tenant_view("manage_leads", lookup=_stored_upload)
def import_map(request, obj):
    """Map the columns; "Check" runs the import as a dry run and shows what it would do, "Import" stores it."""
    table = services.csv_read(obj.data)
    form = ImportMappingForm(request.POST or None, headers=table.headers,
                             mapping=services.auto_mapping(table.headers))
    report = None
    if request.method == "POST" and form.is_valid():
        dry_run = request.POST.get("action") != "import"
        try:
            report = services.leads_import_csv(brokerage=request.brokerage, actor=request.user, data=obj.data,
                                               mapping=form.mapping(), dry_run=dry_run,
                                               run_automations=form.cleaned_data["run_automations"])
        except ValidationError as error:
            form_error(form, error)
        else:
            if not dry_run:
                services.import_upload_discard(brokerage=request.brokerage, upload_id=obj.id)
                return render(request, "nurturing/import_result.html", {"report": report})
    samples = {index: [row[index].strip() for row in table.rows if index < len(row) and row[index].strip()]
               [:SAMPLE_ROWS] for index in range(len(table.headers))}
    columns = [(field, samples[int(field.name.removeprefix("col_"))]) for field in form.column_fields()]
    return render(request, "nurturing/import_map.html", {
        "form": form, "columns": columns, "report": report, "upload": obj, "row_count": len(table.rows),
        "delimiter": {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}[table.delimiter]})


def _example(url: str, secret: str) -> dict[str, str]:
    """How a sender signs and posts a lead, ready to copy, for curl and for Python."""
    body = {"external_id": "crm-1042", "name": "Layla Haddad", "email": "layla@example.com",
            "phone": "+971501234567", "source": "portal", "budget_max": 2500000, "areas": ["Dubai Marina"],
            "property_type": "apartment", "message": "Is the 2-bed on the marina still available?"}
    body_text = json.dumps(body, indent=2)
    curl = (f"SECRET='{secret}'\n"
            f"BODY='{body_text}'\n"
            "SIGNATURE=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" | sed 's/^.*= //')\n"
            f"curl -sS -X POST '{url}' \\\n"
            "  -H 'Content-Type: application/json' \\\n"
            "  -H \"X-Signature: sha256=$SIGNATURE\" \\\n"
            "  --data-binary \"$BODY\"")
    python = ("import hashlib, hmac, json, urllib.request\n\n"
              f"URL = \"{url}\"\n"
              f"SECRET = \"{secret}\"\n\n"
              "lead = {\n" + "".join(f"    {key!r}: {value!r},\n" for key, value in body.items()) + "}\n"
              "body = json.dumps(lead).encode()  # sign exactly the bytes you send\n"
              "signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()\n"
              "request = urllib.request.Request(URL, data=body, method=\"POST\", headers={\n"
              "    \"Content-Type\": \"application/json\", \"X-Signature\": \"sha256=\" + signature})\n"
              "with urllib.request.urlopen(request, timeout=10) as response:\n"
              "    print(response.status, response.read().decode())  # 201: new lead; 200: already received")
    return {"curl": curl, "python": python}


@tenant_view("manage_nurturing")
def lead_webhook_settings(request):
    if request.method == "POST":
        webhook, created = services.lead_webhook_ensure(brokerage=request.brokerage, actor=request.user)
        if created:
            request.session[SHOWN_ONCE_SESSION_KEY] = webhook.secret
            messages.success(request, "Your lead webhook is ready. Copy the secret now: it is shown only once.")
        else:
            messages.info(request, "The webhook already exists. Rotate it to get a new secret.")
        return redirect("nurturing:lead_webhook_settings")
    webhook = lead_webhook_of(request.brokerage)
    context = {"webhook": webhook, "secret": request.session.pop(SHOWN_ONCE_SESSION_KEY, None),
               "fields": services.WEBHOOK_FIELDS, "max_kb": services.MAX_WEBHOOK_BYTES // 1024}
    if webhook is not None:
        context["url"] = request.build_absolute_uri(reverse("nurturing:lead_webhook", args=[webhook.token]))
        context["example"] = _example(context["url"], context["secret"] or "paste-your-secret-here")
    return render(request, "nurturing/webhook_settings.html", context)


@tenant_view("manage_nurturing")
@require_POST
def lead_webhook_rotate(request):
    webhook = services.lead_webhook_rotate(brokerage=request.brokerage, actor=request.user)
    request.session[SHOWN_ONCE_SESSION_KEY] = webhook.secret
    messages.success(request, "New URL and secret. The old URL stops working now: give senders the new ones.")
    return redirect("nurturing:lead_webhook_settings")


def _error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    """The API's error shape, so a sender handles every endpoint alike."""
    return JsonResponse({"error": {"status": status, "code": code, "message": message, "fields": fields or {}}},
                        status=status)


@csrf_exempt  # senders are servers authenticated by the body's signature, not browsers with a session
@require_POST
def lead_webhook(request, token: str):
    if int(request.META.get("CONTENT_LENGTH") or 0) > services.MAX_WEBHOOK_BYTES:
        return _error(413, "too_large", f"The body is over {services.MAX_WEBHOOK_BYTES // 1024} KB.")
    try:
        lead, created = services.lead_webhook_receive(token=token, body=request.body,
                                                      signature_header=request.headers.get("X-Signature", ""))
    except services.WebhookPayloadTooLarge:
        return _error(413, "too_large", f"The body is over {services.MAX_WEBHOOK_BYTES // 1024} KB.")
    except services.WebhookNotFound:
        return _error(404, "not_found", "No lead webhook at this address (was it rotated?).")
    except services.WebhookSignatureInvalid:
        return _error(401, "bad_signature", "Missing or wrong X-Signature: send sha256=<hex HMAC-SHA256 of the raw "
                                            "body with your secret>.")
    except ValidationError as error:
        fields = error.message_dict
        return _error(400, "invalid", "The lead has invalid fields: " + ", ".join(fields) + ".", fields)
    return JsonResponse({"lead_id": lead.pk, "created": created}, status=201 if created else 200)


urlpatterns = [
    path("leads/import/", import_upload, name="import"),
    path("leads/import/<str:pk>/", import_map, name="import_map"),
    path("settings/lead-webhook/", lead_webhook_settings, name="lead_webhook_settings"),
    path("settings/lead-webhook/rotate/", lead_webhook_rotate, name="lead_webhook_rotate"),
    path("hooks/leads/<str:token>", lead_webhook, name="lead_webhook"),
]
