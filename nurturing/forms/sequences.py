"""Forms of the sequence pages: the sequence, its step editor (a formset, one row per step) and enrolment."""

import re

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseFormSet, formset_factory

from ..models import SEND_CHANNELS, Channel, SequenceType
from ..steps import MAX_DELAY_DAYS, clean_steps

STEP_PREFIX = "steps"
# `clean_steps` names the step a message is about ("Step 1: …"); on the step's own row that goes without saying.
_STEP_PREFIX = re.compile(r"^Step \d+: ")


class SequenceForm(forms.Form):
    name = forms.CharField(max_length=255)
    sequence_type = forms.ChoiceField(choices=SequenceType.choices, label="Type",
                                      help_text="Inactive-client sequences are for won leads (clients); the "
                                                "others for open leads.")
    is_active = forms.BooleanField(required=False, initial=True, label="Active",
                                   help_text="Only an active sequence takes enrolments and sends its steps.")


def sequence_form(data=None, *, initial=None, add_row: bool = False) -> SequenceForm:
    """The sequence's own fields; while a step is being added they are carried over unvalidated, so that the
    page does not complain about a name not typed yet."""
    if data is None:
        return SequenceForm(initial=initial)
    if add_row:
        return SequenceForm(initial={"name": data.get("name", ""), "sequence_type": data.get("sequence_type", ""),
                                     "is_active": "is_active" in data})
    return SequenceForm(data)


class StepForm(forms.Form):
    """One step. Fields stay permissive so that `clean_steps`, the one rule for steps, words the errors."""

    delay_days = forms.IntegerField(label="Wait (days)", initial=0,
                                    widget=forms.NumberInput(attrs={"min": 0, "max": MAX_DELAY_DAYS}),
                                    help_text="Counted from the previous step; the first from enrolment.")
    channel = forms.ChoiceField(choices=[(channel.value, channel.label) for channel in SEND_CHANNELS],
                                initial=Channel.EMAIL)
    subject = forms.CharField(required=False, max_length=255, help_text="E-mail only; may use merge fields.")
    body = forms.CharField(required=False, label="Message", widget=forms.Textarea(attrs={"rows": 4}),
                           help_text="Sent as written, with the merge fields filled in.")
    instruction = forms.CharField(required=False, label="Or: instruction for the AI writer",
                                  widget=forms.Textarea(attrs={"rows": 2}),
                                  help_text="e.g. “Share two new listings in their areas and offer a viewing.”")

    def step(self) -> dict:
        data = self.cleaned_data
        step = {"delay_days": data["delay_days"], "channel": data["channel"]}
        for name in ("subject", "body", "instruction"):
            if data.get(name, "").strip():
                step[name] = data[name]
        return step


class BaseStepFormSet(BaseFormSet):
    """The rows become the sequence's steps in order; removed and untouched blank rows are left out. After
    `is_valid()`, `steps` holds them as `clean_steps` returned them."""

    steps: list[dict]

    def add_fields(self, form, index):
        super().add_fields(form, index)
        form.fields["DELETE"].label = "Remove this step"

    def clean(self):
        rows = [form for form in self.forms if not self._should_delete_form(form)
                and (form.errors or form.cleaned_data)]
        # Each row on its own first, so that every row shows its errors even while another has a bad field.
        for form in rows:
            if not form.errors:
                try:
                    clean_steps([form.step()])
                except ValidationError as error:
                    for message in error.message_dict["steps"]:
                        form.add_error(None, _STEP_PREFIX.sub("", message))
        if any(form.errors for form in rows):
            return
        try:
            self.steps = clean_steps([form.step() for form in rows])
        except ValidationError as error:
            raise ValidationError(error.message_dict["steps"]) from None


StepFormSet = formset_factory(StepForm, formset=BaseStepFormSet, extra=0, can_delete=True)


def step_formset(data=None, steps: list[dict] | None = None, add_row: bool = False) -> BaseStepFormSet:
    """The step editor: the given steps (or one blank row for a new sequence); bound to `data` when posted.
    `add_row` adds one blank row to the posted ones (the "Add a step" button)."""
    if data is None:
        return StepFormSet(prefix=STEP_PREFIX, initial=steps or [{}])
    if add_row:
        count = StepFormSet(data, prefix=STEP_PREFIX).total_form_count()
        data = data.copy()
        data[f"{STEP_PREFIX}-TOTAL_FORMS"] = str(count + 1)
        # The new row starts at the defaults, so that left untouched it counts as blank and is skipped.
        for name, field in StepForm.base_fields.items():
            if field.initial is not None:
                data[f"{STEP_PREFIX}-{count}-{name}"] = str(field.initial)
    return StepFormSet(data, prefix=STEP_PREFIX)


class LeadSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Find a lead",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, e-mail or phone"}))


class EnrolLeadForm(forms.Form):
    lead = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class EnrolInSequenceForm(forms.Form):
    sequence = forms.ModelChoiceField(queryset=None, empty_label="Choose a sequence…",
                                      error_messages={"invalid_choice": "Choose one of the active sequences."})

    def __init__(self, *args, sequences, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sequence"].queryset = sequences


class StopForm(forms.Form):
    reason = forms.CharField(required=False, max_length=255)
