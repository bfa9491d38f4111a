"""Listings ("Properties") as agents and managers meet them: the permit and status rules, photos, matching
listings to leads (budget tolerance, areas, type and bedrooms, best first, in one query), the pages, the API,
and the matches on the lead page."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.urls import reverse

from brokerages.models import AuditLog, Role
from brokerages.permissions import brokerage_perms
from nurturing.models import PERMIT_REQUIRED_MESSAGE, Listing, ListingPhoto
from nurturing.selectors import listings as selectors
from nurturing.services import listings as services
from tests.api_helpers import api_as, assert_error
from tests.factories import ListingFactory, UserFactory, make_lead
from tests.images import png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Priya Nair")


def _listing(tenant, agent=None, **fields):
    return ListingFactory(brokerage=tenant.brokerage, listing_agent=agent or tenant.agent, **fields)


def _create(tenant, status="draft", **data):
    data.setdefault("title", "Marina Gate 1 — 2 bed")
    return services.listing_create(brokerage=tenant.brokerage, actor=tenant.agent, listing_agent=tenant.agent,
                                   data=data, status=status)


def _png(name="front.png"):
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


# Rules of the listing itself


def test_a_listing_is_advertised_only_with_its_permit_number(tenant):
    with pytest.raises(ValidationError) as error:
        _create(tenant, status="active", community="Dubai Marina")
    assert error.value.message_dict == {"permit_number": [PERMIT_REQUIRED_MESSAGE]}
    assert "Trakheesi" in PERMIT_REQUIRED_MESSAGE

    draft = _create(tenant)
    with pytest.raises(ValidationError, match="advertising permit"):
        services.listing_set_status(brokerage=tenant.brokerage, actor=tenant.agent, listing=draft, status="active")
    # The database refuses it too, whoever writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        Listing.objects.filter(pk=draft.pk).update(status="active")


def test_prices_sizes_and_bedrooms_are_checked_with_clear_messages(tenant):
    for data, message in (({"price": Decimal("0")}, "The price must be more than zero."),
                          ({"size_sqft": 0}, "The size must be more than zero square feet."),
                          ({"bedrooms": 51}, "Bedrooms go from 0 (a studio) to 50."),
                          ({"permit_number": "#1"}, "A permit number is 4 to 40 letters"),
                          ({"price": "about a million"}, "Give the price in dirhams as a number")):
        with pytest.raises(ValidationError) as error:
            _create(tenant, **data)
        assert message in str(error.value.messages)
    with pytest.raises(IntegrityError), transaction.atomic():
        ListingFactory(brokerage=tenant.brokerage, listing_agent=tenant.agent, price=Decimal("-1"))


def test_a_permit_number_belongs_to_one_listing_of_the_brokerage(tenant, other_tenant):
    _listing(tenant, permit_number="7112345678")
    with pytest.raises(ValidationError) as error:
        _create(tenant, permit_number="7112345678")
    assert "already has this permit number" in error.value.message_dict["permit_number"][0]
    services.listing_create(brokerage=other_tenant.brokerage, actor=None, listing_agent=other_tenant.agent,
                            data={"title": "Elsewhere", "permit_number": "7112345678"})


def test_the_service_tidies_what_people_type_and_writes_the_audit_log(tenant):
    listing = _create(tenant, title="  Marina  Gate ", community=" Dubai   Marina ", permit_number=" ab-1234 ",
                      features="Balcony, Sea view, Balcony", price="1250000")
    assert (listing.title, listing.community, listing.permit_number) == ("Marina Gate", "Dubai Marina", "AB-1234")
    assert listing.features == ["Balcony", "Sea view"] and listing.price == Decimal("1250000")
    entry = AuditLog.objects.get(action="listing.created")
    assert entry.actor == tenant.agent and entry.resource_id == str(listing.pk)
    with pytest.raises(ValidationError) as error:
        services.listing_update(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing,
                                data={"brokerage": 2})
    assert error.value.message_dict == {"brokerage": ["Unknown listing field."]}
    with pytest.raises(ValidationError, match="active member of this brokerage"):
        services.listing_create(brokerage=tenant.brokerage, actor=None, listing_agent=UserFactory(role=Role.AGENT),
                                data={"title": "X"})


def test_statuses_follow_the_listing_lifecycle(tenant):
    listing = _create(tenant, permit_number="7100000001")
    with pytest.raises(ValidationError) as error:
        services.listing_set_status(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing, status="sold")
    assert error.value.message_dict["status"] == ["This listing is draft: it can move to active, withdrawn."]

    # One update can add the facts and publish.
    listing = services.listing_update(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing,
                                      data={"price": Decimal("990000")}, status="active")
    assert listing.status == "active"
    for status in ("under_offer", "sold"):
        listing = services.listing_set_status(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing,
                                              status=status)
    with pytest.raises(ValidationError, match="it is closed; list the property again"):
        services.listing_set_status(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing, status="active")
    assert AuditLog.objects.filter(action="listing.status_changed").count() == 2

    rental = _listing(tenant, purpose="rent", price=Decimal("65000"))
    assert services.allowed_statuses(rental) == ["under_offer", "rented", "withdrawn"]
    with pytest.raises(ValidationError, match="it can move to under offer, rented, withdrawn"):
        services.listing_set_status(brokerage=tenant.brokerage, actor=None, listing=rental, status="sold")


def test_missing_fields_names_what_a_description_needs(tenant):
    assert services.missing_fields(_listing(tenant)) == []
    draft = _create(tenant, property_type="apartment", price=Decimal("900000"))
    assert services.missing_fields(draft) == ["community", "bedrooms", "size_sqft", "permit_number", "features"]
    assert [services.FACT_LABELS[name] for name in services.missing_fields(draft)][-1] == "at least one feature"
    office = _create(tenant, property_type="office", community="Business Bay", size_sqft=900,
                     price=Decimal("2300000"), features=["Canal view"], permit_number="7100000002")
    assert services.missing_fields(office) == []  # an office has no bedrooms to ask for
    studio = _listing(tenant, bedrooms=0)
    assert "bedrooms" not in services.missing_fields(studio)


# Photos


def test_photos_are_kept_in_order_and_removed_with_their_file(tenant, django_capture_on_commit_callbacks):
    listing = _listing(tenant)
    first = services.listing_photo_add(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing,
                                       image=_png("IMG 001.jpg"), caption="  Living  room ")
    second = services.listing_photo_add(brokerage=tenant.brokerage, actor=tenant.agent, listing=listing,
                                        image=_png())
    # Stored under a random name with the extension of the real content (a PNG named .jpg is a .png).
    assert first.image.name.startswith("listings/photos/") and first.image.name.endswith(".png")
    assert "IMG" not in first.image.name and first.caption == "Living room"
    assert [photo.position for photo in listing.photos.all()] == [0, 1]

    services.listing_photo_make_cover(brokerage=tenant.brokerage, actor=tenant.agent, photo=second)
    assert list(listing.photos.all()) == [second, first]

    storage, name = second.image.storage, second.image.name
    with django_capture_on_commit_callbacks(execute=True):
        services.listing_photo_remove(brokerage=tenant.brokerage, actor=tenant.agent, photo=second)
    assert not storage.exists(name)
    assert [(photo.pk, photo.position) for photo in listing.photos.all()] == [(first.pk, 0)]
    assert AuditLog.objects.filter(action__startswith="listing.photo_").count() == 4


def test_a_file_that_is_not_an_image_or_one_photo_too_many_is_refused(tenant, monkeypatch):
    listing = _listing(tenant)
    with pytest.raises(ValidationError) as error:
        services.listing_photo_add(brokerage=tenant.brokerage, actor=None, listing=listing,
                                   image=SimpleUploadedFile("house.png", b"MZ\x90\x00 not a picture"))
    assert error.value.message_dict == {"image": ["This file is not a PNG, JPEG, WebP or GIF image."]}
    monkeypatch.setattr(services, "MAX_PHOTOS", 1)
    services.listing_photo_add(brokerage=tenant.brokerage, actor=None, listing=listing, image=_png())
    with pytest.raises(ValidationError, match="at most 1 photos; remove one first"):
        services.listing_photo_add(brokerage=tenant.brokerage, actor=None, listing=listing, image=_png())
    assert ListingPhoto.objects.count() == 1


# Matching


def _perms(user):
    return brokerage_perms(user, user.brokerage)


def test_budget_matches_within_ten_percent_and_says_how(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, budget_min=1_000_000, budget_max=1_500_000,
                     areas=["Dubai Marina"])
    inside, above, below, far = (_listing(tenant, price=Decimal(price)) for price in
                                 ("1200000", "1600000", "920000", "1700000"))
    found = {match.listing: match for match in selectors.listings_for_lead(lead, tenant.agent)}
    assert set(found) == {inside, above, below}  # 1.7M is 13 % over the 1.5M maximum
    assert found[inside].reasons[:2] == ("in budget (AED 1M–1.5M)", "in Dubai Marina")
    assert found[above].reasons[0] == "7 % above the budget (AED 1M–1.5M)"
    assert found[below].reasons[0] == "8 % below the budget (AED 1M–1.5M)"
    assert found[inside].score == 70 and found[above].score == 55


def test_areas_match_without_case_or_extra_spaces_and_only_theirs(tenant):
    listing = _listing(tenant, community="Dubai Marina", price=Decimal("2000000"))
    spaced = make_lead(tenant.brokerage, agent=tenant.agent, name="Spaced", budget_max=2_100_000,
                       areas=["JVC", "dubai  MARINA"])
    make_lead(tenant.brokerage, agent=tenant.agent, name="Elsewhere", budget_max=2_100_000, areas=["Marina Bay"])
    make_lead(tenant.brokerage, agent=tenant.agent, name="No budget", areas=["Dubai Marina"])
    make_lead(tenant.brokerage, agent=tenant.agent, name="Lost", budget_max=2_100_000, areas=["Dubai Marina"],
              stage="lost")
    make_lead(tenant.brokerage, agent=tenant.agent, name="Opted out", budget_max=2_100_000,
              areas=["Dubai Marina"], do_not_contact=True)
    assert [match.lead for match in selectors.leads_for_listing(listing, tenant.agent)] == [spaced]
    assert [match.listing for match in selectors.listings_for_lead(spaced, tenant.agent)] == [listing]


def test_type_and_bedrooms_count_when_the_lead_states_them(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, budget_min=1_000_000, budget_max=3_000_000,
                     areas=["Dubai Hills Estate"], property_type="apartment", tags=["2 bed", "investor"])
    two, three = (_listing(tenant, community="Dubai Hills Estate", bedrooms=count) for count in (2, 3))
    _listing(tenant, community="Dubai Hills Estate", bedrooms=1)
    _listing(tenant, community="Dubai Hills Estate", bedrooms=2, property_type="villa")
    matches = selectors.listings_for_lead(lead, tenant.agent)
    assert [match.listing for match in matches] == [two, three]
    assert matches[0].reasons[2:] == ("apartment as asked", "2 bed as asked") and matches[0].score == 100
    assert matches[1].reasons[3] == "3 bed (asked for 2 bed)" and matches[1].score == 93

    studio_seeker = make_lead(tenant.brokerage, agent=tenant.agent, notes="Wants a studio or 1-bed near work.")
    assert selectors.lead_bedrooms(studio_seeker) == 0
    assert selectors.lead_bedrooms(make_lead(tenant.brokerage, notes="Looking for a 3 bedroom villa.")) == 3
    assert selectors.lead_bedrooms(make_lead(tenant.brokerage, notes="Two kids, a dog.")) is None


def test_leads_come_best_first_in_one_query(tenant, django_assert_num_queries):
    listing = _listing(tenant, community="JVC", price=Decimal("1000000"), bedrooms=2)
    near = make_lead(tenant.brokerage, agent=tenant.agent, name="Near", budget_min=900_000, budget_max=1_100_000,
                     areas=["JVC"], property_type="apartment")
    wide = make_lead(tenant.brokerage, agent=tenant.agent, name="Wide", budget_min=500_000, budget_max=3_000_000,
                     areas=["JVC"], property_type="apartment")
    stretch = make_lead(tenant.brokerage, agent=tenant.agent, name="Stretch", budget_max=950_000, areas=["JVC"])
    for number in range(10):
        make_lead(tenant.brokerage, agent=tenant.agent, name=f"Other {number}", budget_max=960_000 + number,
                  areas=["JVC"])
    perms = _perms(tenant.agent)
    with django_assert_num_queries(1):
        matches = selectors.leads_for_listing(listing, tenant.agent, perms=perms)
        names = [match.lead.name for match in matches]
        agents = [match.lead.assigned_agent.display_name for match in matches]  # loaded with the leads
    assert names[:2] == [near.name, wide.name] and names[-1] == stretch.name and len(names) == 13
    assert len(set(agents)) == 1
    assert [match.score for match in matches] == sorted((match.score for match in matches), reverse=True)
    with django_assert_num_queries(1):
        selectors.listings_for_lead(near, tenant.agent, perms=perms)


def test_matching_respects_who_sees_what(tenant, colleague):
    mine = make_lead(tenant.brokerage, agent=tenant.agent, budget_max=3_000_000, areas=["Dubai Marina"])
    theirs_lead = make_lead(tenant.brokerage, agent=colleague, budget_max=3_000_000, areas=["Dubai Marina"])
    published = _listing(tenant, colleague)
    _listing(tenant, colleague, status="draft")
    _listing(tenant, tenant.agent, status="withdrawn")
    assert [match.listing for match in selectors.listings_for_lead(mine, tenant.agent)] == [published]
    assert [match.lead for match in selectors.leads_for_listing(published, tenant.agent)] == [mine]
    everyone = {match.lead for match in selectors.leads_for_listing(published, tenant.owner)}
    assert everyone == {mine, theirs_lead}


# Pages


def test_an_agent_sees_their_own_and_the_published_listings(login, tenant, colleague):
    _listing(tenant, title="My Draft", status="draft")
    _listing(tenant, colleague, title="Their Active")
    secret = _listing(tenant, colleague, title="Their Draft", status="draft")
    page = login(tenant.agent).get(reverse("nurturing:listings")).content.decode()
    assert "My Draft" in page and "Their Active" in page and "Their Draft" not in page
    assert login(tenant.agent).get(reverse("nurturing:listing", args=[secret.pk])).status_code == 403
    assert "Their Draft" in login(tenant.support).get(reverse("nurturing:listings")).content.decode()


def test_the_list_filters_and_sorts(login, tenant):
    _listing(tenant, title="Marina Flat", price=Decimal("2000000"))
    _listing(tenant, title="JVC Studio", community="JVC", purpose="rent", bedrooms=0, price=Decimal("65000"))
    _listing(tenant, title="Old Draft", status="draft", price=Decimal("5000000"))
    client = login(tenant.agent)
    url = reverse("nurturing:listings")
    assert "JVC Studio" not in client.get(url, {"community": "marina"}).content.decode()
    page = client.get(url, {"purpose": "rent"}).content.decode()
    assert "JVC Studio" in page and "Marina Flat" not in page
    assert "Old Draft" not in client.get(url, {"status": "active"}).content.decode()
    page = client.get(url, {"sort": "price"}).content.decode()
    assert page.index("JVC Studio") < page.index("Marina Flat") < page.index("Old Draft")
    assert 'href="?sort=-price"' in page  # a second click on the column sorts the other way
    partial = client.get(url, {"sort": "-price"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and partial.index("Old Draft") < partial.index("JVC Studio")


def test_the_detail_page_shows_facts_photos_missing_facts_and_matching_leads(login, tenant):
    listing = _create(tenant, community="Dubai Marina", property_type="apartment", bedrooms=2,
                      price=Decimal("1800000"), description="Bright corner unit.")
    services.listing_photo_add(brokerage=tenant.brokerage, actor=None, listing=listing, image=_png(),
                               caption="Sea view from the balcony")
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Hana Yusuf", budget_min=1_500_000,
                     budget_max=2_000_000, areas=["Dubai Marina"])
    page = login(tenant.agent).get(reverse("nurturing:listing", args=[listing.pk])).content.decode()
    assert "AED 1,800,000" in page and "Bright corner unit." in page and "Sea view from the balcony" in page
    assert "add:</strong> size in sq ft, advertising permit number, at least one feature." in page
    assert reverse("nurturing:lead", args=[lead.pk]) in page
    assert "in budget (AED 1.5M–2M)" in page and "in Dubai Marina" in page


def test_an_agent_creates_a_draft_and_cannot_publish_without_a_permit(login, tenant):
    client = login(tenant.agent)
    data = {"title": "Creek Rise 1 bed", "community": "Dubai Creek Harbour", "purpose": "sale",
            "property_type": "apartment", "bedrooms": "1", "price": "1350000", "features": "Creek view"}
    response = client.post(reverse("nurturing:listing_new"), {**data, "publish": "on"})
    assert response.status_code == 400 and PERMIT_REQUIRED_MESSAGE in response.content.decode()
    response = client.post(reverse("nurturing:listing_new"), data)
    listing = Listing.objects.get()
    assert response["Location"] == reverse("nurturing:listing", args=[listing.pk])
    assert (listing.status, listing.listing_agent, listing.features) == ("draft", tenant.agent, ["Creek view"])

    response = client.post(reverse("nurturing:listing_new"), {**data, "price": "-5", "bedrooms": "60"})
    assert response.status_code == 400
    assert "The price must be more than zero." in response.content.decode()


def test_editing_is_for_the_listing_agent_and_managers(login, tenant, colleague):
    listing = _listing(tenant, colleague, title="Park Heights 3 bed")
    assert login(tenant.agent).get(reverse("nurturing:listing", args=[listing.pk])).status_code == 200
    assert login(tenant.agent).get(reverse("nurturing:listing_edit", args=[listing.pk])).status_code == 403
    response = login(tenant.owner).post(reverse("nurturing:listing_edit", args=[listing.pk]), {
        "title": "Park Heights 3 bed, vacant", "purpose": "sale", "listing_agent": tenant.agent.pk,
        "permit_number": listing.permit_number, "community": "Dubai Hills Estate"})
    assert response.status_code == 302, response.content.decode()[:500]
    listing.refresh_from_db()
    assert listing.title == "Park Heights 3 bed, vacant" and listing.listing_agent == tenant.agent


def test_status_change_and_photo_upload_from_the_page(login, tenant):
    listing = _create(tenant, community="JLT")
    client = login(tenant.agent)
    response = client.post(reverse("nurturing:listing_status", args=[listing.pk]), {"status": "active"})
    assert response.status_code == 400 and PERMIT_REQUIRED_MESSAGE in response.content.decode()
    response = client.post(reverse("nurturing:listing_status", args=[listing.pk]), {"status": "withdrawn"})
    assert response.status_code == 302
    listing.refresh_from_db()
    assert listing.status == "withdrawn"

    url = reverse("nurturing:listing_photo_add", args=[listing.pk])
    response = client.post(url, {"image": SimpleUploadedFile("plan.png", b"%PDF-1.7 a floor plan")})
    assert response.status_code == 400
    assert "This file is not a PNG, JPEG, WebP or GIF image." in response.content.decode()
    assert client.post(url, {"image": _png(), "caption": "Lake view"}).status_code == 302
    photo = ListingPhoto.objects.get()
    page = client.get(reverse("nurturing:listing", args=[listing.pk])).content.decode()
    assert photo.image.url in page and "Lake view" in page
    assert client.post(reverse("nurturing:listing_photo_remove", args=[photo.pk])).status_code == 302
    assert not ListingPhoto.objects.exists()


def test_the_lead_page_shows_the_matching_listings(login, tenant, colleague):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, budget_min=2_000_000, budget_max=2_800_000,
                     areas=["Dubai Hills Estate"])
    listing = _listing(tenant, colleague, title="Park Heights 3 bed", community="Dubai Hills Estate",
                       price=Decimal("2650000"))
    _listing(tenant, title="Marina Gate 2 bed")
    page = login(tenant.agent).get(reverse("nurturing:lead", args=[lead.pk])).content.decode()
    assert "Matching properties" in page and reverse("nurturing:listing", args=[listing.pk]) in page
    assert "Park Heights 3 bed" in page and "Marina Gate 2 bed" not in page
    assert "in budget (AED 2M–2.8M)" in page
    vague = make_lead(tenant.brokerage, agent=tenant.agent)
    page = login(tenant.agent).get(reverse("nurturing:lead", args=[vague.pk])).content.decode()
    assert "Add the lead's budget and areas" in page


# API


def test_the_api_creates_lists_publishes_and_matches(tenant):
    api = api_as(tenant.agent)
    response = api.post("/api/listings", {"title": "Burj Vista 1 bed", "community": "Downtown Dubai",
                                          "property_type": "apartment", "bedrooms": 1, "price": "1900000",
                                          "features": ["Burj Khalifa view"]}, format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["status"] == "draft" and created["listing_agent_id"] == tenant.agent.pk
    assert created["missing_fields"] == ["size_sqft", "permit_number"]

    changed = api.patch(f"/api/listings/{created['id']}", {"permit_number": "7100000099", "status": "active"},
                        format="json").json()
    assert changed["status"] == "active" and changed["missing_fields"] == ["size_sqft"]
    assert [row["id"] for row in api.get("/api/listings", {"status": "active"}).json()["results"]] == [created["id"]]

    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Omar Haddad", budget_max=2_000_000,
                     areas=["Downtown Dubai"])
    body = api.get(f"/api/listings/{created['id']}/matches").json()
    assert body["needs"] == [] and body["matches"] == [{
        "lead_id": lead.pk, "lead_name": "Omar Haddad", "stage": "new", "score": 70,
        "reasons": ["in budget (up to AED 2M)", "in Downtown Dubai"]}]
    unpriced = _create(tenant, title="No price yet")
    assert api.get(f"/api/listings/{unpriced.pk}/matches").json() == {
        "listing_id": unpriced.pk, "needs": ["community", "price"], "matches": []}


def test_bad_input_answers_400_naming_each_field(tenant):
    api = api_as(tenant.agent)
    error = assert_error(api.post("/api/listings", {"title": "", "price": "-5", "bedrooms": -1,
                                                    "purpose": "lease"}, format="json"), 400)
    assert set(error["fields"]) == {"title", "price", "bedrooms", "purpose"}
    error = assert_error(api.post("/api/listings", {"title": "X", "brokerage": 9}, format="json"), 400)
    assert error["fields"] == {"brokerage": ["Unknown field."]}
    error = assert_error(api.post("/api/listings", {"title": "X", "status": "active"}, format="json"), 400)
    assert error["fields"] == {"permit_number": [PERMIT_REQUIRED_MESSAGE]}
    error = assert_error(api.post("/api/listings", {"title": "X", "listing_agent_id": tenant.owner.pk},
                                  format="json"), 400)
    assert error["fields"] == {"listing_agent_id": ["Agents list properties for themselves."]}
    error = assert_error(api.get("/api/listings", {"status": "gone"}), 400)
    assert "status" in error["fields"]
    assert not Listing.objects.exists()


def test_another_agents_listing_is_read_only_and_another_brokerages_is_not_found(tenant, other_tenant, colleague):
    theirs = _listing(tenant, colleague)
    foreign = ListingFactory(brokerage=other_tenant.brokerage, listing_agent=other_tenant.agent)
    api = api_as(tenant.agent)
    assert api.get(f"/api/listings/{theirs.pk}").status_code == 200
    error = assert_error(api.patch(f"/api/listings/{theirs.pk}", {"title": "Mine now"}, format="json"), 403)
    assert "Only the listing agent" in error["message"]
    assert_error(api.get(f"/api/listings/{foreign.pk}"), 404)
    assert_error(api.patch(f"/api/listings/{foreign.pk}", {"title": "X"}, format="json"), 404)
    assert_error(api.get(f"/api/listings/{foreign.pk}/matches"), 404)

    owner = api_as(tenant.owner)
    moved = owner.patch(f"/api/listings/{theirs.pk}", {"listing_agent_id": tenant.agent.pk}, format="json")
    assert moved.json()["listing_agent_id"] == tenant.agent.pk
    error = assert_error(owner.patch(f"/api/listings/{theirs.pk}", {"listing_agent_id": tenant.support.pk},
                                     format="json"), 400)
    assert error["fields"] == {"listing_agent_id": ["No active agent of this brokerage has this id."]}
