"""Pages: the CSV import (upload → pick the CRM preset, map the columns, preview and check → import) and the
inbound lead webhook, both its settings page and the endpoint senders post to."""

import json
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.text import Truncator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from brokerages.web import tenant_view

from ..crm_presets import PRESETS, PRESETS_BY_KEY, preset_detect
from ..forms.ingestion import CUSTOM, ImportMappingForm, ImportUploadForm
from ..models import Lead, Source, Stage
from ..selectors.automations import lead_webhook_of
from ..services import ingestion as services
from ..services import lead_webhook as inbound

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
    return render(request, "nurturing/import_upload.html", {"form": form, "presets": PRESETS})


PREVIEW_HEADER = ("Name", "E-mail", "Phone", "Stage", "Source", "Budget", "Agent", "Created", "More")


def _budget(low, high) -> str:
    if low is not None and high is not None:
        return f"{low:,.0f}–{high:,.0f}"
    if high is not None:
        return f"up to {high:,.0f}"
    return f"from {low:,.0f}" if low is not None else ""


def _more(lead: dict) -> str:
    """The fields without a column of their own, as "Label: value" pairs."""
    parts = []
    for name in ("priority", "property_type", "timeline", "areas", "tags", "next_followup_date", "do_not_contact",
                 "marketing_consent", "external_id", "notes"):
        value = lead.get(name)
        if value in (None, "", [], False):
            continue
        field = Lead._meta.get_field(name)
        if value is True:
            text = "yes"
        elif isinstance(value, list):
            text = ", ".join(value)
        else:
            text = str(dict(field.flatchoices).get(value, value))
        parts.append(f"{str(field.verbose_name).capitalize()}: {Truncator(text).chars(80)}")
    return " · ".join(parts)


def _preview_cells(row: services.PreviewRow) -> dict:
    """A preview row as the table shows it: PREVIEW_HEADER's cells, and the outcome."""
    if row.problem:
        cells = row.cells
        name = cells.get("name") or " ".join(filter(None, (cells.get("first_name"), cells.get("last_name"))))
        values = [name, cells.get("email", ""), cells.get("phone", "") or cells.get("phone_other", "")]
        return {"number": row.number, "cells": values + [""] * (len(PREVIEW_HEADER) - len(values)),
                "outcome": row.problem, "kind": "error"}
    lead = row.lead
    created = lead.get("created_at")
    values = [lead["name"], lead.get("email", ""), lead.get("phone", ""), Stage(lead["stage"]).label,
              Source(lead["source"]).label, _budget(lead.get("budget_min"), lead.get("budget_max")),
              lead["assigned_agent"].display_name if lead["assigned_agent"] else "Unassigned",
              created.strftime("%Y-%m-%d %H:%M") if created else "now", _more(lead)]
    if row.duplicate:
        return {"number": row.number, "cells": values, "outcome": f"Skipped: {row.duplicate}.", "kind": "muted"}
    return {"number": row.number, "cells": values, "outcome": "New lead", "kind": ""}


def _preset_key(posted: str) -> str:
    return posted if posted in PRESETS_BY_KEY else CUSTOM


@tenant_view("manage_leads", lookup=_stored_upload)
def import_map(request, obj):
    """Say which CRM the file comes from and map the columns; the preview shows the first rows as they will be
    stored. The CRM detected from the headers is preselected. "Apply" fills the mapping from the chosen preset
    (with htmx, choosing one does), "Check" runs the whole file as a dry run, "Import" stores it."""
    table = services.csv_read(obj.data)
    action = request.POST.get("action", "") if request.method == "POST" else ""
    if action in ("check", "import", "preview"):
        form = ImportMappingForm(request.POST, headers=table.headers, mapping={})
    else:
        detected = preset_detect(table.headers)
        key = _preset_key(request.POST.get("preset", "")) if action == "preset" else (
            detected.key if detected else CUSTOM)
        form = ImportMappingForm(
            headers=table.headers, mapping=services.suggested_mapping(table.headers, PRESETS_BY_KEY.get(key)),
            initial={"preset": key, "run_automations": bool(request.POST.get("run_automations"))})
    report = preview = None
    refused = False
    if not form.is_bound or form.is_valid():
        mapping = form.mapping() if form.is_bound else None
        preset = form.cleaned_data["preset"] if form.is_bound else form.initial["preset"]
        if action in ("check", "import"):
            try:
                report = services.leads_import_csv(brokerage=request.brokerage, actor=request.user, data=obj.data,
                                                   mapping=mapping, preset=preset, dry_run=action == "check",
                                                   run_automations=form.cleaned_data["run_automations"])
            except ValidationError:  # the mapping cannot be imported: the preview says what to map
                refused = True
            else:
                if not report.dry_run:
                    services.import_upload_discard(brokerage=request.brokerage, upload_id=obj.id)
                    return render(request, "nurturing/import_result.html", {"report": report})
        preview = services.import_preview(brokerage=request.brokerage, data=obj.data, mapping=mapping, preset=preset)
    samples = {index: [row[index].strip() for row in table.rows if index < len(row) and row[index].strip()]
               [:SAMPLE_ROWS] for index in range(len(table.headers))}
    columns = [(field, samples[int(field.name.removeprefix("col_"))]) for field in form.column_fields()]
    template = "nurturing/import_map.html#mapping" if request.htmx and not request.htmx.boosted else \
        "nurturing/import_map.html"
    chosen = PRESETS_BY_KEY.get(form["preset"].value() or "")
    return render(request, template, {
        "form": form, "columns": columns, "report": report, "refused": refused, "row_count": len(table.rows),
        "preset": chosen, "preview": preview, "preview_header": PREVIEW_HEADER,
        "preview_rows": [_preview_cells(row) for row in preview.rows] if preview else [],
        "delimiter": {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}[table.delimiter]},
        status=200 if preview else 400)


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
        webhook, created = inbound.lead_webhook_ensure(brokerage=request.brokerage, actor=request.user)
        if created:
            request.session[SHOWN_ONCE_SESSION_KEY] = webhook.secret
            messages.success(request, "Your lead webhook is ready. Copy the secret now: it is shown only once.")
        else:
            messages.info(request, "The webhook already exists. Rotate it to get a new secret.")
        return redirect("nurturing:lead_webhook_settings")
    webhook = lead_webhook_of(request.brokerage)
    context = {"webhook": webhook, "secret": request.session.pop(SHOWN_ONCE_SESSION_KEY, None),
               "fields": inbound.WEBHOOK_FIELDS, "max_kb": inbound.MAX_WEBHOOK_BYTES // 1024}
    if webhook is not None:
        context["url"] = request.build_absolute_uri(reverse("nurturing:lead_webhook", args=[webhook.token]))
        context["example"] = _example(context["url"], context["secret"] or "paste-your-secret-here")
    return render(request, "nurturing/webhook_settings.html", context)


@tenant_view("manage_nurturing")
@require_POST
def lead_webhook_rotate(request):
    webhook = inbound.lead_webhook_rotate(brokerage=request.brokerage, actor=request.user)
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
    if int(request.META.get("CONTENT_LENGTH") or 0) > inbound.MAX_WEBHOOK_BYTES:
        return _error(413, "too_large", f"The body is over {inbound.MAX_WEBHOOK_BYTES // 1024} KB.")
    try:
        lead, created = inbound.lead_webhook_receive(token=token, body=request.body,
                                                      signature_header=request.headers.get("X-Signature", ""))
    except inbound.WebhookPayloadTooLarge:
        return _error(413, "too_large", f"The body is over {inbound.MAX_WEBHOOK_BYTES // 1024} KB.")
    except inbound.WebhookNotFound:
        return _error(404, "not_found", "No lead webhook at this address (was it rotated?).")
    except inbound.WebhookSignatureInvalid:
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
