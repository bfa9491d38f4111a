"""Roll up a brokerage's team performance for a range of days (the nightly task does the last few days; this
re-runs any range, e.g. after an import of historical leads). Idempotent: the days are rewritten, not added to."""

import datetime as dt
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope

from brokerages.models import Brokerage
from analytics.services.rollup import brokerage_zone, performance_rollup


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date; write it as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Rewrite the brokerage's daily team performance rows from its leads and coached conversations."

    def add_arguments(self, parser):
        parser.add_argument("--brokerage", required=True, help="The brokerage's slug.")
        parser.add_argument("--since", required=True, type=_date, help="First day, YYYY-MM-DD.")
        parser.add_argument("--until", type=_date, help="Last day, YYYY-MM-DD (default: today, in the brokerage's "
                                                        "time zone).")

    def handle(self, *args, brokerage, since, until, **options):
        target = Brokerage.objects.filter(slug=brokerage).first()
        if target is None:
            raise CommandError(f"No brokerage with slug {brokerage!r}.")
        started = time.perf_counter()
        with scope(brokerage=target):
            until = until or dt.datetime.now(brokerage_zone(target)).date()
            try:
                result = performance_rollup(brokerage=target, since=since, until=until)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
        self.stdout.write(f"{target.name}: {result.rows} agent-day rows for {result.since} – {result.until} "
                          f"in {time.perf_counter() - started:.2f} s.")
