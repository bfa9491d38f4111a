"""Demo knowledge: Palm Crest Realty's handbook (copilot/knowledge_seed/*.md) imported as articles."""

from pathlib import Path

from django_scopes import scope

from brokerages.models import Brokerage

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
