"""Reads of sequences and enrolments: the sequence lists, one sequence's enrolments as a member may see them, a
lead's enrolments, the leads a member can enrol, and the enrolments whose next step is due."""

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User

from ..models import OPEN_STAGES, Enrollment, Lead, NurturingSequence, SequenceType
from ..permissions import on_visible_leads
from .leads import LeadFilters, leads


def sequence_get(brokerage: Brokerage, pk: int) -> NurturingSequence:
    return get_object_or_404(NurturingSequence.objects.select_related("created_by"), brokerage=brokerage, pk=pk)


def sequences(brokerage: Brokerage, *, active_only: bool = False) -> QuerySet[NurturingSequence]:
    """The brokerage's sequences by name, each with how many enrolments are running (`running_count`)."""
    queryset = NurturingSequence.objects.filter(brokerage=brokerage)
    if active_only:
        queryset = queryset.filter(is_active=True)
    return queryset.select_related("created_by").annotate(running_count=Count(
        "enrollments", filter=Q(enrollments__status__in=[Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED])
    )).order_by("name")


def running_count(sequence: NurturingSequence) -> int:
    """How many of the sequence's enrolments are active or paused."""
    return sequence.enrollments.filter(status__in=[Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED]).count()


def active_sequences(brokerage: Brokerage) -> QuerySet[NurturingSequence]:
    """What the "enrol in sequence" choices offer."""
    return NurturingSequence.objects.filter(brokerage=brokerage, is_active=True).order_by("name")


def enrollment_get(brokerage: Brokerage, pk: int) -> Enrollment:
    return get_object_or_404(Enrollment.objects.select_related("lead", "lead__assigned_agent", "sequence"),
                             brokerage=brokerage, pk=pk)


def sequence_enrollments(brokerage: Brokerage, sequence: NurturingSequence, user: User,
                         perms: frozenset[str]) -> QuerySet[Enrollment]:
    """The sequence's enrolments of leads the user may see, most recent first."""
    queryset = on_visible_leads(Enrollment.objects.filter(brokerage=brokerage, sequence=sequence), user, perms,
                                brokerage)
    return queryset.select_related("lead", "lead__assigned_agent", "enrolled_by", "sequence").order_by(
        "-enrolled_at", "-pk")


def lead_enrollments(brokerage: Brokerage, lead: Lead) -> QuerySet[Enrollment]:
    """Every enrolment of one lead (for its detail page), with the sequence."""
    return Enrollment.objects.filter(brokerage=brokerage, lead=lead).select_related("sequence", "lead").order_by(
        "-enrolled_at")


def enrollable_leads(brokerage: Brokerage, user: User, perms: frozenset[str], sequence: NurturingSequence,
                     q: str = "", limit: int = 10) -> list[Lead]:
    """Leads the user may work that the sequence could take (clients for an inactive-client sequence, open
    leads otherwise; none who opted out), not already running in it; matching `q`, newest first."""
    clients = sequence.sequence_type == SequenceType.INACTIVE_CLIENT
    queryset = leads(brokerage, user, perms, LeadFilters(q=q, clients=clients)).filter(do_not_contact=False)
    if not clients:
        queryset = queryset.filter(stage__in=OPEN_STAGES)
    running = Enrollment.objects.filter(sequence=sequence, status=Enrollment.Status.ACTIVE).values("lead_id")
    return list(queryset.exclude(pk__in=running)[:limit])


def enrollments_due(*, brokerage: Brokerage, now: dt.datetime, limit: int | None = None) -> list[Enrollment]:
    """Active enrolments of the brokerage whose next step is due by `now`, earliest first, with what drafting
    the step needs loaded (lead, its agent and brokerage, the sequence). Enrolments of switched-off sequences
    and of leads who opted out wait; a closed lead's enrolments were already stopped when it closed."""
    queryset = Enrollment.objects.filter(
        brokerage=brokerage, status=Enrollment.Status.ACTIVE, next_due_at__lte=now, sequence__is_active=True,
        lead__do_not_contact=False,
    ).select_related(
        "brokerage", "lead", "lead__assigned_agent", "lead__brokerage", "sequence").order_by("next_due_at", "pk")
    return list(queryset[:limit] if limit else queryset)
