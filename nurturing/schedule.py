"""The brokerage's clock for nurturing: its time zone, its local "today", and the quiet hours during which no
message goes out (an approved send waits for them to end).

Quiet hours run from `quiet_hours_start` to `quiet_hours_end` in the brokerage's `timezone` and may wrap
midnight (21:00–08:00). Equal start and end mean no quiet hours at all.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from brokerages.models import Brokerage
from brokerages.selectors import settings_values


@dataclass(frozen=True)
class BrokerageClock:
    tz: zoneinfo.ZoneInfo
    quiet_start: dt.time
    quiet_end: dt.time

    @classmethod
    def of(cls, values: dict) -> "BrokerageClock":
        """From the brokerage's typed settings (`brokerages.selectors.settings_values`)."""
        return cls(zoneinfo.ZoneInfo(values["timezone"]), values["quiet_hours_start"], values["quiet_hours_end"])

    def today(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.tz).date()

    def is_quiet(self, at: dt.datetime) -> bool:
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        local = at.astimezone(self.tz).time()
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def next_allowed_send(self, at: dt.datetime) -> dt.datetime:
        """`at` itself outside quiet hours, else the moment they end (the same night's end, which is the next
        calendar day when they wrap midnight and `at` is before it)."""
        if not self.is_quiet(at):
            return at
        local = at.astimezone(self.tz)
        end = dt.datetime.combine(local.date(), self.quiet_end, tzinfo=self.tz)
        if end <= local:
            end += dt.timedelta(days=1)
        return end


def brokerage_clock(brokerage: Brokerage) -> BrokerageClock:
    return BrokerageClock.of(settings_values(brokerage))


def next_allowed_send(brokerage: Brokerage, at: dt.datetime) -> dt.datetime:
    """When a message approved at `at` may go out: at once, or when the brokerage's quiet hours end."""
    return brokerage_clock(brokerage).next_allowed_send(at)
