"""Forms of the follow-up queue: editing a draft, dismissing one, marking a call made, filtering by agent."""

from django import forms

from brokerages.forms import DateInput

from ..models import SEND_CHANNELS, Channel

DISMISS_SUGGESTIONS = (
    "Already spoke to them",
    "Wrong message for this lead",
    "Lead is not interested",
    "Duplicate lead",
    "Will follow up in person",
)


class FollowUpEditForm(forms.Form):
    channel = forms.ChoiceField(choices=[(value, Channel(value).label) for value in SEND_CHANNELS])
    subject = forms.CharField(max_length=255, required=False, help_text="E-mails need one.")
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), max_length=5000,
                              error_messages={"required": "The message is empty."})
    suggested_send_date = forms.DateField(label="Send on", widget=DateInput())

    @classmethod
    def for_followup(cls, followup, data=None, prefix=None) -> "FollowUpEditForm":
        return cls(data, prefix=prefix or f"f{followup.pk}", initial={
            "channel": followup.channel, "subject": followup.subject, "content": followup.content,
            "suggested_send_date": followup.suggested_send_date})


class DismissForm(forms.Form):
    reason = forms.CharField(max_length=255, error_messages={
        "required": "Say why you are dismissing it, e.g. “Already spoke to them today”."})


class CalledForm(forms.Form):
    note = forms.CharField(max_length=1000, required=False, label="What happened on the call?")


class QueueFilterForm(forms.Form):
    agent = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, label="Agent")

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [("", "Everyone")] + [(agent.pk, agent.display_name) for agent in agents]

    @property
    def agent_id(self) -> int | None:
        return self.cleaned_data.get("agent") if self.is_valid() else None
