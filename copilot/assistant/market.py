"""The brokerage's own market figures, from its own closed deals: the client market snapshot (a branded PDF) and
the figures the market-update e-mail and the neighbourhood guide quote. Nothing here comes from outside the
brokerage's records, and every figure carries the formula a reader can check.

- A closed deal is a won lead with a recorded sale price, dated by its win (its last stage change). Its community
  is the area on the lead (the first, when it lists several) and its type the lead's property type; days to close
  run from the lead's arrival to the win.
- Price per sq ft needs a size, which a lead does not record: it comes from the brokerage's listings marked sold
  with a size, dated by their last change (a sold listing is closed; nothing moves it on).
- Medians of fewer than FEW_DEALS deals are shown but marked: one sale is a price, not a market.

The three readers of nurturing's rows (`closed_deals`, `sold_prices_per_sqft`, `active_listings`) are
brokerage-wide, which no nurturing selector offers (its lead and listing lists follow a member's visibility);
they belong in `nurturing.selectors` and are kept together here until they move there.
"""

import calendar
import datetime as dt
import statistics
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Max, Min
from django.utils import timezone

from brokerages.models import Brokerage
from brokerages.selectors import setting_value
from nurturing.models import Lead, Listing, PropertyType, Stage
from nurturing.selectors.listings import normalise

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
class Deal:
    price: Decimal
    community: str  # as typed on the lead; "" when it names no area
    property_type: str  # a PropertyType value, "" when not recorded
    closed_at: dt.datetime
    days_to_close: int


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


def closed_deals(brokerage: Brokerage, since: dt.datetime, *, community: str = "", property_type: str = ""
                 ) -> list[Deal]:
    """The brokerage's closed deals won from `since` on, of the community (compared without case or extra
    spaces) and the type when given. One query."""
    leads = Lead.objects.filter(brokerage=brokerage, stage=Stage.WON, sale_price__isnull=False,
                                stage_changed_at__gte=since)
    if property_type:
        leads = leads.filter(property_type=property_type)
    if community:
        leads = leads.filter(areas__icontains=max(community.split(), key=len))  # narrowed, then decided below
    deals = []
    for price, areas, kind, created_at, won_at in leads.values_list(
            "sale_price", "areas", "property_type", "created_at", "stage_changed_at"):
        area = str(areas[0]).strip() if areas else ""
        if community and normalise(area) != normalise(community):
            continue
        deals.append(Deal(price, " ".join(area.split()), kind, won_at, max(0, (won_at - created_at).days)))
    return deals


def sold_prices_per_sqft(brokerage: Brokerage, since: dt.datetime, *, community: str = "", property_type: str = ""
                         ) -> list[tuple[str, str, Decimal, dt.datetime]]:
    """(community, type, price ÷ size, last change) of the brokerage's listings marked sold since `since` with a
    size, of the community and type when given. One query."""
    sold = Listing.objects.filter(brokerage=brokerage, status=Listing.Status.SOLD, price__isnull=False,
                                  size_sqft__isnull=False, updated_at__gte=since)
    if property_type:
        sold = sold.filter(property_type=property_type)
    if community:
        sold = sold.filter(community__iexact=" ".join(community.split()))
    return [(place, kind, price / size, changed) for place, kind, price, size, changed in sold.values_list(
        "community", "property_type", "price", "size_sqft", "updated_at")]


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
class OnTheMarket:
    """The brokerage's active listings in a community: how many, and their price range (AED)."""

    listings: int
    lowest: Decimal | None
    highest: Decimal | None


def active_listings(brokerage: Brokerage, community: str) -> OnTheMarket:
    """The brokerage's active listings with a price in the community (one query)."""
    return OnTheMarket(**Listing.objects.filter(
        brokerage=brokerage, status=Listing.Status.ACTIVE, price__isnull=False,
        community__iexact=" ".join(community.split())).aggregate(
        listings=Count("pk"), lowest=Min("price"), highest=Max("price")))


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
