"""Coaching alerts: which findings alert at which intensity, raising them for a conversation, acknowledging them.

The intensity policy (the seed's table; each level alerts on everything the level below does, so raising the
intensity never hides an alert):

- LIGHT_TOUCH (high performers): critical findings only.
- MODERATE (average agents): critical findings, and any finding in an area the analysis scores below 60
  ("low quality scores").
- INTENSIVE (developing agents): as MODERATE, plus every high-severity finding.
- CRITICAL (struggling agents): every finding that is not a strength, and manager escalation: high and
  critical findings also go to the brokerage's managers (members holding `manage_coaching`: owners and
  support staff) on their pages and as an in-app notification. Low and medium findings stay coaching tips
  for the agent, so the managers' escalation list holds only what needs a person to step in.

Strengths (positive findings) never alert. An alert is raised once per finding code and conversation, only
while the agent has an ACTIVE session with real-time coaching on (a paused session, or none, raises nothing).
"""

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone
from brokerages.models import Brokerage, User
from brokerages.permissions import ROLE_PERMISSIONS
from brokerages.services import audit_record, notify
from brokerages.webhooks import member_data, webhook_emit_many

from ..analysis.types import Analysis, Finding
from ..models import Area, CoachingAlert, CoachingSession, Conversation, Intensity, Message, Priority
from ..selectors.sessions import active_session_for
from ..realtime import alert_push, alerts_push

PRIORITY_BY_SEVERITY = {"low": Priority.LOW, "medium": Priority.MEDIUM, "high": Priority.HIGH,
                        "critical": Priority.CRITICAL}
# An area scoring under this is a "low quality score" (the scoring contract: handled badly is < 60).
LOW_AREA_SCORE = 60.0
URGENT = ("high", "critical")
DEFAULT_CHANNELS = ("AGENT_ALERT", "IN_APP_MESSAGE")
AREA_LABELS = dict(Area.choices)
# Coaching permissions follow the role (brokerages.permissions): these roles hold `manage_coaching`.
MANAGER_ROLES = tuple(role for role, codenames in ROLE_PERMISSIONS.items() if "manage_coaching" in codenames)


def alert_policy(intensity: str, finding: Finding, analysis: Analysis) -> tuple[bool, bool]:
    """(alert, escalate) for one finding at a session intensity; see the module docstring for the rule."""
    if finding.positive:
        return False, False
    if finding.severity not in PRIORITY_BY_SEVERITY:
        raise ValueError(f"Unknown finding severity {finding.severity!r}")
    area_score = analysis.quality_scores_by_area.get(finding.area)
    low_area = area_score is not None and area_score < LOW_AREA_SCORE
    critical = finding.severity == "critical"
    if intensity == Intensity.LIGHT_TOUCH:
        alert = critical
    elif intensity == Intensity.MODERATE:
        alert = critical or low_area
    elif intensity == Intensity.INTENSIVE:
        alert = finding.severity in URGENT or low_area
    elif intensity == Intensity.CRITICAL:
        alert = True
    else:
        raise ValueError(f"Unknown coaching intensity {intensity!r}")
    return alert, intensity == Intensity.CRITICAL and finding.severity in URGENT


def _evidence(finding: Finding, analysis: Analysis) -> list[str]:
    """The messages the finding quotes, then the scores behind it, in the seed's "Quality Score: 72.5/100"
    style."""
    evidence = list(finding.evidence)
    area_score = analysis.quality_scores_by_area.get(finding.area)
    if area_score is not None:
        label = AREA_LABELS.get(finding.area, finding.area.replace("_", " ").capitalize())
        evidence.append(f"{label} score: {area_score:.1f}/100")
    if analysis.overall_quality_score is not None:
        evidence.append(f"Quality Score: {analysis.overall_quality_score:.1f}/100")
    return evidence


def _managers(brokerage: Brokerage, agent: User) -> list[User]:
    """Active members of the brokerage holding `manage_coaching`, other than the agent themself."""
    return list(User.objects.filter(brokerage=brokerage, role__in=MANAGER_ROLES, is_active=True)
                .exclude(pk=agent.pk).order_by("pk"))


@transaction.atomic
def _notify_managers(conversation: Conversation, escalated: list[CoachingAlert]) -> None:
    brokerage, agent = conversation.brokerage, conversation.agent
    for manager in _managers(brokerage, agent):
        for alert in escalated:
            notify(brokerage=brokerage, recipient=manager, kind="coaching_escalation",
                   message=f"Escalated coaching alert for {agent.display_name}: {alert.title} "
                           f"({alert.get_priority_display().lower()}).",
                   key=f"coaching-escalation-{alert.pk}")


def alert_event_data(alert: CoachingAlert, conversation: Conversation) -> dict:
    """An alert as the coaching webhook events carry it (docs/webhooks.md), with its agent and conversation."""
    return {"alert": {"id": alert.pk, "type": alert.alert_type, "area": alert.area, "code": alert.code,
                      "title": alert.title, "text": alert.text, "priority": alert.priority,
                      "suggested_action": alert.suggested_action, "evidence": alert.evidence,
                      "escalated": alert.escalated, "created_at": alert.created_at},
            "agent": member_data(conversation.agent),
            "conversation": {"id": conversation.pk, "channel": conversation.channel,
                             "external_id": conversation.external_id, "lead_id": conversation.lead_id}}


# No savepoint of its own: it runs inside the caller's transaction, and a failure fails the caller anyway.
@transaction.atomic(savepoint=False)
def alerts_raise(*, conversation: Conversation, analysis: Analysis, message: Message | None = None,
                 ) -> list[CoachingAlert]:
    """Store the alerts the agent's coaching session calls for on this analysis, and push them after commit.

    Before: the caller holds the conversation's row lock (message_record, conversation_end) and is inside the
    brokerage's scope. After: one alert per finding that the policy selects and that this conversation has not
    been alerted on yet, in the analysis's finding order, typed REAL_TIME_SUGGESTION while the conversation is
    live and CONVERSATION_REVIEW for the final analysis; the session's `coaching_alerts_sent` (every alert)
    and `real_time_interventions` (live alerts) count them. After commit the alerts are pushed to the open
    pages, then each manager gets an in-app notification per escalated alert: the live alert leaves first, and
    the notices are not written while the conversation's lock is held. Returns the alerts created (empty
    without an ACTIVE session with real-time coaching).
    """
    session = active_session_for(conversation)
    if session is None or not session.enable_real_time_coaching:
        return []
    alerted = set(CoachingAlert.objects.filter(conversation=conversation).values_list("code", flat=True))
    channels = list(session.preferred_channels or DEFAULT_CHANNELS)
    alert_type = (CoachingAlert.AlertType.CONVERSATION_REVIEW if analysis.final
                  else CoachingAlert.AlertType.REAL_TIME_SUGGESTION)
    candidates = []
    for finding in analysis.findings:
        if finding.code in alerted:
            continue
        alert, escalate = alert_policy(session.intensity, finding, analysis)
        if not alert:
            continue
        alerted.add(finding.code)
        candidates.append(CoachingAlert(
            brokerage_id=conversation.brokerage_id, agent=conversation.agent, conversation=conversation,
            session=session, message=message, alert_type=alert_type, area=finding.area, code=finding.code,
            title=finding.title[:200], text=finding.message, priority=PRIORITY_BY_SEVERITY[finding.severity],
            suggested_action=finding.suggested_action, evidence=_evidence(finding, analysis), channels=channels,
            escalated=escalate))
    if not candidates:
        return []
    # One INSERT; PostgreSQL and SQLite >= 3.35 hand back the new ids. The codes read above are current because
    # the caller holds the conversation's lock; the unique constraint is the backstop for a caller that does
    # not: its transaction fails with an IntegrityError instead of storing a second alert for a finding.
    created = CoachingAlert.objects.bulk_create(candidates)
    live = sum(alert.alert_type == CoachingAlert.AlertType.REAL_TIME_SUGGESTION for alert in created)
    CoachingSession.objects.filter(pk=session.pk).update(
        coaching_alerts_sent=F("coaching_alerts_sent") + len(created),
        real_time_interventions=F("real_time_interventions") + live)
    transaction.on_commit(lambda: alerts_push(created))
    escalated = [alert for alert in created if alert.escalated]
    webhook_emit_many(brokerage=conversation.brokerage_id, events=[
        (event, lambda alert=alert: alert_event_data(alert, conversation))
        for event, alerts in (("coaching.alert", created), ("coaching.escalation", escalated)) for alert in alerts])
    if escalated:
        transaction.on_commit(lambda: _notify_managers(conversation, escalated))
    return created


@transaction.atomic
def alert_acknowledge(*, brokerage: Brokerage, actor: User, alert: CoachingAlert) -> CoachingAlert:
    """The agent marks their alert as seen.

    Before: `alert` was looked up in `brokerage` (another brokerage's alert answers 404). Only the alert's agent
    may acknowledge it (anyone else: PermissionDenied). Idempotent: an acknowledged alert is returned unchanged.
    After: `acknowledged_at` is set, the audit log has an entry, and after commit its new state is pushed, so
    the agent's other tabs and the managers' pages show it acknowledged.
    """
    if alert.brokerage_id != brokerage.pk:
        raise Http404("No such coaching alert.")
    if actor is None or alert.agent_id != actor.pk:
        raise PermissionDenied("Only the agent the alert is for can acknowledge it.")
    locked = CoachingAlert.objects.select_for_update().select_related("agent").get(pk=alert.pk)
    if locked.acknowledged_at is None:
        locked.acknowledged_at = timezone.now()
        locked.save(update_fields=["acknowledged_at"])
        audit_record(brokerage=brokerage, actor=actor, action="coaching.alert_acknowledged", resource=locked,
                     details={"code": locked.code, "conversation": locked.conversation_id})
        transaction.on_commit(lambda: alert_push(locked))
    alert.acknowledged_at = locked.acknowledged_at
    return locked
