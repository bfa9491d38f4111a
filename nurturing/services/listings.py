"""Writes for listings (the properties the brokerage markets) and their photos.

Each service validates, runs in one transaction and writes the audit log. Who may call them is decided by the
caller (pages and API: `nurturing.selectors.listings.can_edit_listing` — the listing agent, or an owner or support
member for every listing). The rules kept here:

- a listing is advertised (active or under offer) only with its advertising permit number;
- statuses move along `TRANSITIONS` (sold and rented are final; a sale is sold, a rental rented);
- photos are checked by content (`brokerages.uploads.check_image`, at most 10 MB), stored under a random name
  with the extension of their real type, and kept in order without gaps (the first is the cover).

`missing_fields(listing)` is public for the assistant's description generator: it names the facts a description
needs that the listing lacks, so the generator can say what is missing instead of inventing it.
"""

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import F

from brokerages.models import Brokerage, Role, User
from brokerages.services import audit_record
from brokerages.uploads import MAX_PHOTO_BYTES, check_image
from brokerages.values import clean_labels

from ..models import PERMIT_REQUIRED_MESSAGE, PERMIT_TAKEN_MESSAGE, Listing, ListingPhoto

Status = Listing.Status

# Fields a person edits on the listing form or through the API (status and photos have their own services).
EDITABLE_FIELDS = ("title", "community", "building", "property_type", "purpose", "bedrooms", "bathrooms",
                   "size_sqft", "price", "features", "permit_number", "description")
# Where each status may go next. Sold and rented are final: a property back on the market is a new listing
# (with a new advertising permit).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    Status.DRAFT: (Status.ACTIVE, Status.WITHDRAWN),
    Status.ACTIVE: (Status.UNDER_OFFER, Status.SOLD, Status.RENTED, Status.WITHDRAWN),
    Status.UNDER_OFFER: (Status.ACTIVE, Status.SOLD, Status.RENTED, Status.WITHDRAWN),
    Status.WITHDRAWN: (Status.DRAFT, Status.ACTIVE),
    Status.SOLD: (),
    Status.RENTED: (),
}
MAX_PHOTOS = 30
PHOTO_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp", "image/gif": ".gif"}

# The facts a listing description is written from, in the order a person would fill them in, with the words
# the generator uses to ask for them.
FACT_LABELS = {
    "community": "community",
    "property_type": "property type",
    "bedrooms": "number of bedrooms",
    "size_sqft": "size in sq ft",
    "price": "price",
    "permit_number": "advertising permit number",
    "features": "at least one feature",
}


def missing_fields(listing: Listing) -> list[str]:
    """The names of the facts a description of `listing` needs and it does not have, in `FACT_LABELS` order
    (an empty list when it has them all). Bedrooms are only asked of homes (apartment, villa, townhouse,
    penthouse) — an office, a shop or a plot has none. Use `FACT_LABELS[name]` to put a name into words."""
    missing = []
    for name in FACT_LABELS:
        value = getattr(listing, name)
        if name == "bedrooms" and not listing.is_residential:
            continue
        if value is None or value == "" or value == []:
            missing.append(name)
    return missing


def allowed_statuses(listing: Listing) -> list[str]:
    """The statuses the listing may move to next: a sale can be sold, a rental rented."""
    closing = Status.SOLD if listing.purpose == Listing.Purpose.SALE else Status.RENTED
    return [status for status in TRANSITIONS[listing.status]
            if status not in (Status.SOLD, Status.RENTED) or status == closing]


def _clean_values(data: dict) -> dict:
    values = dict(data)
    for name in ("title", "community", "building"):
        if name in values:
            # Inner whitespace collapsed so that "Dubai  Marina" and "Dubai Marina" are one community.
            values[name] = " ".join(str(values[name] or "").split())
    for name in ("permit_number", "description", "property_type", "purpose"):
        if name in values:
            values[name] = str(values[name] or "").strip()
    if "permit_number" in values:
        values["permit_number"] = values["permit_number"].upper()
    if "features" in values:
        values["features"] = clean_labels(values["features"] or [], field="features", max_items=30, max_length=80,
                                          lower=False)
    for name in ("price", "bedrooms", "bathrooms", "size_sqft"):
        if values.get(name, None) == "":
            values[name] = None
    if values.get("price") is not None and not isinstance(values["price"], Decimal):
        try:
            values["price"] = Decimal(str(values["price"]).replace(",", ""))
        except InvalidOperation as error:
            raise ValidationError({"price": "Give the price in dirhams as a number, e.g. 1250000."}) from error
    return values


def _check_agent(brokerage: Brokerage, agent: User | None) -> None:
    if agent is None:
        raise ValidationError({"listing_agent": "A listing needs its listing agent."})
    if agent.brokerage_id != brokerage.pk or not agent.is_active:
        raise ValidationError({"listing_agent": "Pick an active member of this brokerage."})
    if agent.role not in (Role.AGENT, Role.BROKERAGE_OWNER):
        raise ValidationError({"listing_agent": "The listing agent is an agent (or an owner who sells)."})


def _validate(listing: Listing) -> None:
    """Field checks and the database's constraints, with the permit rule said on the permit field (where the
    form shows it) rather than as a general error."""
    if listing.status in Listing.ADVERTISED and not listing.permit_number:
        raise ValidationError({"permit_number": PERMIT_REQUIRED_MESSAGE})
    # The brokerage and agent foreign keys are checked by the caller; clean_fields would look them up again.
    listing.clean_fields(exclude=["brokerage", "listing_agent"])
    try:
        listing.validate_constraints()
    except ValidationError as error:
        if PERMIT_TAKEN_MESSAGE in error.message_dict.get(NON_FIELD_ERRORS, []):
            raise ValidationError({"permit_number": PERMIT_TAKEN_MESSAGE}) from error
        raise


def _plain(value):
    """A value as the audit log's JSON stores it."""
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value


def _apply(listing: Listing, data: dict) -> dict:
    values = _clean_values(data)
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown listing field." for name in sorted(unknown)})
    changed = {}
    for name, value in values.items():
        if getattr(listing, name) != value:
            changed[name] = [_plain(getattr(listing, name)), _plain(value)]
            setattr(listing, name, value)
    return changed


def _move(listing: Listing, status: str) -> str:
    """Set the listing's next status (validated with the rest of the listing by the caller)."""
    previous = listing.status
    if status not in Status.values:
        raise ValidationError({"status": f"Status must be one of {', '.join(Status.values)}."})
    if status not in allowed_statuses(listing):
        allowed = [Status(value).label.lower() for value in allowed_statuses(listing)]
        where = f"it can move to {', '.join(allowed)}" if allowed else "it is closed; list the property again"
        raise ValidationError({"status": f"This listing is {Status(previous).label.lower()}: {where}."})
    listing.status = status
    return previous


@transaction.atomic
def listing_create(*, brokerage: Brokerage, actor: User | None, listing_agent: User | None, data: dict,
                   status: str = Status.DRAFT) -> Listing:
    """A new listing held by `listing_agent` (an active agent or owner of the brokerage), as a draft or — with
    its permit number — straight to active. Raises ValidationError keyed by field; nothing is stored then."""
    _check_agent(brokerage, listing_agent)
    if status not in (Status.DRAFT, Status.ACTIVE):
        raise ValidationError({"status": "A new listing starts as a draft or active."})
    listing = Listing(brokerage=brokerage, listing_agent=listing_agent, status=status)
    _apply(listing, data)
    _validate(listing)
    listing.save()
    audit_record(brokerage=brokerage, actor=actor, action="listing.created", resource=listing,
                 details={"title": listing.title, "status": listing.status})
    return listing


@transaction.atomic
def listing_update(*, brokerage: Brokerage, actor: User | None, listing: Listing, data: dict,
                   listing_agent: User | None = None, status: str | None = None) -> Listing:
    """Change the editable fields, and optionally the listing agent and the status (applied after the fields,
    so one call can add the permit number and publish). Everything or nothing is saved."""
    listing = Listing.objects.select_for_update().get(pk=listing.pk, brokerage=brokerage)
    changed = _apply(listing, data)
    if listing_agent is not None and listing_agent.pk != listing.listing_agent_id:
        _check_agent(brokerage, listing_agent)
        changed["listing_agent"] = [listing.listing_agent_id, listing_agent.pk]
        listing.listing_agent = listing_agent
    if status is not None and status != listing.status:
        changed["status"] = [_move(listing, status), status]
    if not changed:
        return listing
    _validate(listing)
    listing.save()
    audit_record(brokerage=brokerage, actor=actor, action="listing.updated", resource=listing,
                 details={"changes": changed})
    return listing


@transaction.atomic
def listing_set_status(*, brokerage: Brokerage, actor: User | None, listing: Listing, status: str) -> Listing:
    """Move the listing along `TRANSITIONS`; going active or under offer needs the permit number."""
    listing = Listing.objects.select_for_update().get(pk=listing.pk, brokerage=brokerage)
    if status == listing.status:
        return listing
    previous = _move(listing, status)
    _validate(listing)
    listing.save(update_fields=["status", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="listing.status_changed", resource=listing,
                 details={"from": previous, "to": status})
    return listing


@transaction.atomic
def listing_photo_add(*, brokerage: Brokerage, actor: User | None, listing: Listing, image,
                      caption: str = "") -> ListingPhoto:
    """Append a checked image (PNG, JPEG, WebP or GIF that decodes, at most 10 MB) as the listing's last photo.
    Before: the listing has fewer than `MAX_PHOTOS`. After: the file is stored under a random name."""
    listing = Listing.objects.select_for_update().get(pk=listing.pk, brokerage=brokerage)
    count = listing.photos.count()
    if count >= MAX_PHOTOS:
        raise ValidationError({"image": f"A listing holds at most {MAX_PHOTOS} photos; remove one first."})
    try:
        checked = check_image(image, max_bytes=MAX_PHOTO_BYTES)
    except ValidationError as error:
        raise ValidationError({"image": error.messages}) from error
    caption = " ".join(str(caption or "").split())
    photo = ListingPhoto(brokerage=brokerage, listing=listing, position=count, caption=caption, uploaded_by=actor)
    photo.full_clean(exclude=["brokerage", "listing", "uploaded_by", "image"])
    photo.image.save(f"{uuid.uuid4().hex}{PHOTO_EXTENSIONS[checked.content_type]}", image, save=False)
    photo.save()
    audit_record(brokerage=brokerage, actor=actor, action="listing.photo_added", resource=listing,
                 details={"photo": photo.pk, "file": photo.image.name, "size_bytes": checked.size_bytes})
    return photo


@transaction.atomic
def listing_photo_remove(*, brokerage: Brokerage, actor: User | None, photo: ListingPhoto) -> None:
    """Delete the photo; the ones after it move up, and its file is deleted once the deletion is committed."""
    listing = Listing.objects.select_for_update().get(pk=photo.listing_id, brokerage=brokerage)
    photo = ListingPhoto.objects.get(pk=photo.pk, listing=listing)
    pk, name, storage, position = photo.pk, photo.image.name, photo.image.storage, photo.position
    photo.delete()
    listing.photos.filter(position__gt=position).update(position=F("position") - 1)
    transaction.on_commit(lambda: storage.delete(name))
    audit_record(brokerage=brokerage, actor=actor, action="listing.photo_removed", resource=listing,
                 details={"photo": pk, "file": name})


@transaction.atomic
def listing_photo_make_cover(*, brokerage: Brokerage, actor: User | None, photo: ListingPhoto) -> ListingPhoto:
    """Put the photo first (the cover portals and the list show); the ones before it move down one."""
    listing = Listing.objects.select_for_update().get(pk=photo.listing_id, brokerage=brokerage)
    photo = ListingPhoto.objects.get(pk=photo.pk, listing=listing)
    if photo.position == 0:
        return photo
    listing.photos.filter(position__lt=photo.position).update(position=F("position") + 1)
    previous, photo.position = photo.position, 0
    photo.save(update_fields=["position"])
    audit_record(brokerage=brokerage, actor=actor, action="listing.photo_moved", resource=listing,
                 details={"photo": photo.pk, "from": previous, "to": 0})
    return photo

