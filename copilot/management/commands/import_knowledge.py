"""Import Markdown/text/PDF files (or folders of them) into a brokerage's knowledge base."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from brokerages.models import Brokerage
from copilot.services import articles_import

SUFFIXES = {".md", ".markdown", ".txt", ".pdf"}


class Command(BaseCommand):
    help = "Import knowledge articles: front matter gives title, category and tags; same title updates."

    def add_arguments(self, parser):
        parser.add_argument("--brokerage", required=True, help="The brokerage's slug.")
        parser.add_argument("paths", nargs="+", help="Files or folders (folders: *.md, *.markdown, *.txt, *.pdf).")

    def handle(self, *args, brokerage, paths, **options):
        target = Brokerage.objects.filter(slug=brokerage).first()
        if target is None:
            raise CommandError(f"No brokerage with slug {brokerage!r}.")
        files: list[tuple[str, bytes]] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                files += [(p.name, p.read_bytes()) for p in sorted(path.rglob("*")) if p.suffix.lower() in SUFFIXES]
            elif path.is_file():
                files.append((path.name, path.read_bytes()))
            else:
                raise CommandError(f"{raw} is neither a file nor a folder.")
        with scope(brokerage=target):
            report = articles_import(brokerage=target, actor=None, files=files)
        for title in report.created:
            self.stdout.write(f"created  {title}")
        for title in report.updated:
            self.stdout.write(f"updated  {title}")
        for name, message in report.errors:
            self.stderr.write(f"FAILED   {name}: {message}")
        self.stdout.write(f"{len(report.created)} created, {len(report.updated)} updated, "
                          f"{len(report.unchanged)} unchanged, {len(report.errors)} failed.")
        if report.errors:
            raise CommandError("Some files could not be imported (see above).")
