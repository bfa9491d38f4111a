"""Brokerage-wide readers of the CRM's closed deals and listings, for the market figures the assistant quotes
(`copilot.assistant.market`). Unlike the lead and listing lists, they do not follow a member's visibility: the
figures are the brokerage's own market, not anyone's records."""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Max, Min

from brokerages.models import Brokerage

from ..models import Lead, Listing, Stage
from .listings import normalise


@dataclass(frozen=True)
class Deal:
    price: Decimal
    community: str  # as typed on the lead; "" when it names no area
    property_type: str  # a PropertyType value, "" when not recorded
    closed_at: dt.datetime
    days_to_close: int


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
