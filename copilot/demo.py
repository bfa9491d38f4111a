"""Demo knowledge: Palm Crest Realty's handbook (copilot/knowledge_seed/*.md) imported as articles; its compliance
rules (the defaults and one of the owner's own) and its tone of voice."""

from pathlib import Path

from django_scopes import scope

from brokerages.models import Brokerage

from .compliance import compliance_rule_create, compliance_rules_seed_defaults, template_save
from .models import BrokerageTemplate, ComplianceRule, TemplateKind
from .services import articles_import

SEED_DIR = Path(__file__).resolve().parent / "knowledge_seed"
DEMO_BROKERAGE_SLUG = "palm-crest"


def handbook_files() -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(SEED_DIR.glob("*.md"))]


def seed(result) -> None:
    brokerage = Brokerage.objects.get(slug=DEMO_BROKERAGE_SLUG)
    with scope(brokerage=brokerage):
        report = articles_import(brokerage=brokerage, actor=None, files=handbook_files())
    if report.created:
        result.created.append(f"{len(report.created)} knowledge articles")
    if report.errors:
        result.updated.append("knowledge import errors: " + "; ".join(f"{n}: {m}" for n, m in report.errors))
    with scope(brokerage=brokerage):
        _seed_quality(brokerage, result)


DEMO_TONE = ("Palm Crest writes like a trusted neighbour who knows the market: warm, precise and calm. Lead with "
             "the view, the light and the community; give sizes and prices exactly; no exclamation marks, no "
             "superlatives we cannot prove, never a promise about returns.")
DEMO_RULE = {"kind": "prohibited", "name": "Cheapest in the area", "pattern": "cheapest in", "applies_to": "listing",
             "explanation": "an unverifiable price comparison; state the price and let buyers compare."}


def _seed_quality(brokerage: Brokerage, result) -> None:
    """Leaves alone whatever the owner has already changed: only what is missing is added."""
    if created := compliance_rules_seed_defaults(brokerage=brokerage):
        result.created.append(f"{created} compliance rules")
    if not ComplianceRule.objects.filter(brokerage=brokerage, name=DEMO_RULE["name"]).exists():
        compliance_rule_create(brokerage=brokerage, actor=None, **DEMO_RULE)
        result.created.append(f"compliance rule “{DEMO_RULE['name']}”")
    if not BrokerageTemplate.objects.filter(brokerage=brokerage, kind=TemplateKind.TONE_OF_VOICE).exists():
        template_save(brokerage=brokerage, actor=None, kind=TemplateKind.TONE_OF_VOICE, text=DEMO_TONE)
        result.created.append("tone of voice")
