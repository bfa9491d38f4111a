"""Import leads from a CSV file into a brokerage, with the same checks and report as the import page."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from brokerages.models import Brokerage
from nurturing.services.ingestion import IMPORT_FIELDS, leads_import_csv


class Command(BaseCommand):
    help = ("Import leads from a CSV file: common header names are mapped automatically (override with --map); "
            "rows with problems and duplicates are reported by row number (the header is row 1).")

    def add_arguments(self, parser):
        parser.add_argument("--brokerage", required=True, help="The brokerage's slug.")
        parser.add_argument("file", help="The CSV file (UTF-8).")
        parser.add_argument("--dry-run", action="store_true", help="Check every row and report; store nothing.")
        parser.add_argument("--map", dest="mappings", action="append", default=[], metavar='"CSV Header=field"',
                            help="Map a column to a lead field (empty field: ignore the column). Fields: "
                                 + ", ".join(IMPORT_FIELDS) + ". Repeat for several columns.")
        parser.add_argument("--run-automations", action="store_true",
                            help="Run the brokerage's “lead created” automations for each new lead.")

    def handle(self, *args, brokerage, file, dry_run, mappings, run_automations, **options):
        target = Brokerage.objects.filter(slug=brokerage).first()
        if target is None:
            raise CommandError(f"No brokerage with slug {brokerage!r}.")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"{file} is not a file.")
        mapping = {}
        for entry in mappings:
            header, separator, name = entry.partition("=")
            if not separator or not header.strip():
                raise CommandError(f'--map takes "CSV Header=field", not {entry!r}.')
            mapping[header.strip()] = name.strip()
        try:
            with scope(brokerage=target):
                report = leads_import_csv(brokerage=target, actor=None, data=path.read_bytes(), mapping=mapping,
                                          dry_run=dry_run, run_automations=run_automations)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        self.stdout.write("Columns: " + ", ".join(f"{header} → {name}" for header, name in report.mapping.items()))
        if report.columns_unmapped:
            self.stdout.write("Not imported (unknown columns): " + ", ".join(report.columns_unmapped))
        for number, message in report.duplicates:
            self.stdout.write(f"row {number}: duplicate, {message}")
        for number, message in report.errors:
            self.stderr.write(f"row {number}: {message}")
        verb = "would be created (dry run: nothing stored)" if dry_run else "created"
        self.stdout.write(f"{report.rows} rows: {report.created} {verb}, {len(report.duplicates)} duplicates, "
                          f"{len(report.errors)} with problems.")
