"""Forms of the assistant's automation pages. They only shape the request: the automation service checks the
types, the parameters and who may act on which lead or listing (one rule for the pages and the API)."""

import json

from django import forms

from nurturing.models import PropertyType

from .assistant.automations import REPORTS
from .assistant.content import CONTENT_TYPES
from .compliance import MAX_CHECK_CHARS


class AutomateForm(forms.Form):
    """An opportunity button of the Assistant tab: the automation's `type` and its `parameters` (JSON) as the
    workflow analysis gave them."""

    type = forms.CharField(max_length=50)
    parameters = forms.CharField(required=False, max_length=20_000)

    def clean_parameters(self) -> dict:
        text = self.cleaned_data["parameters"].strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except ValueError:
            raise forms.ValidationError("The automation's parameters are not valid JSON.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("The automation's parameters must be a JSON object.")
        return value


class GenerateForm(forms.Form):
    """"Write about a listing": one of the agent's listings and the kind of text."""

    listing = forms.TypedChoiceField(coerce=int, label="Listing")
    content_type = forms.ChoiceField(choices=[(key, kind.label) for key, kind in CONTENT_TYPES.items()],
                                     label="What to write")

    def __init__(self, *args, listings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["listing"].choices = [
            (listing.pk, f"{listing.title} · {listing.community or 'no community yet'} ({listing.get_status_display()})")
            for listing in listings]

    def parameters(self) -> dict:
        return {"listing_id": self.cleaned_data["listing"], "content_type": self.cleaned_data["content_type"]}


class ReportForm(forms.Form):
    """"Create a report": the agent's weekly report, or a market snapshot optionally narrowed."""

    report = forms.ChoiceField(choices=list(REPORTS.items()), label="Report")
    community = forms.CharField(required=False, max_length=100, label="Community (market snapshot)",
                                help_text="Leave empty for every community.")
    property_type = forms.ChoiceField(required=False, choices=[("", "Every type"), *PropertyType.choices],
                                      label="Property type (market snapshot)")

    def parameters(self) -> dict:
        data = self.cleaned_data
        if data["report"] != "market_snapshot":
            return {"report": data["report"]}
        narrowed = {name: data[name] for name in ("community", "property_type") if data[name]}
        return {"report": data["report"], **narrowed}


class RunEditForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 16}), max_length=MAX_CHECK_CHARS, label="Text")
