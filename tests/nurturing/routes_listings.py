"""Isolation cases for the listing pages and the listings API."""

from django.core.files.uploadedfile import SimpleUploadedFile

from nurturing.models import Listing, ListingPhoto
from tests.factories import ListingFactory
from tests.images import png_bytes
from tests.isolation import EVERYONE, Case


def held_listing(tenant, member) -> dict:
    """A draft listing the member may edit: theirs when they are an agent (owners and support edit every
    listing). A draft, so that another agent could not even see it."""
    agent = member if member.role == "agent" else tenant.agent
    return {"pk": ListingFactory(brokerage=tenant.brokerage, listing_agent=agent, status="draft").pk}


def held_photo(tenant, member) -> dict:
    listing = Listing.objects.get(pk=held_listing(tenant, member)["pk"])
    photo = ListingPhoto.objects.create(brokerage=tenant.brokerage, listing=listing, position=0,
                                        image=SimpleUploadedFile("front.png", png_bytes()))
    return {"pk": photo.pk}


LISTING = {"title": "Bloom Towers studio", "community": "JVC", "property_type": "apartment", "purpose": "rent",
           "listing_agent": "", "price": "65000"}

ROUTES: dict = {
    "nurturing:listings": [Case(EVERYONE)],
    "nurturing:listing_new": [Case(EVERYONE, ("GET", "POST"), data=LISTING)],
    "nurturing:listing": [Case(EVERYONE, objects=held_listing)],
    "nurturing:listing_edit": [Case(EVERYONE, ("GET", "POST"), objects=held_listing, data=LISTING)],
    "nurturing:listing_status": [Case(EVERYONE, ("POST",), objects=held_listing, data={"status": "active"})],
    "nurturing:listing_photo_add": [Case(EVERYONE, ("POST",), objects=held_listing, data={"caption": "Front"})],
    "nurturing:listing_photo_remove": [Case(EVERYONE, ("POST",), objects=held_photo)],
    "nurturing:listing_photo_cover": [Case(EVERYONE, ("POST",), objects=held_photo)],
    "api-listings": [Case(EVERYONE, ("GET", "POST"), api=True)],
    "api-listing": [Case(EVERYONE, ("GET", "PATCH"), objects=held_listing, api=True)],
    "api-listing-matches": [Case(EVERYONE, ("GET",), objects=held_listing, api=True)],
}
