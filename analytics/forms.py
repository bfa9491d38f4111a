"""The filter every analytics page shares: a named period or custom dates, and optionally one agent."""

import datetime as dt
import zoneinfo

from django import forms
from django.core.exceptions import ValidationError

from brokerages.forms import DateInput
from brokerages.models import Brokerage

from .period import DEFAULT_PRESET, PRESETS, Period, period_problems, preset_period
from .selectors.team import agents_of


class AnalyticsFilterForm(forms.Form):
    period = forms.ChoiceField(choices=[*PRESETS, ("custom", "Custom dates")], required=False, label="Period")
    start = forms.DateField(required=False, widget=DateInput(), label="From")
    end = forms.DateField(required=False, widget=DateInput(), label="To")
    agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Agent")

    def __init__(self, data, *, brokerage: Brokerage, zone: zoneinfo.ZoneInfo, with_agent: bool = True):
        super().__init__(data)
        self.zone = zone
        self.today = dt.datetime.now(zone).date()
        # The members the agent filter offers; pages that show them too read them here, not again.
        self.agents = list(agents_of(brokerage)) if with_agent else []
        if with_agent:
            self.fields["agent"].choices = [("", "All agents"), *[(agent.pk, agent.display_name)
                                                                  for agent in self.agents]]
        else:
            del self.fields["agent"]

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        name = data.get("period") or ("custom" if start or end else DEFAULT_PRESET)
        if name == "custom":
            end = end or self.today
            start = start or end - dt.timedelta(days=29)
            problems = period_problems(start, end, today=self.today)
            if problems:
                raise ValidationError(problems)
            data["resolved"] = Period(start, end, self.zone)
        else:
            data["resolved"] = preset_period(name, self.today, self.zone)
        data["period"] = name
        return data

    def resolved(self) -> tuple[Period, int | None]:
        """The period and agent asked for; the default period and every agent when the filter is invalid (the
        page then shows the errors above the default figures)."""
        if self.is_valid():
            return self.cleaned_data["resolved"], self.cleaned_data.get("agent")
        return preset_period(DEFAULT_PRESET, self.today, self.zone), None
