"""Quality & Consistency pages: the brokerage's templates, its compliance rules, and "Check a text".

Everyone in the brokerage reads the templates and the rules and uses the checker; only the owner
(`manage_brokerage`) changes them.
"""

from django.contrib import messages
from django.core.exceptions import BadRequest, ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms, require_perm
from brokerages.web import form_error, tenant_view

from . import compliance
from .forms_quality import CheckForm, ComplianceRuleForm, TemplateForm
from .models import SKELETON_PLACEHOLDERS, ComplianceRule, TemplateKind, skeleton_placeholder_error

EDIT_PERM = "manage_brokerage"
READ_PERM = "view_knowledge_base"


def _can_edit(request) -> bool:
    return EDIT_PERM in request_perms(request)


# --- templates ---------------------------------------------------------------------------------------------

def _skeleton_preview(brokerage, skeleton: str) -> dict:
    """The skeleton filled with sample facts, and how that sample fares in the compliance check."""
    if problem := skeleton_placeholder_error(skeleton):
        return {"error": problem}
    try:
        text = compliance.apply_skeleton(brokerage, compliance.SAMPLE_FACTS, skeleton=skeleton)
    except compliance.SkeletonFactsMissing as missing:
        return {"error": str(missing)}
    report = compliance.compliance_check(brokerage=brokerage, text=text, kind="listing",
                                         permit_number=compliance.SAMPLE_FACTS["permit_number"])
    return {"text": text, "report": report}


@tenant_view(READ_PERM)
def templates(request):
    brokerage = request.brokerage
    posted_kind = request.POST.get("kind") if request.method == "POST" else None
    if request.method == "POST":
        require_perm(request, EDIT_PERM)
        if posted_kind not in TemplateKind.values:
            raise BadRequest("Unknown template.")
    in_force = compliance.templates_for(brokerage)
    forms = {}
    for kind, (text, row) in in_force.items():
        if kind == posted_kind:
            form = TemplateForm(request.POST, kind=kind)
            if form.is_valid():
                try:
                    compliance.template_save(brokerage=brokerage, actor=request.user, kind=kind,
                                             text=form.cleaned_data["text"])
                except ValidationError as error:
                    form_error(form, error)
                else:
                    messages.success(request, f"{TemplateKind(kind).label} saved.")
                    return redirect("copilot:templates")
        else:
            form = TemplateForm(initial={"text": text}, kind=kind)
        forms[kind] = {"form": form, "text": text, "row": row, "label": TemplateKind(kind).label}
    skeleton = in_force[TemplateKind.LISTING_SKELETON][0]
    return render(request, "copilot/quality/templates.html", {
        "forms": forms, "can_edit": _can_edit(request), "skeleton_kind": TemplateKind.LISTING_SKELETON,
        "placeholders": SKELETON_PLACEHOLDERS, "preview": _skeleton_preview(brokerage, skeleton)})


@tenant_view(EDIT_PERM)
@require_POST
def template_preview(request):
    """The live preview of the skeleton being typed (nothing is saved)."""
    skeleton = request.POST.get(f"{TemplateKind.LISTING_SKELETON}-text", "").strip()
    if not skeleton:
        skeleton = compliance.DEFAULT_SKELETON
    return render(request, "copilot/quality/templates.html#preview",
                  {"preview": _skeleton_preview(request.brokerage, skeleton)})


# --- rules -------------------------------------------------------------------------------------------------

@tenant_view(READ_PERM)
def rules(request):
    return render(request, "copilot/quality/rules.html", {
        "rules": compliance.compliance_rules(request.brokerage), "can_edit": _can_edit(request)})


def _rule_form_page(request, form, rule=None):
    return render(request, "copilot/quality/rule_form.html", {"form": form, "rule": rule})


@tenant_view(EDIT_PERM)
def rule_new(request):
    form = ComplianceRuleForm(request.POST or None, initial={"kind": ComplianceRule.Kind.PROHIBITED})
    if request.method == "POST" and form.is_valid():
        try:
            created = compliance.compliance_rule_create(brokerage=request.brokerage, actor=request.user,
                                                        **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"Rule “{created.name}” added: every check from now on applies it.")
            return redirect("copilot:compliance_rules")
    return _rule_form_page(request, form)


@tenant_view(EDIT_PERM, lookup=compliance.compliance_rule_get)
def rule_edit(request, obj):
    initial = {name: getattr(obj, name) for name in ComplianceRuleForm.base_fields}
    form = ComplianceRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            compliance.compliance_rule_update(brokerage=request.brokerage, actor=request.user, rule=obj,
                                              data=form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"Rule “{form.cleaned_data['name']}” saved.")
            return redirect("copilot:compliance_rules")
    return _rule_form_page(request, form, obj)


@tenant_view(EDIT_PERM, lookup=compliance.compliance_rule_get)
@require_POST
def rule_toggle(request, obj):
    rule = compliance.compliance_rule_set_active(brokerage=request.brokerage, actor=request.user, rule=obj,
                                                 is_active=not obj.is_active)
    state = "checked again" if rule.is_active else "no longer checked"
    messages.success(request, f"Rule “{rule.name}” is {state}.")
    return redirect("copilot:compliance_rules")


# --- check a text ------------------------------------------------------------------------------------------

def _annotated_lines(text: str, report: compliance.ComplianceReport) -> list[dict]:
    """The text's lines with the findings on each, so the page can show them where they are."""
    by_line: dict[int, list] = {}
    for finding in report.findings:
        if finding.line is not None:
            by_line.setdefault(finding.line, []).append(finding)
    return [{"number": number, "text": line, "findings": by_line.get(number, [])}
            for number, line in enumerate(text.split("\n"), start=1)]


@tenant_view(READ_PERM)
def check(request):
    form = CheckForm(request.POST or None)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        report = compliance.compliance_check(brokerage=request.brokerage, text=data["text"], kind=data["kind"],
                                             permit_number=data["permit_number"] or None)
        context.update(report=report, lines=_annotated_lines(data["text"], report),
                       missing=[finding for finding in report.findings if finding.line is None],
                       kind_label=compliance.TEXT_KINDS[data["kind"]])
    if request.htmx and not request.htmx.boosted:
        return render(request, "copilot/quality/check.html#result", context)
    return render(request, "copilot/quality/check.html", context)
