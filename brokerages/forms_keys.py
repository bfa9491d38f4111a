"""The owners' form for a new integration key: a name, a read/write grid of scopes per area, an optional last day."""

import datetime as dt
from dataclasses import dataclass

from django import forms
from django.utils import timezone

from .models import API_SCOPES, ApiArea


@dataclass(frozen=True)
class ScopeRow:
    area: str
    description: str
    read: bool
    write: bool


class ApiKeyForm(forms.Form):
    """`scopes` may come back empty: the service refuses that with its own message. `expires_at` is a date the
    key still works on; cleaned, it is the moment that day ends in the brokerage's time zone."""

    name = forms.CharField(max_length=100, help_text="What will use the key, e.g. “Portal sync” or “Zapier”.")
    scopes = forms.MultipleChoiceField(choices=[(scope, scope) for scope in API_SCOPES], required=False)
    expires_at = forms.DateField(label="Last day (optional)", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="The key stops working after this day. Leave empty for no expiry.")

    def clean_expires_at(self) -> dt.datetime | None:
        day = self.cleaned_data["expires_at"]
        if day is None:
            return None
        return timezone.make_aware(dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min))

    def scope_rows(self) -> list[ScopeRow]:
        """One row per area with its description and which boxes are ticked (what was posted, if anything)."""
        ticked = set(self["scopes"].value() or ())
        return [ScopeRow(area.value, area.label, f"{area.value}:read" in ticked, f"{area.value}:write" in ticked)
                for area in ApiArea]
