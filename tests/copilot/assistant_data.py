"""Test data of the assistant's workflow analysis: leads, follow-ups, messages and scored conversations written
straight to the database with the timestamps a test needs (the analysis only reads them)."""

import datetime as dt
import itertools

from django.utils import timezone

from coaching.models import Conversation
from nurturing.models import Channel, Direction, FollowUp, Interaction, Lead

_numbers = itertools.count(1)
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)


def lead(agent, *, now, stage="contacted", age=None, in_stage=None, last_contact=None, first_contact=None,
         **fields) -> Lead:
    """A lead of `agent` created `age` ago (60 days unless told), at `stage` since `in_stage` ago (since
    creation unless told), last contacted `last_contact` ago and first contacted `first_contact` after creation
    (both None: never contacted)."""
    created = now - (age if age is not None else 60 * DAY)
    number = next(_numbers)
    return Lead.objects.create(
        brokerage=agent.brokerage, assigned_agent=agent, name=fields.pop("name", f"Lead {number} Haddad"),
        email=f"lead{number}@example.test", phone="+971501234567", stage=stage, created_at=created,
        stage_changed_at=now - in_stage if in_stage is not None else None,
        last_contacted_at=now - last_contact if last_contact is not None else None,
        first_contacted_at=created + first_contact if first_contact is not None else (
            created + MINUTE if last_contact is not None else None),
        **fields)


def draft(lead_: Lead, *, send_date, status=FollowUp.Status.DRAFT, reason=FollowUp.Reason.MANUAL,
          channel=Channel.EMAIL) -> FollowUp:
    return FollowUp.objects.create(brokerage=lead_.brokerage, lead=lead_, agent=lead_.assigned_agent, reason=reason,
                                   channel=channel, content="Hello", suggested_send_date=send_date, status=status)


def message(agent, lead_: Lead, text: str, *, at, channel=Channel.WHATSAPP, direction=Direction.OUTBOUND
            ) -> Interaction:
    return Interaction.objects.create(brokerage=lead_.brokerage, lead=lead_, agent=agent, channel=channel,
                                      direction=direction, occurred_at=at, summary=text)


def scored_conversation(agent, areas: dict[str, float], *, ended) -> Conversation:
    """An ended conversation whose full analysis scored `areas` (the overall score is their mean)."""
    score = round(sum(areas.values()) / len(areas), 1)
    return Conversation.objects.create(
        brokerage=agent.brokerage, agent=agent, started_at=ended - 20 * MINUTE, ended_at=ended, message_count=10,
        quality_score=score, analysis_engine="local",
        analysis={"overall_quality_score": score, "quality_scores_by_area": areas, "expertise_scores": {},
                  "final": True})


def now() -> dt.datetime:
    return timezone.now()
