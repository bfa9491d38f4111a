"""The inbound lead webhook: a portal or website form posts a lead, signed with the brokerage's secret, and it is
stored as the CSV import stores a row (same field rules) with its first message as an interaction."""

import hashlib
import hmac
import json
import re
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from brokerages.models import Brokerage, User
from brokerages.services import audit_record
from brokerages.values import clean_labels

from ..models import Channel, Direction, Lead, LeadWebhook, PropertyType, Source, Timeline
from . import triggers
from .ingestion import _amount, _model_check
from .leads import interaction_log, lead_create, normalise_phone

MAX_WEBHOOK_BYTES = 256 * 1024


class WebhookNotFound(Exception):
    """No active endpoint has this token."""


class WebhookSignatureInvalid(Exception):
    """The X-Signature header is missing or does not match the body."""


class WebhookPayloadTooLarge(Exception):
    pass


WEBHOOK_FIELDS = ("external_id", "name", "email", "phone", "source", "budget_min", "budget_max", "areas",
                  "property_type", "timeline", "notes", "message")
SIGNATURE_HEADER = "X-Signature"
_SIGNATURE = re.compile(r"^sha256=([0-9a-fA-F]{64})$")


def _new_credentials() -> dict:
    return {"token": secrets.token_urlsafe(24), "secret": secrets.token_urlsafe(32)}


@transaction.atomic
def lead_webhook_ensure(*, brokerage: Brokerage, actor: User | None) -> tuple[LeadWebhook, bool]:
    """The brokerage's endpoint, created with a fresh token and secret when it has none; True when created
    (the only time, with rotation, that the secret is shown)."""
    webhook = LeadWebhook.objects.select_for_update().filter(brokerage=brokerage).first()
    if webhook is not None:
        return webhook, False
    webhook = LeadWebhook.objects.create(brokerage=brokerage, **_new_credentials())
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.lead_webhook_created", resource=webhook,
                 details={"token_prefix": webhook.token[:6]})
    return webhook, True


@transaction.atomic
def lead_webhook_rotate(*, brokerage: Brokerage, actor: User | None) -> LeadWebhook:
    """Replace the token (so the URL) and the secret at once: the old URL answers 404 from now on."""
    webhook, created = lead_webhook_ensure(brokerage=brokerage, actor=actor)
    if created:
        return webhook
    old_prefix = webhook.token[:6]
    for name, value in _new_credentials().items():
        setattr(webhook, name, value)
    webhook.rotated_at = timezone.now()
    webhook.save(update_fields=["token", "secret", "rotated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.lead_webhook_rotated", resource=webhook,
                 details={"old_token_prefix": old_prefix, "token_prefix": webhook.token[:6]})
    return webhook


def webhook_signature(secret: str, body: bytes) -> str:
    """The X-Signature value a sender puts on `body`: "sha256=" and the hex HMAC-SHA256 with the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def lead_webhook_receive(*, token: str, body: bytes, signature_header: str) -> tuple[Lead, bool]:
    """Take a lead posted to a brokerage's endpoint.

    Checked in this order, and nothing is stored unless all pass: body size (WebhookPayloadTooLarge), the token
    of an active endpoint (WebhookNotFound), the signature over the raw body with that endpoint's secret
    (WebhookSignatureInvalid), a JSON object with valid fields (ValidationError keyed by field).
    After: a lead with this `external_id` already in the brokerage is returned untouched with False (a replay);
    otherwise a new unassigned lead is created with True, its `message` logged as an inbound e-mail, and then
    the brokerage's "lead created" automations run (e.g. round-robin assignment and a sequence), so the lead
    returned already carries their effects. The endpoint is the tenant: this service opens its scope.
    """
    if len(body) > MAX_WEBHOOK_BYTES:
        raise WebhookPayloadTooLarge()
    with scopes_disabled():
        webhook = LeadWebhook.objects.select_related("brokerage").filter(token=token, is_active=True).first()
    if webhook is None:
        raise WebhookNotFound()
    match = _SIGNATURE.match((signature_header or "").strip())
    expected = webhook_signature(webhook.secret, body)
    if match is None or not hmac.compare_digest(expected, "sha256=" + match.group(1).lower()):
        raise WebhookSignatureInvalid()
    payload = _webhook_payload(body)
    brokerage = webhook.brokerage
    with scope(brokerage=brokerage), transaction.atomic():
        LeadWebhook.objects.filter(pk=webhook.pk).update(last_received_at=timezone.now())
        existing = Lead.objects.filter(brokerage=brokerage, external_id=payload["external_id"]).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                lead = lead_create(brokerage=brokerage, actor=None, data=payload["data"],
                                   external_id=payload["external_id"], run_automations=False)
        except IntegrityError:  # the same delivery arrived twice at once; the other one stored it
            return Lead.objects.get(brokerage=brokerage, external_id=payload["external_id"]), False
        if payload["message"]:
            interaction_log(brokerage=brokerage, actor=None, lead=lead, channel=Channel.EMAIL,
                            direction=Direction.INBOUND, summary=payload["message"])
        # After the message, so that its "the lead replied" rule does not stop a sequence the automations start.
        triggers.fire(trigger=triggers.LEAD_CREATED, lead=lead, actor=None)
        lead.refresh_from_db()
        return lead, True


def _webhook_payload(body: bytes) -> dict:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValidationError({"body": f"The body is not JSON ({error})."}) from None
    if not isinstance(document, dict):
        raise ValidationError({"body": "The body must be a JSON object."})
    errors: dict[str, list[str]] = {}

    def fail(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    for name in sorted(set(document) - set(WEBHOOK_FIELDS)):
        fail(name, f"Unknown field; the fields are {', '.join(WEBHOOK_FIELDS)}.")
    text = {}
    for name in WEBHOOK_FIELDS:
        value = document.get(name)
        if name in ("areas", "budget_min", "budget_max") or value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            fail(name, "Must be a text.")
        else:
            text[name] = str(value).strip()
    external_id = text.get("external_id", "")
    if not external_id:
        fail("external_id", "Required: your id for this lead, so a repeated delivery is stored once.")
    elif len(external_id) > 100:
        fail("external_id", "At most 100 characters.")
    if not text.get("name"):
        fail("name", "Required.")
    data = {key: text[key] for key in ("name", "email", "phone", "notes") if text.get(key)}
    for name, choices in (("source", Source), ("property_type", PropertyType), ("timeline", Timeline)):
        if text.get(name):
            if text[name] in choices.values:
                data[name] = text[name]
            else:
                fail(name, f"Must be one of {', '.join(choices.values)}.")
    data.setdefault("source", Source.OTHER)
    for name in ("budget_min", "budget_max"):
        value = document.get(name)
        if value in (None, ""):
            continue
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(value)
            data[name] = _amount(str(value))
        except ValueError:
            fail(name, "Must be an amount of at least 0, e.g. 1500000.")
    if data.get("budget_min") is not None and data.get("budget_max") is not None \
            and data["budget_min"] > data["budget_max"]:
        fail("budget_max", "Is below budget_min.")
    if document.get("areas") not in (None, "", []):
        try:
            data["areas"] = clean_labels(document["areas"], field="areas", max_length=80, lower=False)
        except ValidationError:
            fail("areas", "Must be a list of texts or a comma-separated text.")
    if data.get("email"):
        try:
            validate_email(data["email"])
        except ValidationError:
            fail("email", "Not an e-mail address.")
    if data.get("phone"):
        data["phone"] = normalise_phone(data["phone"])
    message = text.get("message", "")
    if len(message) > 5000:
        fail("message", "At most 5,000 characters.")
    for name, problem in _model_check(data).items():
        if name not in errors:
            fail(name, problem)
    if errors:
        raise ValidationError(errors)
    return {"external_id": external_id, "data": data, "message": message}
