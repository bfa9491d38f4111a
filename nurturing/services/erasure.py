"""Erasing one lead's personal data at their request, in place.

The lead's row stays, with everything the brokerage's figures are made of (stage and its history, source,
dates, contact stamps, budget, areas, property type, timeline, sale price, commission, satisfaction, lost
reason, assignment), so the dashboard, team performance, funnel and retention figures do not move. What
identifies the person or carries what they said goes, here and in every copy the platform made of it:

- the lead: name (→ "Erased lead #<id>"), e-mail, phone, notes, tags, the sender's id (`external_id`); it may no
  longer be contacted (`do_not_contact`), which stops sweeps, sequences and sends for good;
- interaction summaries, stage-change notes, follow-up subjects and texts (open drafts are withdrawn), running
  sequence enrolments (stopped), automation run details;
- the lead's coaching conversations: message texts, the quotes in analyses and alerts, the phone or chat id
  (`coaching.services.retention.conversations_redact`);
- copies outside the CRM: in-app notifications, the audit log entries about the lead, its interactions,
  follow-ups and conversations (the details are rewritten; who did what and when stays), webhook deliveries
  about it (event data replaced; those not sent yet never leave), and data export archives still held
  (deleted: they contain the lead).

Irreversible, owners only, recorded in the audit log with the reason, from which the erased data is scrubbed.
Erasing an erased lead changes nothing and says so.
"""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from brokerages.data_rights import (
    audit_entries_redact,
    notifications_redact,
    scrub,
    webhook_deliveries_redact,
)
from brokerages.exports.services import data_exports_withdraw
from brokerages.models import AuditLog, Brokerage, User
from brokerages.permissions import brokerage_perms
from brokerages.selectors import audit_entries
from brokerages.services import audit_record
from coaching.models import Conversation
from coaching.services.retention import ERASED_TEXT, conversations_redact

from ..models import AutomationRun, Enrollment, FollowUp, Interaction, Lead, StageChange

ERASE_PERMISSION = "manage_brokerage"
CONFIRM_WORD = "ERASE"
ERASED_ACTION = "lead.erased"
# Fields whose recorded changes in the audit log are personal data.
PERSONAL_FIELDS = ("name", "email", "phone", "notes", "tags", "external_id", "summary", "subject", "content")


def erased_name(lead: Lead) -> str:
    return f"Erased lead #{lead.pk}"


def erasure_confirmed(lead: Lead, typed: str) -> bool:
    """The owner typed the lead's name (as it stands) or the word ERASE: the page's and the API's check."""
    typed = " ".join((typed or "").split())
    return typed == CONFIRM_WORD or (bool(typed) and typed.casefold() == " ".join(lead.name.split()).casefold())


def erasure_entry(brokerage: Brokerage, lead: Lead) -> AuditLog | None:
    """The audit entry of the lead's erasure, None when it was never erased."""
    return (audit_entries(brokerage, action=ERASED_ACTION, resource_type="nurturing.lead")
            .filter(action=ERASED_ACTION, resource_id=str(lead.pk)).first())


@dataclass(frozen=True)
class Erasure:
    lead: Lead
    already_erased: bool
    erased_at: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def message(self) -> str:
        when = timezone.localtime(self.erased_at).strftime("%-d %b %Y, %H:%M")
        if self.already_erased:
            return f"This lead's personal data was already erased on {when}; there is nothing left to erase."
        return f"The lead's personal data was erased. The record stays as “{self.lead.name}” for the figures."


def _needles(lead: Lead, *, with_first_name: bool) -> list[str]:
    values = [lead.name, lead.email, lead.phone, lead.external_id]
    if with_first_name and len(lead.first_name) > 2:
        values.append(lead.first_name)
    return [value for value in values if value]


@transaction.atomic
def lead_erase(*, brokerage: Brokerage, actor: User | None, lead: Lead, reason: str) -> Erasure:
    """Erase the lead's personal data in place (see the module docstring for what goes and what stays).

    Before: the lead is this brokerage's; the actor holds `manage_brokerage` (owners; PermissionDenied
    otherwise); `reason` says why (ValidationError when blank, unless the lead is already erased). After: as the module says, plus one audit entry
    `lead.erased` with the reason (the lead's name, e-mail and phone scrubbed from it) and what was changed.
    Idempotent: for a lead already erased, nothing changes and the result says when it was.
    """
    if actor is None or ERASE_PERMISSION not in brokerage_perms(actor, brokerage):
        raise PermissionDenied("Only an owner of the brokerage can erase a lead's personal data.")
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    if (previous := erasure_entry(brokerage, lead)) is not None:
        return Erasure(lead=lead, already_erased=True, erased_at=previous.created_at)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why the data is erased, e.g. “The lead asked by e-mail on 3 May”."})
    everywhere, linked = _needles(lead, with_first_name=False), _needles(lead, with_first_name=True)
    reason = scrub(reason, linked)[:500]
    now = timezone.now()
    counts = _erase_crm(lead, now)
    conversation_ids = list(Conversation.objects.filter(brokerage=brokerage, lead=lead).values_list("pk", flat=True))
    coaching = conversations_redact(conversation_ids=conversation_ids, text=ERASED_TEXT, forget_external_ids=True)
    counts.update({"conversations": len(conversation_ids), "messages": coaching["messages"],
                   "alerts": coaching["alerts"]})
    lead_url = reverse("nurturing:lead", kwargs={"pk": lead.pk})
    counts["notifications"] = (
        notifications_redact(brokerage=brokerage, values=linked, replacement=erased_name(lead), url=lead_url)
        + notifications_redact(brokerage=brokerage, values=everywhere, replacement=erased_name(lead)))
    counts["audit_entries"] = audit_entries_redact(
        brokerage=brokerage, values=linked, fields=PERSONAL_FIELDS, entries=_linked_entries(lead, conversation_ids))
    counts["webhook_deliveries"] = webhook_deliveries_redact(
        brokerage=brokerage, reason="The lead's personal data was erased.",
        deliveries=Q(payload__data__lead__id=lead.pk) | Q(payload__data__conversation__lead_id=lead.pk))
    counts["exports_withdrawn"] = data_exports_withdraw(
        brokerage=brokerage, actor=actor, reason="A lead's personal data was erased after this export was made; "
                                                 "ask for a new one.")
    _anonymise(lead)
    audit_record(brokerage=brokerage, actor=actor, action=ERASED_ACTION, resource=lead,
                 details={"reason": reason, **counts})
    return Erasure(lead=lead, already_erased=False, erased_at=now, counts=counts)


def _erase_crm(lead: Lead, now: dt.datetime) -> dict[str, int]:
    counts = {"interactions": Interaction.objects.filter(lead=lead).update(summary=ERASED_TEXT)}
    StageChange.objects.filter(lead=lead).exclude(note="").update(note="")
    FollowUp.objects.filter(lead=lead, status__in=[FollowUp.Status.DRAFT, FollowUp.Status.APPROVED]).update(
        status=FollowUp.Status.DISMISSED, dismiss_reason="Lead erased", send_after=None, updated_at=now)
    counts["followups"] = FollowUp.objects.filter(lead=lead).update(subject="", content=ERASED_TEXT, updated_at=now)
    counts["enrollments_stopped"] = Enrollment.objects.filter(
        lead=lead, status__in=[Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED]).update(
        status=Enrollment.Status.STOPPED, stop_reason="Lead erased", next_due_at=None, updated_at=now)
    needles = _needles(lead, with_first_name=True)
    runs = []
    for run in AutomationRun.objects.filter(lead=lead).only("pk", "detail"):
        detail = scrub(run.detail, needles)
        if detail != run.detail:
            run.detail = detail
            runs.append(run)
    AutomationRun.objects.bulk_update(runs, ["detail"])
    return counts


def _linked_entries(lead: Lead, conversation_ids: list[int]) -> Q:
    """The audit entries about the lead or about records of it."""
    interactions = [str(pk) for pk in Interaction.objects.filter(lead=lead).values_list("pk", flat=True)]
    followups = [str(pk) for pk in FollowUp.objects.filter(lead=lead).values_list("pk", flat=True)]
    return (Q(resource_type="nurturing.lead", resource_id=str(lead.pk))
            | Q(resource_type="nurturing.interaction", resource_id__in=interactions)
            | Q(resource_type="nurturing.followup", resource_id__in=followups)
            | Q(resource_type="coaching.conversation", resource_id__in=[str(pk) for pk in conversation_ids])
            | Q(details__lead=lead.pk))


def _anonymise(lead: Lead) -> None:
    lead.name = erased_name(lead)
    lead.email = lead.phone = lead.notes = lead.external_id = ""
    lead.tags = []
    lead.next_followup_date = None
    lead.do_not_contact, lead.marketing_consent = True, False
    lead.save(update_fields=["name", "email", "phone", "notes", "external_id", "tags", "next_followup_date",
                             "do_not_contact", "marketing_consent", "updated_at"])
