"""Pages of the listings ("Properties"): the list, a listing with its photos and matching leads, the listing
form, and the status and photo actions. Who sees and edits what: `nurturing.selectors.listings`."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import form_error, tenant_view

from ..forms.listings import PAGE_SIZE, ListingFilterForm, ListingForm, PhotoForm, StatusForm
from ..models import Listing
from ..selectors import listings as selectors
from ..selectors.leads import assignable_agents
from ..services import listings as services


# The list's sortable columns: the sort a click gives, and the one a second click gives.
SORT_COLUMNS = {"community": ("community", "community"), "bedrooms": ("bedrooms", "-bedrooms"),
                "size": ("size", "-size"), "price": ("price", "-price"), "listed": ("newest", "oldest")}
DESCENDING_SORTS = ("-bedrooms", "-size", "-price", "newest")


def _sort_links(unsorted: str, current: str) -> dict[str, dict]:
    """For each sortable column, the link that sorts by it (toggling when it is the current sort) and its
    `aria-sort` value."""
    prefix = f"?{unsorted}&sort=" if unsorted else "?sort="
    links = {}
    for column, (first, second) in SORT_COLUMNS.items():
        active = current in (first, second)
        links[column] = {"url": prefix + (second if current == first else first),
                         "aria": ("descending" if current in DESCENDING_SORTS else "ascending") if active else ""}
    return links


def _is_manager(request) -> bool:
    return "manage_leads" in request_perms(request)


def _listing_page(request, listing, **forms):
    """The listing page, with whichever of its forms came back with errors."""
    perms = request_perms(request)
    can_edit = selectors.can_edit_listing(request.user, perms, listing)
    context = {
        "listing": listing,
        "photos": selectors.listing_photos(listing),
        "can_edit": can_edit,
        "missing": [services.FACT_LABELS[name] for name in services.missing_fields(listing)],
        "status_form": (forms.get("status_form") or StatusForm(listing=listing)) if can_edit else None,
        "photo_form": (forms.get("photo_form") or PhotoForm()) if can_edit else None,
        "matches": selectors.leads_for_listing(listing, request.user, perms=perms),
        "is_manager": "manage_leads" in perms,
    }
    return render(request, "nurturing/listing_detail.html", context, status=400 if forms else 200)


@tenant_view("work_leads")
def listing_list(request):
    form = ListingFilterForm(request.GET or None)
    filters = form.filters()
    queryset = selectors.listings(request.brokerage, request.user, request_perms(request), filters)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    unsorted = query.copy()
    unsorted.pop("sort", None)
    context = {"form": form, "page": page, "query": query.urlencode(),
               "sorts": _sort_links(unsorted.urlencode(), filters.sort), "communities": selectors.communities(request.brokerage),
               "is_manager": _is_manager(request)}
    template = "nurturing/listing_list.html#results" if request.htmx and not request.htmx.boosted else \
        "nurturing/listing_list.html"
    return render(request, template, context)


@tenant_view("work_leads")
def listing_new(request):
    agents = assignable_agents(request.brokerage) if _is_manager(request) else None
    form = ListingForm(request.POST or None, agents=agents, initial={"listing_agent": request.user.pk})
    if request.method == "POST" and form.is_valid():
        # An agent lists for themself; managers name the listing agent.
        agent = form.cleaned_data["listing_agent"] if agents is not None else request.user
        status = Listing.Status.ACTIVE if form.cleaned_data["publish"] else Listing.Status.DRAFT
        try:
            listing = services.listing_create(brokerage=request.brokerage, actor=request.user, listing_agent=agent,
                                              data=form.listing_data(), status=status)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"{listing.title} is saved as {listing.get_status_display().lower()}.")
            return redirect("nurturing:listing", pk=listing.pk)
    return render(request, "nurturing/listing_form.html", {"form": form}, status=400 if form.errors else 200)


@tenant_view("work_leads", lookup=selectors.listing_get, allow=selectors.can_view_listing)
def listing_detail(request, obj):
    return _listing_page(request, obj)


@tenant_view("work_leads", lookup=selectors.listing_get, allow=selectors.can_edit_listing)
def listing_edit(request, obj):
    agents = assignable_agents(request.brokerage) if _is_manager(request) else None
    form = ListingForm(request.POST or None, instance=obj, agents=agents)
    if request.method == "POST" and form.is_valid():
        try:
            services.listing_update(brokerage=request.brokerage, actor=request.user, listing=obj,
                                    data=form.listing_data(), listing_agent=form.cleaned_data.get("listing_agent"))
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Listing saved.")
            return redirect("nurturing:listing", pk=obj.pk)
    return render(request, "nurturing/listing_form.html", {"form": form, "listing": obj},
                  status=400 if form.errors else 200)


@require_POST
@tenant_view("work_leads", lookup=selectors.listing_get, allow=selectors.can_edit_listing)
def listing_status(request, obj):
    form = StatusForm(request.POST, listing=obj)
    if form.is_valid():
        try:
            listing = services.listing_set_status(brokerage=request.brokerage, actor=request.user, listing=obj,
                                                  status=form.cleaned_data["status"])
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"The listing is now {listing.get_status_display().lower()}.")
            return redirect("nurturing:listing", pk=obj.pk)
    return _listing_page(request, obj, status_form=form)


@require_POST
@tenant_view("work_leads", lookup=selectors.listing_get, allow=selectors.can_edit_listing)
def listing_photo_add(request, obj):
    form = PhotoForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.listing_photo_add(brokerage=request.brokerage, actor=request.user, listing=obj,
                                       image=form.cleaned_data["image"], caption=form.cleaned_data["caption"])
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Photo added.")
            return redirect("nurturing:listing", pk=obj.pk)
    return _listing_page(request, obj, photo_form=form)


@require_POST
@tenant_view("work_leads", lookup=selectors.photo_get, allow=selectors.can_edit_photo)
def listing_photo_remove(request, obj):
    services.listing_photo_remove(brokerage=request.brokerage, actor=request.user, photo=obj)
    messages.success(request, "Photo removed.")
    return redirect("nurturing:listing", pk=obj.listing_id)


@require_POST
@tenant_view("work_leads", lookup=selectors.photo_get, allow=selectors.can_edit_photo)
def listing_photo_cover(request, obj):
    services.listing_photo_make_cover(brokerage=request.brokerage, actor=request.user, photo=obj)
    messages.success(request, "That photo is the cover now.")
    return redirect("nurturing:listing", pk=obj.listing_id)


urlpatterns = [
    path("properties/", listing_list, name="listings"),
    path("properties/new/", listing_new, name="listing_new"),
    path("properties/<int:pk>/", listing_detail, name="listing"),
    path("properties/<int:pk>/edit/", listing_edit, name="listing_edit"),
    path("properties/<int:pk>/status/", listing_status, name="listing_status"),
    path("properties/<int:pk>/photos/", listing_photo_add, name="listing_photo_add"),
    path("properties/photos/<int:pk>/remove/", listing_photo_remove, name="listing_photo_remove"),
    path("properties/photos/<int:pk>/cover/", listing_photo_cover, name="listing_photo_cover"),
]
