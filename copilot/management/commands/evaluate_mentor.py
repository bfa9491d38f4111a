"""Measure the mentor's retrieval on a labelled question set against the demo handbook, leaving no trace."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scope

from brokerages.services import brokerage_create
from copilot.demo import handbook_files
from copilot.evaluation import evaluate, load_cases
from copilot.services import articles_import


class Rollback(Exception):
    pass


class Command(BaseCommand):
    help = "Print hit@1, hit@3, MRR and abstention precision/recall of the mentor on a labelled question set."

    def add_arguments(self, parser):
        parser.add_argument("--cases", default=str(Path(settings.BASE_DIR) / "tests" / "data" / "mentor_eval.json"))
        parser.add_argument("--misses", action="store_true", help="List every question it got wrong.")

    def handle(self, *args, cases, misses, **options):
        try:
            with transaction.atomic():
                brokerage = brokerage_create(actor=None, name="Evaluation Brokerage", license_number="EVAL-0",
                                             owner_email="evaluation-owner@example.invalid")
                with scope(brokerage=brokerage):
                    articles_import(brokerage=brokerage, actor=None, files=handbook_files())
                    report = evaluate(brokerage, load_cases(Path(cases)))
                raise Rollback
        except Rollback:
            pass
        self.stdout.write(report.table())
        if misses:
            self.stdout.write("\n".join(report.misses))
