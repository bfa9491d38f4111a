"""Forms of the listing pages: filters, the listing itself, its status, and a photo upload."""

from decimal import Decimal

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator

from brokerages.uploads import MAX_PHOTO_BYTES, check_image

from ..models import Listing, PropertyType
from ..selectors.listings import SORTS, ListingFilters
from ..services.listings import allowed_statuses

PAGE_SIZE = 25


def _blank(choices, label: str = "Any"):
    return [("", label), *choices]


class ListingFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Title, building or permit"}))
    status = forms.ChoiceField(required=False, choices=_blank(Listing.Status.choices))
    community = forms.CharField(required=False, max_length=100,
                                widget=forms.TextInput(attrs={"list": "communities"}))
    purpose = forms.ChoiceField(required=False, choices=_blank(Listing.Purpose.choices, "Sale or rent"))
    property_type = forms.ChoiceField(required=False, choices=_blank(PropertyType.choices), label="Type")
    mine = forms.BooleanField(required=False, label="My listings only")
    sort = forms.ChoiceField(required=False, choices=[(key, key) for key in SORTS], widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def filters(self) -> ListingFilters:
        if not self.is_bound or not self.is_valid():
            return ListingFilters()
        data = self.cleaned_data
        return ListingFilters(q=data["q"], status=data["status"], community=data["community"],
                              purpose=data["purpose"], property_type=data["property_type"], mine=data["mine"],
                              sort=data["sort"] or "newest")


class ListingForm(forms.ModelForm):
    """The listing's facts. Features are typed comma-separated; managers also pick the listing agent, and a new
    listing can be published at once when it has its permit number."""

    features = forms.CharField(required=False, help_text="Comma-separated, e.g. Sea view, Maid's room, "
                                                         "Covered parking.")
    listing_agent = forms.TypedChoiceField(coerce=int, empty_value=None, required=True, choices=())
    publish = forms.BooleanField(required=False, label="Publish now (active)",
                                 help_text="Needs the advertising permit number. Leave it unticked to save a draft.")

    class Meta:
        model = Listing
        fields = ["title", "community", "building", "property_type", "purpose", "bedrooms", "bathrooms",
                  "size_sqft", "price", "features", "permit_number", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        # The database's range checks, said next to the field they are about.
        self.fields["price"].validators.append(MinValueValidator(Decimal("0.01"), "The price must be more than zero."))
        self.fields["size_sqft"].validators.append(MinValueValidator(1, "The size must be more than zero square feet."))
        for name in ("bedrooms", "bathrooms"):
            self.fields[name].validators.append(MaxValueValidator(50, "At most 50."))
        if self.instance.pk:
            self.initial["features"] = ", ".join(self.instance.features)
            del self.fields["publish"]
        if agents is None:
            del self.fields["listing_agent"]
        else:
            self.agents = {agent.pk: agent for agent in agents}
            self.fields["listing_agent"].choices = [("", "Choose an agent"), *(
                (pk, agent.display_name) for pk, agent in self.agents.items())]
            self.initial.setdefault("listing_agent", self.instance.listing_agent_id)

    def clean_listing_agent(self):
        return self.agents.get(self.cleaned_data["listing_agent"])

    def listing_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=())

    def __init__(self, *args, listing: Listing, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(value, Listing.Status(value).label) for value in allowed_statuses(listing)]


class PhotoForm(forms.Form):
    image = forms.FileField(label="Photo", help_text="PNG, JPEG, WebP or GIF, at most 10 MB.",
                            widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp,"
                                                                             "image/gif"}))
    caption = forms.CharField(required=False, max_length=200)

    def clean_image(self):
        image = self.cleaned_data["image"]
        check_image(image, max_bytes=MAX_PHOTO_BYTES)
        return image
