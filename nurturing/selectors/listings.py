"""Reads of listings: who sees and edits which listing, the filtered list, and matching listings to leads.

Visibility (documented for the pages, the API and the assistant alike): owners and support staff
(`manage_leads`) see and edit every listing of the brokerage. An agent (`work_leads`) edits the listings they are
the listing agent of, and sees those plus every listing of the brokerage that is past the draft stage — agents
offer their colleagues' properties to their own leads, so the brokerage's stock is shared read-only; a
colleague's unfinished draft is not.

Matching: a lead and a listing match when
- the price is within the lead's budget, or no more than `BUDGET_TOLERANCE` (10 %) outside it (a lead must
  state a budget: a minimum, a maximum or both);
- the listing's community is one of the lead's areas (compared without case and extra spaces);
- when the lead asks for a property type, the listing is of that type;
- when the lead asks for a number of bedrooms (see `lead_bedrooms`), the listing has at least that many.
Only open leads that may be contacted take part, and only active listings are offered to a lead. Each match has
a score out of 100 (in budget 40, or 25 within the tolerance; area 30; type as asked 15; bedrooms as asked 15,
or 8 when there are more) and the reasons a person reads, best first.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet
from django.db.models.functions import Lower
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User
from brokerages.permissions import brokerage_perms

from ..models import OPEN_STAGES, Lead, Listing, ListingPhoto
from ..permissions import leads_visible_to

Status = Listing.Status
BUDGET_TOLERANCE = Decimal("0.10")
SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "price": ("price", "-id"),
    "-price": ("-price", "-id"),
    "size": ("size_sqft", "-id"),
    "-size": ("-size_sqft", "-id"),
    "bedrooms": ("bedrooms", "-id"),
    "-bedrooms": ("-bedrooms", "-id"),
    "community": ("community", "title", "-id"),
}


# Access


def listing_get(brokerage: Brokerage, pk: int) -> Listing:
    return get_object_or_404(Listing.objects.select_related("listing_agent"), brokerage=brokerage, pk=pk)


def photo_get(brokerage: Brokerage, pk: int) -> ListingPhoto:
    return get_object_or_404(ListingPhoto.objects.select_related("listing"), brokerage=brokerage, pk=pk)


def can_edit_listing(user, perms: frozenset[str], listing: Listing) -> bool:
    return "manage_leads" in perms or ("work_leads" in perms and listing.listing_agent_id == user.pk)


def can_view_listing(user, perms: frozenset[str], listing: Listing) -> bool:
    return can_edit_listing(user, perms, listing) or ("work_leads" in perms and listing.status != Status.DRAFT)


def can_edit_photo(user, perms: frozenset[str], photo: ListingPhoto) -> bool:
    return can_edit_listing(user, perms, photo.listing)


def listings_visible_to(user, perms: frozenset[str], queryset: QuerySet[Listing]) -> QuerySet[Listing]:
    """`queryset` (already the brokerage's) narrowed to what the user may see."""
    if "manage_leads" in perms:
        return queryset
    if "work_leads" not in perms:
        return queryset.none()
    return queryset.filter(Q(listing_agent=user) | ~Q(status=Status.DRAFT))


# The list


@dataclass(frozen=True)
class ListingFilters:
    q: str = ""
    status: str = ""
    community: str = ""
    purpose: str = ""
    property_type: str = ""
    mine: bool = False
    sort: str = "newest"


def listings(brokerage: Brokerage, user: User, perms: frozenset[str], filters: ListingFilters = ListingFilters()
             ) -> QuerySet[Listing]:
    """The listings the user may see, filtered and sorted (newest first unless told), with their agent and
    their cover photo (`listing.cover`, a one-item list) loaded."""
    queryset = listings_visible_to(user, perms, Listing.objects.filter(brokerage=brokerage))
    if filters.q:
        text = filters.q.strip()
        queryset = queryset.filter(Q(title__icontains=text) | Q(building__icontains=text)
                                   | Q(permit_number__icontains=text))
    if filters.community:
        queryset = queryset.filter(community__icontains=" ".join(filters.community.split()))
    for name in ("status", "purpose", "property_type"):
        if getattr(filters, name):
            queryset = queryset.filter(**{name: getattr(filters, name)})
    if filters.mine:
        queryset = queryset.filter(listing_agent=user)
    covers = Prefetch("photos", queryset=ListingPhoto.objects.filter(position=0), to_attr="cover")
    return (queryset.select_related("listing_agent").prefetch_related(covers)
            .order_by(*SORTS.get(filters.sort, SORTS["newest"])))


def listing_photos(listing: Listing) -> list[ListingPhoto]:
    return list(listing.photos.all())


def communities(brokerage: Brokerage) -> list[str]:
    """The communities the brokerage has listings in, for the filter's suggestions."""
    return sorted(Listing.objects.filter(brokerage=brokerage).exclude(community="").order_by()
                  .values_list("community", flat=True).distinct(), key=str.casefold)


# Matching


@dataclass(frozen=True)
class Match:
    listing: Listing
    lead: Lead
    score: int
    reasons: tuple[str, ...]


def normalise(text: str) -> str:
    """A community or area as matching compares it: no case, single spaces."""
    return " ".join(str(text).split()).casefold()


_BEDROOMS = re.compile(r"\b(\d{1,2})\s*-?\s*(?:bed(?:room)?s?|br|bhk)\b|\b(studio)\b", re.IGNORECASE)


def lead_bedrooms(lead: Lead) -> int | None:
    """How many bedrooms the lead asks for, if they said: the Lead has no bedrooms field, so it is read from a
    tag ("2 bed", "3br", "studio") or else from the notes ("looking for a 2-bedroom"). When several are named
    ("2 or 3 bed"), the smallest is what they need at least; a studio counts as 0."""
    for text in (" ".join(lead.tags), lead.notes):
        found = [0 if studio else int(number) for number, studio in _BEDROOMS.findall(text or "")]
        if found:
            return min(found)
    return None


def aed(amount: Decimal) -> str:
    """A price the way agents say it: AED 1.25M, AED 850K."""
    if amount >= 1_000_000:
        return f"AED {amount / 1_000_000:.2f}".rstrip("0").rstrip(".") + "M"
    if amount >= 1_000:
        return f"AED {amount / 1_000:.0f}K"
    return f"AED {amount:.0f}"


def _budget_text(lead: Lead) -> str:
    if lead.budget_min is not None and lead.budget_max is not None:
        return f"{aed(lead.budget_min)}–{aed(lead.budget_max)}".replace("–AED ", "–")
    if lead.budget_min is not None:
        return f"from {aed(lead.budget_min)}"
    return f"up to {aed(lead.budget_max)}"


def _budget_fit(price: Decimal, lead: Lead) -> tuple[int, str] | None:
    low, high = lead.budget_min, lead.budget_max
    if low is None and high is None:
        return None
    if (low is None or price >= low) and (high is None or price <= high):
        return 40, f"in budget ({_budget_text(lead)})"
    if high is not None and price > high and price <= high * (1 + BUDGET_TOLERANCE):
        return 25, f"{(price / high - 1) * 100:.0f} % above the budget ({_budget_text(lead)})"
    if low is not None and price < low and price >= low * (1 - BUDGET_TOLERANCE):
        return 25, f"{(1 - price / low) * 100:.0f} % below the budget ({_budget_text(lead)})"
    return None


def _bedrooms_text(count: int) -> str:
    return "studio" if count == 0 else f"{count} bed"


def score_match(listing: Listing, lead: Lead) -> Match | None:
    """The match of one listing and one lead by the rules in this module's docstring, or None."""
    if listing.price is None or not listing.community:
        return None
    budget = _budget_fit(listing.price, lead)
    if budget is None or normalise(listing.community) not in {normalise(area) for area in lead.areas}:
        return None
    score, reasons = budget[0] + 30, [budget[1], f"in {listing.community}"]
    if lead.property_type:
        if listing.property_type != lead.property_type:
            return None
        score += 15
        reasons.append(f"{listing.get_property_type_display().lower()} as asked")
    asked = lead_bedrooms(lead)
    if asked is not None:
        if listing.bedrooms is None or listing.bedrooms < asked:
            return None
        if listing.bedrooms == asked:
            score += 15
            reasons.append(f"{_bedrooms_text(asked)} as asked")
        else:
            score += 8
            reasons.append(f"{_bedrooms_text(listing.bedrooms)} (asked for {_bedrooms_text(asked)})")
    return Match(listing=listing, lead=lead, score=score, reasons=tuple(reasons))


def _closeness(match: Match) -> Decimal:
    """How far the price is from the middle of the lead's budget, as a share of it (smaller is better)."""
    bounds = [value for value in (match.lead.budget_min, match.lead.budget_max) if value is not None]
    middle = sum(bounds) / len(bounds)
    return abs(match.listing.price - middle) / middle if middle else Decimal(0)


def _ranked(matches: list[Match], limit: int) -> list[Match]:
    matches.sort(key=lambda match: (-match.score, _closeness(match), -match.lead.pk, -match.listing.pk))
    return matches[:limit]


def leads_for_listing(listing: Listing, user: User, *, perms: frozenset[str] | None = None,
                      limit: int = 50) -> list[Match]:
    """The open leads the user may work that match the listing, best first (at most `limit`). Empty when the
    listing has no price or community yet. One query (two when `perms` is not given)."""
    if listing.price is None or not listing.community:
        return []
    perms = brokerage_perms(user, listing.brokerage) if perms is None else perms
    price = listing.price
    candidates = leads_visible_to(user, perms, Lead.objects.filter(
        brokerage_id=listing.brokerage_id, stage__in=OPEN_STAGES, do_not_contact=False))
    # The budget and the area narrow the leads in the database; `score_match` then decides exactly. The area by
    # the community's longest word, since a lead's areas are stored as typed ("dubai  marina" is Dubai Marina).
    candidates = candidates.filter(
        Q(budget_min__isnull=False) | Q(budget_max__isnull=False),
        Q(budget_min__isnull=True) | Q(budget_min__lte=price / (1 - BUDGET_TOLERANCE)),
        Q(budget_max__isnull=True) | Q(budget_max__gte=price / (1 + BUDGET_TOLERANCE)),
        areas__icontains=max(listing.community.split(), key=len),
    ).select_related("assigned_agent")
    matches = [match for lead in candidates if (match := score_match(listing, lead)) is not None]
    return _ranked(matches, limit)


def listings_for_lead(lead: Lead, user: User, *, perms: frozenset[str] | None = None,
                      limit: int = 20) -> list[Match]:
    """The active listings the user may see that match the lead, best first (at most `limit`). Empty when the
    lead states no budget or no area. One query (two when `perms` is not given)."""
    areas = {normalise(area) for area in lead.areas}
    if not areas or (lead.budget_min is None and lead.budget_max is None):
        return []
    perms = brokerage_perms(user, lead.brokerage) if perms is None else perms
    candidates = listings_visible_to(user, perms, Listing.objects.filter(
        brokerage_id=lead.brokerage_id, status=Status.ACTIVE, price__isnull=False))
    if lead.budget_min is not None:
        candidates = candidates.filter(price__gte=lead.budget_min * (1 - BUDGET_TOLERANCE))
    if lead.budget_max is not None:
        candidates = candidates.filter(price__lte=lead.budget_max * (1 + BUDGET_TOLERANCE))
    # Communities are stored with single spaces (the listing service collapses them), so lowering is enough.
    candidates = (candidates.annotate(community_key=Lower("community")).filter(community_key__in=areas)
                  .select_related("listing_agent"))
    matches = [match for listing in candidates if (match := score_match(listing, lead)) is not None]
    return _ranked(matches, limit)
