"""The Agentic Assistant's automations (the seed's `execute_automation`) and their review.

`automation_run` does the busywork an agent asks for and logs it as an `AssistantRun`:
- `content_generation` — `{"listing_id", "content_type"}`: a marketing text from one listing's facts in the
  brokerage's voice (`content`), with its compliance report;
- `lead_followup` — `{"lead_ids", "reason"}`: follow-up drafts through the nurturing draft service, filed in the
  leads' agents' follow-up queue, where they are reviewed and sent;
- `report_creation` — `{"report": "agent_weekly" | "market_snapshot", ...}`: a branded PDF kept with the run.

Bad requests are refused before anything runs, and no run is logged for them: an unknown type or parameter
(ValidationError naming what is known), a lead or listing the actor cannot see, of another agent or brokerage
(Http404; no lead is drafted when any one is refused), a colleague's report without the permission
(PermissionDenied). Every automation that runs is logged, whatever its outcome: `succeeded` (waiting for review)
or `failed` with the reason (e.g. the listing's missing facts). Nothing leaves the building: text is approved by
the agent, follow-ups are sent from the queue.

Review (`assistant_run_edit`, `assistant_run_approve`, `assistant_run_discard`) is the running agent's alone.
Generated text can be edited; it is approved only when it passes the compliance check, and an approved listing
description becomes the listing's description when the agent may edit the listing.

This is the one copilot module that imports analytics (the agent report, its PDF renderer and the report's
logo-only fetcher): issue 7 sanctions it so that report creation goes through the analytics report service.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics.reports import agent_report, render_pdf, render_report_pdf, report_event_data, weekly_period
from brokerages.models import Brokerage, User
from brokerages.permissions import brokerage_perms
from brokerages.services import audit_record
from brokerages.webhooks import member_data, webhook_emit
from copilot.compliance import MAX_CHECK_CHARS, ComplianceReport, compliance_check, compliance_rules
from copilot.llm import provider_name_for
from copilot.models import AssistantRun, AutomationType
from nurturing.models import PropertyType
from nurturing.selectors.leads import leads as visible_leads
from nurturing.selectors.listings import can_edit_listing, can_view_listing, listing_get
from nurturing.services.followups import followup_create
from nurturing.services.listings import listing_update

from .analysis import analysis_subject
from .content import CONTENT_TYPES, ListingFactsMissing, content_request, generate_content
from .market import MarketSnapshot, market_snapshot
from .opportunities import LEAD_FOLLOWUP_REASONS, MAX_LEADS_PER_RUN

Status = AssistantRun.Status
REPORTS = {"agent_weekly": "Agent weekly report", "market_snapshot": "Client market snapshot"}
PARAMETERS: dict[str, tuple[str, ...]] = {
    AutomationType.CONTENT_GENERATION: ("listing_id", "content_type"),
    AutomationType.LEAD_FOLLOWUP: ("lead_ids", "reason"),
    AutomationType.REPORT_CREATION: ("report", "agent_id", "community", "property_type"),
}
ALREADY_WAITING = "A follow-up for this lead is already waiting in the queue."


def _known(values) -> str:
    return ", ".join(values)


def _whole_number(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise ValidationError({"parameters": f"“{name}” must be a whole number, e.g. 42."})
    return int(value)


def automation_run(*, brokerage: Brokerage, actor: User, automation_type: str, parameters: dict) -> AssistantRun:
    """Run one automation for `actor` (a member of `brokerage` holding use_workflow_automation: the caller checks
    that) and return its logged run, succeeded or failed. Raises ValidationError for an unknown type or a bad
    parameter, Http404 for a lead or listing the actor cannot see, PermissionDenied for a colleague's report
    without view_team_performance; nothing is created then."""
    if automation_type not in AutomationType.values:
        raise ValidationError({"automation_type": f"Unknown automation type “{automation_type}”. Known types: "
                                                  f"{_known(AutomationType.values)}."})
    if not isinstance(parameters, dict):
        raise ValidationError({"parameters": "Give the parameters as an object, e.g. {\"listing_id\": 42}."})
    unknown = sorted(set(parameters) - set(PARAMETERS[automation_type]))
    if unknown:
        raise ValidationError({"parameters": f"Unknown parameter{'s' if len(unknown) > 1 else ''} for "
                                             f"{automation_type}: {_known(unknown)}. Known: "
                                             f"{_known(PARAMETERS[automation_type])}."})
    runner = {AutomationType.CONTENT_GENERATION: _generate_content, AutomationType.LEAD_FOLLOWUP: _draft_followups,
              AutomationType.REPORT_CREATION: _create_report}[automation_type]
    return runner(brokerage=brokerage, actor=actor, perms=brokerage_perms(actor, brokerage), parameters=parameters)


@transaction.atomic
def _record(*, brokerage: Brokerage, actor: User, automation_type: str, inputs: dict, output: dict, engine: str,
            degraded: bool = False, error: str = "", pdf: bytes | None = None) -> AssistantRun:
    """Log a run: failed when `error` says why, else succeeded (waiting for review); a PDF is stored with it."""
    run = AssistantRun(brokerage=brokerage, agent=actor, automation_type=automation_type,
                       status=Status.FAILED if error else Status.SUCCEEDED, inputs=inputs, output=output,
                       engine=engine, degraded=degraded, error=error[:500])
    run.full_clean()
    if pdf is not None:  # stored once the row is known to be valid, so no file is left without its run
        run.report_file.save("report.pdf", ContentFile(pdf), save=False)
    run.save()
    audit_record(brokerage=brokerage, actor=actor, action=f"assistant.run_{run.status}", resource=run,
                 details={"automation_type": automation_type, "engine": engine, "degraded": degraded,
                          **({"error": run.error} if error else {})})
    return run


# --- content generation ------------------------------------------------------------------------------------

def _check(brokerage: Brokerage, run: AssistantRun, text: str) -> ComplianceReport:
    """The compliance report of a run's text (the generated one or the agent's) against the rules as they are."""
    return compliance_check(brokerage=brokerage, text=text, kind=run.output["text_kind"],
                            permit_number=run.output.get("permit_number") or None)


def _generate_content(*, brokerage: Brokerage, actor: User, perms: frozenset[str], parameters: dict) -> AssistantRun:
    content_type = parameters.get("content_type", "listing_description")
    if content_type not in CONTENT_TYPES:
        raise ValidationError({"parameters": f"Unknown content type “{content_type}”. Known: "
                                             f"{_known(CONTENT_TYPES)}."})
    if "listing_id" not in parameters:
        raise ValidationError({"parameters": "Say which listing to write about: “listing_id”."})
    listing = listing_get(brokerage, _whole_number(parameters["listing_id"], "listing_id"))
    if not can_view_listing(actor, perms, listing):
        raise Http404("No such listing among the listings you can see.")
    kind = CONTENT_TYPES[content_type]
    inputs = {"listing_id": listing.pk, "content_type": content_type}
    output = {"listing_id": listing.pk, "listing_title": listing.title, "content_type": content_type,
              "content_label": kind.label, "text_kind": kind.text_kind, "permit_number": listing.permit_number}
    engine = provider_name_for(brokerage)
    rules = compliance_rules(brokerage)
    try:
        request = content_request(brokerage=brokerage, listing=listing, content_type=content_type,
                                  agent_name=actor.display_name, rules=rules)
    except ListingFactsMissing as missing:
        return _record(brokerage=brokerage, actor=actor, automation_type=AutomationType.CONTENT_GENERATION,
                       inputs=inputs, output={**output, "missing": missing.labels}, engine=engine,
                       error=str(missing))
    content = generate_content(request, engine=engine)
    report = compliance_check(brokerage=brokerage, text=content.text, kind=kind.text_kind,
                              permit_number=listing.permit_number, rules=rules)
    output.update(title=content.title, text=content.text, compliance=report.as_dict(), notes=list(content.notes),
                  degraded_reason=content.degraded_reason)
    return _record(brokerage=brokerage, actor=actor, automation_type=AutomationType.CONTENT_GENERATION,
                   inputs=inputs, output=output, engine=engine, degraded=content.degraded)


# --- lead follow-up ----------------------------------------------------------------------------------------

def _lead_ids(value) -> list[int]:
    if not isinstance(value, list) or not value:
        raise ValidationError({"parameters": "“lead_ids” must be a list of lead ids, e.g. [12, 15]."})
    ids = list(dict.fromkeys(_whole_number(item, "lead_ids") for item in value))
    if len(ids) > MAX_LEADS_PER_RUN:
        raise ValidationError({"parameters": f"Draft for at most {MAX_LEADS_PER_RUN} leads at a time; "
                                             f"{len(ids)} were given."})
    return ids


def _draft_followups(*, brokerage: Brokerage, actor: User, perms: frozenset[str], parameters: dict) -> AssistantRun:
    ids = _lead_ids(parameters.get("lead_ids"))
    reason = parameters.get("reason")
    if reason not in LEAD_FOLLOWUP_REASONS:
        raise ValidationError({"parameters": f"Unknown follow-up reason “{reason}”. Known: "
                                             f"{_known(LEAD_FOLLOWUP_REASONS)}."})
    leads = {lead.pk: lead for lead in visible_leads(brokerage, actor, perms).filter(pk__in=ids)}
    refused = [str(pk) for pk in ids if pk not in leads]
    if refused:  # checked for all before any is drafted: the run is all or nothing
        raise Http404(f"No lead {', '.join(refused)} among your leads; nothing was drafted.")
    spec = LEAD_FOLLOWUP_REASONS[reason]
    drafted, skipped = [], []
    for pk in ids:
        lead = leads[pk]
        try:
            followup = followup_create(brokerage=brokerage, actor=actor, lead=lead, reason=spec.followup_reason,
                                       instruction=spec.instruction)
        except ValidationError as error:  # opted out, or no phone or e-mail to reach them
            skipped.append({"lead_id": pk, "lead_name": lead.name, "why": " ".join(error.messages)})
            continue
        if followup is None:
            skipped.append({"lead_id": pk, "lead_name": lead.name, "why": ALREADY_WAITING})
        else:
            drafted.append({"followup_id": followup.pk, "lead_id": pk, "lead_name": lead.name,
                            "channel": followup.channel, "degraded": followup.degraded})
    problems = [item for item in skipped if item["why"] != ALREADY_WAITING]
    error = "" if drafted or not problems else "No follow-up could be drafted: " + "; ".join(
        f"{item['lead_name']}: {item['why']}" for item in problems)
    return _record(brokerage=brokerage, actor=actor, automation_type=AutomationType.LEAD_FOLLOWUP,
                   inputs={"lead_ids": ids, "reason": reason},
                   output={"reason": reason, "drafted": drafted, "skipped": skipped,
                           "queue_url": reverse("nurturing:followups")},
                   engine=provider_name_for(brokerage), degraded=any(item["degraded"] for item in drafted),
                   error=error)


# --- reports -----------------------------------------------------------------------------------------------

def render_snapshot_pdf(snapshot: MarketSnapshot) -> bytes:
    """The market snapshot as an A4 PDF, in the analytics reports' document and brand header."""
    return render_pdf(render_to_string("copilot/runs/market_snapshot.html", {"report": snapshot}), snapshot.brokerage)


def _money(value) -> str | None:
    return None if value is None else str(value)


def _snapshot_summary(snapshot: MarketSnapshot) -> list[dict]:
    return [{"months": window.months, "start": window.start.isoformat(), "end": window.end.isoformat(),
             "deals": window.total.deals, "median_price": _money(window.total.median_price),
             "median_days_to_close": window.total.median_days_to_close,
             "price_per_sqft": _money(window.total.price_per_sqft), "groups": len(window.rows)}
            for window in snapshot.windows]


def _create_report(*, brokerage: Brokerage, actor: User, perms: frozenset[str], parameters: dict) -> AssistantRun:
    kind = parameters.get("report")
    if kind not in REPORTS:
        raise ValidationError({"parameters": f"Unknown report “{kind}”. Known: {_known(REPORTS)}."})
    if kind == "agent_weekly":
        if {"community", "property_type"} & set(parameters):
            raise ValidationError({"parameters": "A community or property type narrows a market snapshot only."})
        agent_id = parameters.get("agent_id")
        agent = analysis_subject(brokerage=brokerage, actor=actor, perms=perms,
                                 agent_id=None if agent_id is None else _whole_number(agent_id, "agent_id"))
        period = weekly_period(brokerage)
        report = agent_report(brokerage=brokerage, agent=agent, period=period)
        pdf = render_report_pdf(report)
        inputs = {"report": kind, "agent_id": agent.pk}
        output = {"report": kind, "title": report.title, "period": period.label, "start": period.start.isoformat(),
                  "end": period.end.isoformat(), "agent_id": agent.pk, "agent_name": agent.display_name,
                  "has_data": report.has_data, "filename": report.filename}
        event = report_event_data(report, size=len(pdf), source="assistant", requested_by=actor)
    else:
        if "agent_id" in parameters:
            raise ValidationError({"parameters": "A market snapshot is the brokerage's, not an agent's: leave out "
                                                 "“agent_id”."})
        community = " ".join(str(parameters.get("community") or "").split())
        property_type = parameters.get("property_type") or ""
        if len(community) > 100:
            raise ValidationError({"parameters": "Name the community in at most 100 characters."})
        if property_type not in ("", *PropertyType.values):
            raise ValidationError({"parameters": f"Unknown property type “{property_type}”. Known: "
                                                 f"{_known(PropertyType.values)}."})
        snapshot = market_snapshot(brokerage=brokerage, community=community, property_type=property_type)
        pdf = render_snapshot_pdf(snapshot)
        inputs = {"report": kind, "community": community, "property_type": property_type}
        output = {"report": kind, "title": snapshot.title, "scope": snapshot.scope, "community": community,
                  "property_type": property_type, "windows": _snapshot_summary(snapshot),
                  "has_data": snapshot.has_data, "filename": snapshot.filename}
        event = {"report": {"kind": kind, "title": snapshot.title, "filename": snapshot.filename,
                            "bytes": len(pdf), "period": None, "agent": None},
                 "source": "assistant", "requested_by": member_data(actor)}
    output.update(report_label=REPORTS[kind], bytes=len(pdf))
    # Reports are computed from the brokerage's records: no model is involved.
    run = _record(brokerage=brokerage, actor=actor, automation_type=AutomationType.REPORT_CREATION,
                  inputs=inputs, output=output, engine="local", pdf=pdf)
    webhook_emit(brokerage=brokerage, event="report.generated", data={**event, "assistant_run_id": run.pk})
    return run


# --- reading runs ------------------------------------------------------------------------------------------

def assistant_run_get(brokerage: Brokerage, pk: int) -> AssistantRun:
    """The brokerage's run; another brokerage's answers 404."""
    return get_object_or_404(AssistantRun.objects.select_related("agent"), brokerage=brokerage, pk=pk)


def assistant_runs(brokerage: Brokerage, agent: User) -> QuerySet[AssistantRun]:
    """The agent's automation history, newest first."""
    return AssistantRun.objects.filter(brokerage=brokerage, agent=agent)


def can_review_run(user, perms: frozenset[str], run: AssistantRun) -> bool:
    """A run is its agent's: only they see and review it (a colleague of the brokerage gets 403)."""
    return run.agent_id == user.pk


def run_compliance(run: AssistantRun) -> ComplianceReport | None:
    """The compliance report of the run's text as it stands (None for runs without text): checked now, so a
    rule the owner changed since the run counts."""
    if not run.is_content or run.status == Status.FAILED:
        return None
    return _check(run.brokerage, run, run.text)


# --- review ------------------------------------------------------------------------------------------------

def _locked(brokerage: Brokerage, actor: User, run: AssistantRun) -> AssistantRun:
    run = AssistantRun.objects.select_for_update().select_related("brokerage").get(pk=run.pk, brokerage=brokerage)
    if run.agent_id != actor.pk:
        raise PermissionDenied("Only the agent who ran this automation reviews it.")
    return run


def _refuse_closed(run: AssistantRun) -> None:
    if run.status != Status.SUCCEEDED:
        raise ValidationError(f"This run is {run.get_status_display().lower()}: nothing more can be done with it.")


def _needs_text(run: AssistantRun, verb: str) -> None:
    if not run.is_content:
        raise ValidationError(f"Only generated marketing text is {verb}; follow-up drafts are reviewed in the "
                              "follow-up queue, and a report is downloaded or discarded.")


@transaction.atomic
def assistant_run_edit(*, brokerage: Brokerage, actor: User, run: AssistantRun, text: str) -> AssistantRun:
    """Replace the generated text with the agent's version (the generated one stays in the output). The
    compliance report is recomputed for it. Before: the run is the actor's, generated text, waiting for review."""
    run = _locked(brokerage, actor, run)
    _needs_text(run, "edited")
    _refuse_closed(run)
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise ValidationError({"text": "The text is empty: write it, or discard the run."})
    if len(text) > MAX_CHECK_CHARS:
        raise ValidationError({"text": f"Keep the text under {MAX_CHECK_CHARS:,} characters."})
    edited = "" if text == run.output.get("text") else text
    if edited == run.edited_text:
        return run
    report = _check(brokerage, run, text)
    run.edited_text = edited
    run.output["compliance"] = report.as_dict()
    run.save(update_fields=["edited_text", "output", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="assistant.run_edited", resource=run,
                 details={"characters": len(text), "passes_compliance": report.passed, "reverted": not edited})
    return run


@transaction.atomic
def assistant_run_approve(*, brokerage: Brokerage, actor: User, run: AssistantRun) -> AssistantRun:
    """Approve generated marketing text. It must pass the compliance check as the rules stand now; otherwise
    ValidationError lists every finding, one per line. An approved listing description becomes the listing's
    description when the actor may edit the listing (`output.applied_to_listing` says whether it did)."""
    run = _locked(brokerage, actor, run)
    _needs_text(run, "approved")
    _refuse_closed(run)
    report = _check(brokerage, run, run.text)
    if not report.passed:
        count = len(report.findings)
        raise ValidationError([f"This text cannot be approved until it passes the compliance check: {count} "
                               f"problem{'s' if count > 1 else ''} to fix."]
                              + [finding.message for finding in report.findings])
    applied = False
    if run.output["content_type"] == "listing_description":
        listing = listing_get(brokerage, run.output["listing_id"])
        if can_edit_listing(actor, brokerage_perms(actor, brokerage), listing):
            listing_update(brokerage=brokerage, actor=actor, listing=listing, data={"description": run.text})
            applied = True
    run.status, run.reviewed_at = Status.APPROVED, timezone.now()
    run.output.update(compliance=report.as_dict(), applied_to_listing=applied)
    run.save(update_fields=["status", "reviewed_at", "output", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="assistant.run_approved", resource=run,
                 details={"content_type": run.output["content_type"], "applied_to_listing": applied,
                          "edited": bool(run.edited_text)})
    return run


@transaction.atomic
def assistant_run_discard(*, brokerage: Brokerage, actor: User, run: AssistantRun) -> AssistantRun:
    """Set aside generated text or a report the agent will not use (follow-up drafts are dismissed one by one
    in the queue). Before: the run is the actor's and waiting for review."""
    run = _locked(brokerage, actor, run)
    if run.automation_type == AutomationType.LEAD_FOLLOWUP:
        raise ValidationError("Follow-up drafts are dismissed one by one in the follow-up queue.")
    _refuse_closed(run)
    run.status, run.reviewed_at = Status.DISCARDED, timezone.now()
    run.save(update_fields=["status", "reviewed_at", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="assistant.run_discarded", resource=run,
                 details={"automation_type": run.automation_type})
    return run
