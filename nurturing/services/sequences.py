"""Writes for nurturing sequences and the enrolments of leads in them.

An enrolment is one row per lead and sequence, for good: pausing, stopping and enrolling again all move the same
row, and `next_step` only ever grows, so a step that was drafted once is never drafted again (the follow-up's
unique (lead, sequence, step_index) constraint is the backstop). The due-step sweep drafts the step and then
calls `enrollments_advance`; everything else here is a person's (or an automation's) decision.
"""

import datetime as dt
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.services import apply_changes, audit_record
from brokerages.values import clean_choice, clean_name

from ..models import Enrollment, FollowUp, Lead, NurturingSequence, SequenceType, Stage
from ..steps import clean_steps, step_due_at
from .naming import save_named

SEQUENCE_FIELDS = ("name", "sequence_type", "steps", "is_active")
RUNNING = (Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED)


def _clean_name(name) -> str:
    return clean_name(name, what="sequence")


def _clean_type(value) -> str:
    return clean_choice(value, SequenceType, field="sequence_type")


def _save_sequence(sequence: NurturingSequence) -> None:
    save_named(sequence, what="a sequence", exclude=["brokerage", "created_by"])


@transaction.atomic
def sequence_create(*, brokerage: Brokerage, actor: User | None, name: str, sequence_type: str, steps,
                    is_active: bool = True) -> NurturingSequence:
    """A new sequence with steps validated by `clean_steps`. A name already used in the brokerage (in any case)
    raises ValidationError on `name`; bad steps raise it on `steps`, one message per step."""
    sequence = NurturingSequence(brokerage=brokerage, name=_clean_name(name), sequence_type=_clean_type(sequence_type),
                                 steps=clean_steps(steps), is_active=bool(is_active),
                                 created_by=actor if getattr(actor, "pk", None) else None)
    _save_sequence(sequence)
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.sequence_created", resource=sequence,
                 details={"name": sequence.name, "type": sequence.sequence_type, "steps": len(sequence.steps)})
    return sequence


@transaction.atomic
def sequence_update(*, brokerage: Brokerage, actor: User | None, sequence: NurturingSequence,
                    data: dict) -> NurturingSequence:
    """Change name, type, steps and/or is_active (keys of `data`; others are refused).

    Enrolments keep their place: a running enrolment whose next step no longer exists because steps were
    removed is completed, since there is nothing left to send it.
    """
    unknown = set(data) - set(SEQUENCE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown sequence field." for name in sorted(unknown)})
    sequence = NurturingSequence.objects.select_for_update().get(pk=sequence.pk, brokerage=brokerage)
    cleaners = {"name": _clean_name, "sequence_type": _clean_type, "steps": clean_steps, "is_active": bool}
    changed = list(apply_changes(sequence, SEQUENCE_FIELDS, data, clean=lambda name, value: cleaners[name](value)))
    if not changed:
        return sequence
    _save_sequence(sequence)
    completed = 0
    if "steps" in changed:
        completed = Enrollment.objects.filter(sequence=sequence, status__in=RUNNING,
                                              next_step__gte=len(sequence.steps)).update(
            status=Enrollment.Status.COMPLETED, next_due_at=None, updated_at=timezone.now())
    action = "nurturing.sequence_updated"
    if changed == ["is_active"]:
        action = "nurturing.sequence_activated" if sequence.is_active else "nurturing.sequence_deactivated"
    audit_record(brokerage=brokerage, actor=actor, action=action, resource=sequence,
                 details={"name": sequence.name, "fields": sorted(changed), "enrollments_completed": completed})
    return sequence


def sequence_set_active(*, brokerage: Brokerage, actor: User | None, sequence: NurturingSequence,
                        is_active: bool) -> NurturingSequence:
    """Switch the sequence on or off. While it is off its enrolments keep their place but no step falls due
    (the due-step selector skips inactive sequences) and no lead can be enrolled."""
    return sequence_update(brokerage=brokerage, actor=actor, sequence=sequence, data={"is_active": is_active})


def _check_can_run(lead: Lead, sequence: NurturingSequence) -> None:
    """The rules a lead and a sequence must meet for an enrolment to be (or become again) active."""
    if not sequence.is_active:
        raise ValidationError({"sequence": f"“{sequence.name}” is switched off; switch it on before enrolling "
                                           "leads in it."})
    if lead.do_not_contact:
        raise ValidationError({"lead": f"{lead.name} asked not to be contacted, so they cannot be enrolled in a "
                                       "sequence."})
    if sequence.sequence_type == SequenceType.INACTIVE_CLIENT:
        if lead.stage != Stage.WON:
            raise ValidationError({"lead": f"“{sequence.name}” is for clients; {lead.name} is not a won lead."})
    elif not lead.is_open:
        raise ValidationError({"lead": f"{lead.name} is {lead.get_stage_display().lower()}; only open leads can "
                                       f"be enrolled in “{sequence.name}”."})


def _schedule(enrollment: Enrollment, steps: list[dict], since: dt.datetime) -> None:
    """Make the enrolment wait for its next step, or complete it when no step is left."""
    enrollment.next_due_at = step_due_at(steps, enrollment.next_step, since)
    enrollment.status = Enrollment.Status.ACTIVE if enrollment.next_due_at else Enrollment.Status.COMPLETED


@transaction.atomic
def enrollment_enrol(*, brokerage: Brokerage, actor: User | None, lead: Lead,
                     sequence: NurturingSequence) -> Enrollment:
    """Put the lead in the sequence, by hand or by an automation.

    Before: the lead may be contacted; it is open (or, for an inactive-client sequence, a won client); the
    sequence is active — otherwise ValidationError. After: one enrolment row for the lead and sequence. A new
    one starts at step 1, due after that step's delay. An existing one is reused: an active one is left alone,
    a paused or stopped one becomes active again at its next step (due after that step's delay from now), and
    one that already had every step stays completed — `enrollment_summary` says which, for the person.
    """
    if lead.brokerage_id != brokerage.pk or sequence.brokerage_id != brokerage.pk:
        raise ValidationError("The lead and the sequence must belong to this brokerage.")
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    sequence = NurturingSequence.objects.get(pk=sequence.pk, brokerage=brokerage)  # its current steps and switch
    _check_can_run(lead, sequence)
    now = timezone.now()
    enrollment = Enrollment.objects.select_for_update().filter(lead=lead, sequence=sequence).first()
    if enrollment is not None and enrollment.status == Enrollment.Status.ACTIVE:
        return enrollment
    # Steps already drafted for this lead are skipped even if the enrolment's own counter were behind.
    drafted = FollowUp.objects.filter(lead=lead, sequence=sequence, step_index__isnull=False).aggregate(
        last=Max("step_index"))["last"]
    created = enrollment is None
    if created:
        enrollment = Enrollment(brokerage=brokerage, lead=lead, sequence=sequence)
    previous = "" if created else enrollment.status
    enrollment.next_step = max(enrollment.next_step, -1 if drafted is None else drafted + 1)
    enrollment.stop_reason = ""
    _schedule(enrollment, sequence.steps, now)
    if not created and previous == enrollment.status:
        return enrollment  # completed and still nothing left to send
    if created or enrollment.status == Enrollment.Status.ACTIVE:
        enrollment.enrolled_by = actor if getattr(actor, "pk", None) else None
        enrollment.enrolled_at = now
    enrollment.full_clean(exclude=["brokerage", "lead", "sequence", "enrolled_by"], validate_constraints=False)
    enrollment.save()
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.enrollment_created" if created
                 else "nurturing.enrollment_reenrolled", resource=enrollment,
                 details={"lead": lead.pk, "sequence": sequence.pk, "sequence_name": sequence.name,
                          "next_step": enrollment.next_step, "status": enrollment.status, "previous": previous})
    return enrollment


def enrollment_summary(enrollment: Enrollment) -> str:
    """One sentence on where the enrolment stands, for the message after enrolling."""
    lead, sequence = enrollment.lead, enrollment.sequence
    if enrollment.status == Enrollment.Status.COMPLETED:
        return (f"{lead.name} has already been through every step of “{sequence.name}”; nothing is left to "
                "send, and steps already sent are never sent twice.")
    if enrollment.status != Enrollment.Status.ACTIVE:
        return f"{lead.name}'s enrolment in “{sequence.name}” is {enrollment.get_status_display().lower()}."
    due = timezone.localtime(enrollment.next_due_at)
    due = f"{due.day} {due:%b %Y, %H:%M}"
    if enrollment.next_step == 0:
        return f"{lead.name} is enrolled in “{sequence.name}”; step 1 is due {due}."
    return (f"{lead.name} continues “{sequence.name}” at step {enrollment.next_step + 1} of "
            f"{len(sequence.steps)} (due {due}); steps already sent are not repeated.")


def _locked(brokerage: Brokerage, enrollment: Enrollment) -> Enrollment:
    return Enrollment.objects.select_for_update().select_related("lead", "sequence").get(
        pk=enrollment.pk, brokerage=brokerage)


def _refuse(enrollment: Enrollment, verb: str) -> ValidationError:
    return ValidationError(f"This enrolment is {enrollment.get_status_display().lower()}, so it cannot be {verb}.")


@transaction.atomic
def enrollment_pause(*, brokerage: Brokerage, actor: User | None, enrollment: Enrollment) -> Enrollment:
    """Hold an active enrolment where it is: nothing falls due until it is resumed."""
    enrollment = _locked(brokerage, enrollment)
    if enrollment.status != Enrollment.Status.ACTIVE:
        raise _refuse(enrollment, "paused")
    enrollment.status, enrollment.next_due_at = Enrollment.Status.PAUSED, None
    enrollment.save(update_fields=["status", "next_due_at", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.enrollment_paused", resource=enrollment,
                 details={"lead": enrollment.lead_id, "sequence": enrollment.sequence_id,
                          "next_step": enrollment.next_step})
    return enrollment


@transaction.atomic
def enrollment_resume(*, brokerage: Brokerage, actor: User | None, enrollment: Enrollment) -> Enrollment:
    """Carry on a paused enrolment at its pending step, due after that step's delay counted from now. The lead
    and sequence must still meet the enrolment rules (ValidationError otherwise)."""
    enrollment = _locked(brokerage, enrollment)
    if enrollment.status != Enrollment.Status.PAUSED:
        raise _refuse(enrollment, "resumed")
    _check_can_run(enrollment.lead, enrollment.sequence)
    _schedule(enrollment, enrollment.sequence.steps, timezone.now())
    enrollment.save(update_fields=["status", "next_due_at", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.enrollment_resumed", resource=enrollment,
                 details={"lead": enrollment.lead_id, "sequence": enrollment.sequence_id,
                          "next_step": enrollment.next_step, "status": enrollment.status})
    return enrollment


@transaction.atomic
def enrollment_stop(*, brokerage: Brokerage, actor: User | None, enrollment: Enrollment,
                    reason: str = "") -> Enrollment:
    """End an active or paused enrolment. It keeps its place: enrolling the lead again continues from there."""
    enrollment = _locked(brokerage, enrollment)
    if enrollment.status not in RUNNING:
        raise _refuse(enrollment, "stopped")
    reason = " ".join((reason or "").split())[:255]
    if not reason:
        reason = f"Stopped by {actor.display_name}" if getattr(actor, "pk", None) else "Stopped"
    enrollment.status, enrollment.stop_reason, enrollment.next_due_at = Enrollment.Status.STOPPED, reason, None
    enrollment.save(update_fields=["status", "stop_reason", "next_due_at", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.enrollment_stopped", resource=enrollment,
                 details={"lead": enrollment.lead_id, "sequence": enrollment.sequence_id, "reason": reason})
    return enrollment


@transaction.atomic
def enrollments_advance(*, brokerage: Brokerage, enrollments: list[Enrollment],
                        drafted_at: dt.datetime) -> list[Enrollment]:
    """After the sweep drafted each enrolment's pending step (`next_step`) at `drafted_at`: move every one to
    the following step, due after its delay from `drafted_at`, or complete it after the last step.

    Before: the enrolments are the brokerage's, loaded with their sequence (as `enrollments_due` returns them),
    and their follow-ups for the drafted steps exist. One UPDATE per (step, due time) group, never one per row.
    """
    if not enrollments:
        return []
    if any(enrollment.brokerage_id != brokerage.pk for enrollment in enrollments):
        raise ValidationError("Every enrolment must belong to this brokerage.")
    now = timezone.now()
    # Enrolments that land on the same step at the same time share one UPDATE: a sweep moves thousands of them
    # but only a few (sequence, step) pairs, and bulk_update's per-row CASE cost most of the sweep's time.
    groups: dict[tuple, list[int]] = defaultdict(list)
    for enrollment in enrollments:
        steps = enrollment.sequence.steps
        enrollment.next_step = min(enrollment.next_step + 1, len(steps))
        _schedule(enrollment, steps, drafted_at)
        enrollment.updated_at = now
        groups[(enrollment.next_step, enrollment.next_due_at, enrollment.status)].append(enrollment.pk)
    for (next_step, next_due_at, status), pks in groups.items():
        Enrollment.objects.filter(pk__in=pks).update(next_step=next_step, next_due_at=next_due_at, status=status,
                                                     updated_at=now)
    # One entry for the batch: the drafts themselves are audited by the sweep that wrote them.
    audit_record(brokerage=brokerage, actor=None, action="nurturing.enrollments_advanced", details={
        "enrollments": [enrollment.pk for enrollment in enrollments],
        "completed": [enrollment.pk for enrollment in enrollments
                      if enrollment.status == Enrollment.Status.COMPLETED]})
    return enrollments


def enrollment_step_advance(*, enrollment: Enrollment, drafted_at: dt.datetime) -> Enrollment:
    """`enrollments_advance` for one enrolment."""
    return enrollments_advance(brokerage=enrollment.brokerage, enrollments=[enrollment], drafted_at=drafted_at)[0]
