"""Removing the words of coaching conversations while keeping what was learnt from them.

Two callers: the brokerage's transcript retention (`transcript_retention_days`: conversations that ended longer
ago lose their text, nightly through `data_retention_apply`) and a lead's erasure (`nurturing.services.erasure`:
that lead's conversations lose theirs at once). Either way a message keeps its place, speaker and time, with its
text replaced by a note saying why; the analysis keeps its scores and findings but not the quotes it gave as
evidence; alerts keep their finding, priority and score lines but not their quotes. Quality scores, alert counts,
session counters, performance profiles and the coaching metrics are computed from what is kept, so they do not
change.
"""

import datetime as dt
import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from brokerages.data_rights import webhook_deliveries_prune
from brokerages.exports.services import data_exports_expire
from brokerages.models import Brokerage
from brokerages.selectors import setting_value
from brokerages.services import audit_record

from ..models import CoachingAlert, Conversation, Message

EXPIRED_TEXT = "[Transcript removed: older than the brokerage's transcript retention period]"
ERASED_TEXT = "[Erased: the lead asked for their personal data to be erased]"
REDACTED_TEXTS = (EXPIRED_TEXT, ERASED_TEXT)
# The lines `alerts._evidence` adds after the quotes: "Closing score: 42.0/100", "Quality Score: 61.5/100".
SCORE_LINE = re.compile(r"^[\w ,()/&-]*score: \d+(\.\d+)?/100$", re.IGNORECASE)
BATCH = 500


def _analysis_without_quotes(analysis: dict) -> dict:
    if not analysis.get("findings"):
        return analysis
    return {**analysis, "findings": [{**finding, "evidence": []} for finding in analysis["findings"]]}


@transaction.atomic
def conversations_redact(*, conversation_ids: Iterable[int], text: str, forget_external_ids: bool = False
                         ) -> dict[str, int]:
    """Replace the text of every message of the conversations with `text` and drop the quotes from their
    analyses and alerts (call it inside the brokerage's scope). `forget_external_ids` also blanks the phone or
    chat system's id of each conversation, which can be the person's number.

    Idempotent: messages already carrying `text` are left alone. Returns counts of messages, conversations and
    alerts changed.
    """
    counts = {"messages": 0, "conversations": 0, "alerts": 0}
    ids = list(conversation_ids)
    for start in range(0, len(ids), BATCH):
        batch = ids[start:start + BATCH]
        counts["messages"] += Message.objects.filter(conversation_id__in=batch).exclude(text=text).update(text=text)
        conversations = []
        for conversation in Conversation.objects.filter(pk__in=batch).only("pk", "analysis", "external_id"):
            analysis = _analysis_without_quotes(conversation.analysis)
            if analysis != conversation.analysis or (forget_external_ids and conversation.external_id):
                conversation.analysis = analysis
                if forget_external_ids:
                    conversation.external_id = ""
                conversations.append(conversation)
        Conversation.objects.bulk_update(conversations, ["analysis", "external_id"])
        counts["conversations"] += len(conversations)
        alerts = []
        for alert in CoachingAlert.objects.filter(conversation_id__in=batch).only("pk", "evidence"):
            kept = [line for line in alert.evidence if isinstance(line, str) and SCORE_LINE.match(line)]
            if kept != alert.evidence:
                alert.evidence = kept
                alerts.append(alert)
        CoachingAlert.objects.bulk_update(alerts, ["evidence"])
        counts["alerts"] += len(alerts)
    return counts


def transcripts_expire(*, brokerage: Brokerage, now: dt.datetime | None = None) -> dict[str, int]:
    """Apply the brokerage's `transcript_retention_days` (0 keeps transcripts): the conversations that ended
    before the cut-off and still have words lose them (`conversations_redact`). Returns the counts."""
    days = setting_value(brokerage, "transcript_retention_days")
    if not days:
        return {}
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    words_left = Message.objects.filter(conversation=OuterRef("pk")).exclude(text__in=REDACTED_TEXTS)
    expired = (Conversation.objects.filter(brokerage=brokerage, ended_at__lt=cutoff).filter(Exists(words_left))
               .values_list("pk", flat=True))
    counts = conversations_redact(conversation_ids=expired, text=EXPIRED_TEXT)
    return {f"transcript_{name}": count for name, count in counts.items()}


def data_retention_apply(*, brokerage: Brokerage, now: dt.datetime | None = None) -> dict[str, int]:
    """The brokerage's nightly data retention (call it inside the brokerage's scope): expired transcripts lose
    their words, finished webhook deliveries past `webhook_delivery_retention_days` are deleted, and data export
    archives past their date are deleted.

    Idempotent: a second run the same night changes nothing. After: when anything was removed, one audit entry
    `data_retention.applied` with the counts and the periods applied (the exports keep their own entries).
    Returns every count.
    """
    now = now or timezone.now()
    counts = transcripts_expire(brokerage=brokerage, now=now)
    pruned = webhook_deliveries_prune(brokerage=brokerage, now=now)
    if pruned:
        counts["webhook_deliveries_deleted"] = pruned
    if any(counts.values()):
        audit_record(brokerage=brokerage, actor=None, action="data_retention.applied", resource_type="settings",
                     details={**counts, "transcript_retention_days": setting_value(
                         brokerage, "transcript_retention_days"), "webhook_delivery_retention_days": setting_value(
                         brokerage, "webhook_delivery_retention_days")})
    return {**counts, **data_exports_expire(brokerage=brokerage, now=now)}
