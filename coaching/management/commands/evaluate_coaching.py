"""Measure the conversation analyser against a labelled set: agreement per area and overall."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from coaching.analysis import analyse_with
from coaching.analysis.evaluation import evaluate, load_cases
from copilot.llm.registry import PROVIDER_NAMES

DEFAULT_CASES = Path(settings.BASE_DIR) / "tests" / "data" / "coaching_conversations.json"


class Command(BaseCommand):
    help = ("Print the analyser's agreement with labelled verdicts (good >= 70, bad < 60, null) per area and overall. "
            "A labelled set is JSON: {\"conversations\": [{\"id\", \"messages\": [{\"speaker\": \"agent\"|\"lead\", "
            "\"text\", \"sent_at\"?}], \"final\": true, \"expected\": {area: \"good\"|\"bad\"|null}}]}.")

    def add_arguments(self, parser):
        parser.add_argument("--cases", default=str(DEFAULT_CASES), help="The labelled set (default: the main set).")
        parser.add_argument("--engine", default="local", choices=PROVIDER_NAMES,
                            help="The engine to measure; a model engine falls back to local when it fails.")
        parser.add_argument("--misses", action="store_true", help="List every verdict it got wrong.")

    def handle(self, *args, cases, engine, misses, **options):
        path = Path(cases)
        if not path.is_file():
            raise CommandError(f"No labelled set at {path}.")
        try:
            labelled = load_cases(path)
        except (ValueError, KeyError, TypeError) as error:
            raise CommandError(f"{path} is not a labelled set: {error!r}") from error
        degraded: list[str] = []

        def analyser(messages, final):
            result = analyse_with(engine, messages, final=final)
            if result.degraded:
                degraded.append(result.degraded_reason or "unknown")
            return result

        report = evaluate(labelled, analyser)
        self.stdout.write(f"{path.name}, engine {engine}")
        self.stdout.write(report.table())
        if degraded:
            self.stdout.write(f"{len(degraded)} conversations fell back to the local engine ({', '.join(sorted(set(degraded)))}).")
        if misses:
            self.stdout.write("\n".join(report.misses) if report.misses else "No misses.")
