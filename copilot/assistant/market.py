"""The brokerage's own market figures, from its own closed deals: the client market snapshot (a branded PDF) and
the figures the market-update e-mail and the neighbourhood guide quote. Nothing here comes from outside the
brokerage's records, and every figure carries the formula a reader can check.

- A closed deal is a won lead with a recorded sale price, dated by its win (its last stage change). Its community
  is the area on the lead (the first, when it lists several) and its type the lead's property type; days to close
  run from the lead's arrival to the win.
- Price per sq ft needs a size, which a lead does not record: it comes from the brokerage's listings marked sold
  with a size, dated by their last change (a sold listing is closed; nothing moves it on).
- Medians of fewer than FEW_DEALS deals are shown but marked: one sale is a price, not a market.

The brokerage-wide readers of the CRM's deals and listings are nurturing's (`nurturing.selectors.market`).
"""

import calendar
import datetime as dt
import statistics
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from brokerages.models import Brokerage
from brokerages.selectors import setting_value
from nurturing.models import PropertyType
from nurturing.selectors.listings import normalise
from nurturing.selectors.market import Deal, OnTheMarket, active_listings, closed_deals, sold_prices_per_sqft

WINDOWS_MONTHS = (6, 12)
FEW_DEALS = 3
FORMULAS = (
    ("Closed deal", "A lead won in the period with a recorded sale price; its date is the day it was won."),
    ("Community and type", "The area on the won lead (the first, when it lists several) and its property type."),
    ("Median price", "The middle sale price of the closed deals (the mean of the middle two for an even count)."),
    ("Days to close", "Median days from the lead's arrival to the win."),
    ("Price per sq ft", "Median of price ÷ size over the brokerage's listings marked sold in the period with a "
                        "size; a listing's date is its last change."),
)


@dataclass(frozen=True)
class Figures:
    """One row of the snapshot: the closed deals of a community and type (or all of them)."""

    community: str
    property_type: str  # the label, "" for all types
    deals: int = 0
    median_price: Decimal | None = None
    median_days_to_close: float | None = None
    price_per_sqft: Decimal | None = None
    sized_sales: int = 0

    @property
    def few(self) -> bool:
        return 0 < self.deals < FEW_DEALS


@dataclass(frozen=True)
class Window:
    months: int
    start: dt.date
    end: dt.date
    total: Figures
    rows: list[Figures]

    @property
    def label(self) -> str:
        return f"Last {self.months} months ({self.start:%-d %b %Y} – {self.end:%-d %b %Y})"


@dataclass(frozen=True)
class MarketSnapshot:
    brokerage: Brokerage
    generated_at: dt.datetime
    community: str  # the filter, "" for every community
    property_type: str  # the filter's label, "" for every type
    windows: list[Window]
    formulas: tuple[tuple[str, str], ...] = FORMULAS
    few_deals: int = FEW_DEALS
    title: str = field(default="Market snapshot")

    @property
    def has_data(self) -> bool:
        return any(window.total.deals or window.total.sized_sales for window in self.windows)

    @property
    def scope(self) -> str:
        """What the snapshot covers, in words: "Apartments in Dubai Marina", "Every community"."""
        kind = f"{self.property_type}s" if self.property_type else "Every property type"
        return f"{kind} in {self.community}" if self.community else f"{kind}, every community"

    @property
    def when(self) -> str:
        return f"{self.generated_at:%-d %b %Y}"

    @property
    def subtitle(self) -> str:
        return f"{self.scope} · from {self.brokerage.name}'s own closed deals · {self.when}"

    @property
    def filename(self) -> str:
        return f"{self.brokerage.slug}-market-snapshot-{self.generated_at:%Y-%m-%d}.pdf"


def brokerage_today(brokerage: Brokerage, now: dt.datetime | None = None) -> tuple[dt.date, zoneinfo.ZoneInfo]:
    zone = zoneinfo.ZoneInfo(setting_value(brokerage, "timezone"))
    return (now or timezone.now()).astimezone(zone).date(), zone


def months_back(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier (the month's last day when it is shorter: 31 Aug − 6 months = 28/29 Feb)."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _since(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, zone)


def _median(values: list) -> Decimal | None:
    return statistics.median(values) if values else None


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("1"))


def figures(community: str, property_type: str, deals: list[Deal], per_sqft: list[Decimal]) -> Figures:
    days = [deal.days_to_close for deal in deals]
    return Figures(community=community, property_type=property_type, deals=len(deals),
                   median_price=_money(_median([deal.price for deal in deals])),
                   median_days_to_close=float(statistics.median(days)) if days else None,
                   price_per_sqft=_money(_median(per_sqft)), sized_sales=len(per_sqft))


def _type_label(value: str) -> str:
    return PropertyType(value).label if value in PropertyType.values else "Type not recorded"


def _window(months: int, today: dt.date, zone, deals: list[Deal], per_sqft: list[tuple]) -> Window:
    start = months_back(today, months)
    since = _since(start, zone)
    deals = [deal for deal in deals if deal.closed_at >= since]
    groups: dict[tuple[str, str], tuple[str, list[Deal], list[Decimal]]] = {}
    for deal in deals:
        key = (normalise(deal.community), deal.property_type)
        groups.setdefault(key, (deal.community, [], []))[1].append(deal)
    sized = [(place, kind, value) for place, kind, value, at in per_sqft if at >= since]
    for place, kind, value in sized:
        groups.setdefault((normalise(place), kind), (place, [], []))[2].append(value)
    rows = [figures(place or "Area not recorded", _type_label(kind), group_deals, group_sizes)
            for (_, kind), (place, group_deals, group_sizes) in groups.items()]
    rows.sort(key=lambda row: (-row.deals, -row.sized_sales, row.community.casefold(), row.property_type))
    return Window(months, start, today, figures("All", "", deals, [value for _, _, value in sized]), rows)


def market_snapshot(*, brokerage: Brokerage, community: str = "", property_type: str = "",
                    now: dt.datetime | None = None) -> MarketSnapshot:
    """The client market snapshot over the last 6 and 12 months, by community and type, from the brokerage's own
    closed deals (optionally one community and/or type). Two queries whatever the number of deals."""
    today, zone = brokerage_today(brokerage, now)
    since = _since(months_back(today, max(WINDOWS_MONTHS)), zone)
    deals = closed_deals(brokerage, since, community=community, property_type=property_type)
    per_sqft = sold_prices_per_sqft(brokerage, since, community=community, property_type=property_type)
    return MarketSnapshot(
        brokerage=brokerage, generated_at=(now or timezone.now()).astimezone(zone), community=community,
        property_type=PropertyType(property_type).label if property_type else "",
        windows=[_window(months, today, zone, deals, per_sqft) for months in WINDOWS_MONTHS])


# --- what the content generators quote --------------------------------------------------------------------

@dataclass(frozen=True)
class CommunityFigures:
    community: str
    months: int
    closed: Figures
    on_the_market: OnTheMarket


def community_figures(brokerage: Brokerage, community: str, *, months: int = 6,
                      now: dt.datetime | None = None) -> CommunityFigures:
    """The figures a market-update e-mail or a neighbourhood guide of `community` may quote: the brokerage's
    closed deals there in the last `months` (every type), and its active listings there. Three queries."""
    today, zone = brokerage_today(brokerage, now)
    since = _since(months_back(today, months), zone)
    deals = closed_deals(brokerage, since, community=community)
    sized = [value for _, _, value, _ in sold_prices_per_sqft(brokerage, since, community=community)]
    return CommunityFigures(community, months, figures(community, "", deals, sized),
                            active_listings(brokerage, community))
