"""Run the nurture sweep now, for one brokerage or all of them, and print what it found and did."""

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope, scopes_disabled

from brokerages.models import Brokerage

from ...services.sweeps import nurture_sweep


class Command(BaseCommand):
    help = ("Find forgotten leads and inactive clients, draft their follow-ups and the sequence steps that are due, "
            "escalate idle leads and send approved messages past quiet hours: the periodic sweep, at once.")

    def add_arguments(self, parser):
        parser.add_argument("--brokerage", metavar="SLUG", help="Sweep only this brokerage (its slug).")

    def handle(self, *args, brokerage: str | None = None, **options):
        with scopes_disabled():
            brokerages = Brokerage.objects.order_by("name")
            if brokerage:
                brokerages = brokerages.filter(slug=brokerage.strip())
            brokerages = list(brokerages)
        if brokerage and not brokerages:
            raise CommandError(f"No brokerage has the slug {brokerage!r}.")
        for found in brokerages:
            with scope(brokerage=found):
                result = nurture_sweep(brokerage=found)
            self.stdout.write(
                f"{found.name}: {result.forgotten_leads_count} forgotten leads, {result.inactive_clients_count} "
                f"inactive clients, {len(result.generated_followups)} new drafts ({result.steps_drafted} sequence "
                f"steps), {result.escalated} escalated, {result.unreachable} unreachable, {result.sent} sent, "
                f"{result.automation_runs} automation runs.")
