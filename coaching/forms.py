"""Forms of the coaching pages: starting and logging a conversation, pasting a transcript, running sessions,
the list filters and the performance/metrics periods."""

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone

from brokerages.forms import DateInput

from .models import ConversationChannel, Intensity, TrainingPlanItem
from .permissions import AGENT_INTENSITIES
from .services.conversations import MAX_MESSAGE_CHARS
from .transcripts import MAX_MESSAGES

PAGE_SIZE = 25
LOOKBACK_CHOICES = [(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days"), (365, "Last 12 months")]
# A pasted transcript of MAX_MESSAGES messages of a few hundred characters each.
MAX_TRANSCRIPT_CHARS = 200_000


def _agent_choices(agents, blank: str | None = None):
    choices = [(agent.pk, agent.display_name) for agent in agents]
    return [("", blank), *choices] if blank is not None else choices


class ConversationStartForm(forms.Form):
    lead = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Lead",
                                  help_text="Leave empty for someone not in the CRM yet.")
    channel = forms.ChoiceField(choices=ConversationChannel.choices, initial=ConversationChannel.CALL)

    def __init__(self, *args, leads=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lead"].choices = [("", "No lead / not in the CRM"),
                                       *((lead.pk, lead.name) for lead in leads)]


class MessageForm(forms.Form):
    """One message; which button was pressed says who spoke. Emptiness and length are the service's rules."""

    speaker = forms.ChoiceField(choices=[("agent", "Agent"), ("lead", "Lead")], widget=forms.HiddenInput,
                                error_messages={"required": "Say whether the agent or the lead said it.",
                                                "invalid_choice": "Say whether the agent or the lead said it."})
    text = forms.CharField(required=False, label="Message", widget=forms.Textarea(attrs={
        "rows": 2, "placeholder": "What was just said…", "autofocus": True, "maxlength": MAX_MESSAGE_CHARS}))


class TranscriptForm(forms.Form):
    agent = forms.TypedChoiceField(coerce=int, label="Agent", help_text="Whose conversation this was.")
    lead = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="Lead")
    channel = forms.ChoiceField(choices=ConversationChannel.choices, initial=ConversationChannel.CALL)
    date = forms.DateField(required=False, widget=DateInput(), initial=timezone.localdate,
                           help_text="The day of the conversation (default: today); times in the transcript are "
                                     "read on it.")
    transcript = forms.CharField(
        max_length=MAX_TRANSCRIPT_CHARS, widget=forms.Textarea(attrs={"rows": 16}),
        help_text=f"One message per line, each starting with who spoke: “Agent: …”, “Lead: …”, or with a time and "
                  f"a name, “[10:02] Sara (agent): …”. Up to {MAX_MESSAGES:,} messages.")

    def __init__(self, *args, agents=None, leads=(), **kwargs):
        super().__init__(*args, **kwargs)
        if agents is None:
            del self.fields["agent"]
        else:
            self.fields["agent"].choices = _agent_choices(agents)
        self.fields["lead"].choices = [("", "No lead / not in the CRM"), *((lead.pk, lead.name) for lead in leads)]

    def clean_date(self):
        day = self.cleaned_data["date"] or timezone.localdate()
        if day > timezone.localdate() + dt.timedelta(days=1):
            raise forms.ValidationError("The conversation cannot have happened in the future.")
        return day


class SessionStartForm(forms.Form):
    agent = forms.TypedChoiceField(coerce=int, label="Agent")
    intensity = forms.ChoiceField(choices=Intensity.choices)
    enable_real_time = forms.BooleanField(required=False, initial=True, label="Real-time alerts")
    enable_notifications = forms.BooleanField(required=False, initial=True, label="Notifications")

    def __init__(self, *args, agents=None, manager: bool, default_intensity: str, **kwargs):
        super().__init__(*args, **kwargs)
        if agents is None:
            del self.fields["agent"]
        else:
            self.fields["agent"].choices = _agent_choices(agents)
        if not manager:
            self.fields["intensity"].choices = [
                (value, label) for value, label in Intensity.choices
                if value in AGENT_INTENSITIES or value == default_intensity]
        self.fields["intensity"].initial = default_intensity
        if not self.is_bound:
            # Unticked checkboxes post nothing, so the "on" defaults hold only for the unbound form.
            self.initial.setdefault("enable_real_time", True)
            self.initial.setdefault("enable_notifications", True)


class ConversationFilterForm(forms.Form):
    agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=())
    status = forms.ChoiceField(required=False, choices=[("", "Any"), ("open", "Live"), ("ended", "Ended")])
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        if agents is None:
            del self.fields["agent"]
        else:
            self.fields["agent"].choices = _agent_choices(agents, blank="Everyone")

    def filters(self) -> dict:
        if not self.is_bound or not self.is_valid():
            return {}
        status = self.cleaned_data["status"]
        return {"agent_id": self.cleaned_data.get("agent"),
                "ended": {"open": False, "ended": True}.get(status)}


class LookbackForm(forms.Form):
    days = forms.TypedChoiceField(required=False, coerce=int, empty_value=30, choices=LOOKBACK_CHOICES,
                                  initial=30, label="Period")

    def days_lookback(self) -> int:
        return self.cleaned_data["days"] if self.is_bound and self.is_valid() else 30


class PlanGenerateForm(forms.Form):
    target_completion_days = forms.IntegerField(min_value=7, max_value=180, initial=30,
                                                label="Finish within (days)")


class PlanItemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=TrainingPlanItem.Status.choices)


class MetricsPeriodForm(forms.Form):
    """A period of whole days, both included; by default the 30 days up to today."""

    start = forms.DateField(required=False, widget=DateInput())
    end = forms.DateField(required=False, widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["end"].initial = today
        self.fields["start"].initial = today - dt.timedelta(days=30)

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - dt.timedelta(days=30)
        if start > end:
            raise forms.ValidationError("The period must start before it ends.")
        if (end - start).days > 366:
            raise forms.ValidationError("Pick a period of at most a year.")
        data["start"], data["end"] = start, end
        return data

    def period(self, zone: str) -> tuple[dt.datetime, dt.datetime]:
        """The period as aware datetimes in the brokerage's time zone: from the start of `start` to the end of
        `end` (so both days count)."""
        if self.is_bound and self.is_valid():
            start, end = self.cleaned_data["start"], self.cleaned_data["end"]
        else:
            end = timezone.localdate()
            start = end - dt.timedelta(days=30)
        tzinfo = ZoneInfo(zone)
        return (dt.datetime.combine(start, dt.time.min, tzinfo=tzinfo),
                dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tzinfo))
