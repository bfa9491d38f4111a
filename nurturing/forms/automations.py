"""The automation builder: a form for the trigger and its conditions and a formset of actions, which together
produce the two JSON documents `nurturing.automation_schema` validates. Owners never type JSON."""

import json
import re

from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse

from ..automation_schema import ACTION_FIELDS, ACTION_TYPES, MAX_ACTIONS, MAX_IDLE_DAYS, RECIPIENTS, ROUND_ROBIN
from ..models import SEND_CHANNELS, Channel, Source, Stage, WorkflowAutomation, WorkflowType
from ..services.triggers import TRIGGERS
from ..steps import MERGE_FIELDS

ACTIONS_PREFIX = "actions"
# The form field that holds each schema field of an action.
ACTION_FORM_FIELDS = {"sequence_id": "sequence", "agent_id": "agent", "tag": "tag", "recipient": "recipient",
                      "message": "message", "channel": "channel", "instruction": "instruction", "url": "url"}
# Where a schema path of the trigger document is shown on the form.
TRIGGER_FORM_FIELDS = {"trigger": "trigger", "idle_days": "idle_days", "tag": "tag", "to_stage": "to_stage",
                       "conditions.source": "sources", "conditions.stage": "stages", "conditions.area": "areas",
                       "conditions.tag": "tags", "conditions.budget_min": "budget_min",
                       "conditions.budget_max": "budget_max"}


class AutomationForm(forms.Form):
    name = forms.CharField(max_length=255)
    workflow_type = forms.ChoiceField(choices=WorkflowType.choices, label="Type")
    trigger = forms.ChoiceField(choices=TRIGGERS, label="When")
    idle_days = forms.IntegerField(required=False, min_value=1, max_value=MAX_IDLE_DAYS,
                                   label="…idle for how many days",
                                   help_text="For “A lead is idle for N days”: days since the last contact (or "
                                             "since the lead came in, if never contacted). Runs once per quiet "
                                             "spell.")
    tag = forms.CharField(required=False, max_length=50, label="…the tag added",
                          help_text="For “A tag is added”.")
    to_stage = forms.ChoiceField(required=False, choices=[("", "Any stage"), *Stage.choices],
                                 label="…the stage moved to", help_text="For “A lead changes stage”.")
    sources = forms.MultipleChoiceField(required=False, choices=Source.choices, widget=forms.CheckboxSelectMultiple,
                                        label="Only leads from these sources", help_text="None ticked: any source.")
    stages = forms.MultipleChoiceField(required=False, choices=Stage.choices, widget=forms.CheckboxSelectMultiple,
                                       label="Only leads at these stages", help_text="None ticked: any stage.")
    budget_min = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2,
                                    label="Budget reaches at least (AED)")
    budget_max = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2,
                                    label="Budget starts at most at (AED)",
                                    help_text="A lead matches when its budget range overlaps this one; a lead "
                                              "without a budget does not match a budget condition.")
    areas = forms.CharField(required=False, label="Only leads wanting any of these areas",
                            help_text="Comma-separated, e.g. Dubai Marina, JVC.")
    tags = forms.CharField(required=False, label="Only leads with any of these tags",
                           help_text="Comma-separated, e.g. investor, vip.")
    is_active = forms.BooleanField(required=False, initial=True, label="Active",
                                   help_text="Switched off, it runs on nothing until you switch it on again.")

    @staticmethod
    def initial_for(automation: WorkflowAutomation) -> dict:
        document = automation.trigger_conditions
        conditions = document.get("conditions", {})
        return {
            "name": automation.name, "workflow_type": automation.workflow_type, "trigger": document.get("trigger"),
            "idle_days": document.get("idle_days"), "tag": document.get("tag", ""),
            "to_stage": document.get("to_stage", ""), "sources": conditions.get("source", []),
            "stages": conditions.get("stage", []), "budget_min": conditions.get("budget_min"),
            "budget_max": conditions.get("budget_max"), "areas": ", ".join(conditions.get("area", [])),
            "tags": ", ".join(conditions.get("tag", [])), "is_active": automation.is_active,
        }

    def trigger_conditions(self) -> dict:
        """The trigger document from the cleaned form: only the trigger's own parameter, only conditions set."""
        data = self.cleaned_data
        trigger = data["trigger"]
        document: dict = {"trigger": trigger}
        parameter = {"idle": "idle_days", "tag_added": "tag", "stage_changed": "to_stage"}.get(trigger)
        if parameter and data.get(parameter) not in (None, ""):
            document[parameter] = data[parameter]
        conditions = {"source": data["sources"], "stage": data["stages"], "area": data["areas"],
                      "tag": data["tags"]}
        conditions = {key: value for key, value in conditions.items() if value}
        for key in ("budget_min", "budget_max"):
            if data.get(key) is not None:
                conditions[key] = str(data[key])
        document["conditions"] = conditions
        return document


class ActionForm(forms.Form):
    type = forms.ChoiceField(required=False, choices=[("", "— choose an action —"), *ACTION_TYPES], label="Action")
    sequence = forms.ChoiceField(required=False, label="Sequence",
                                 help_text="An active sequence; the lead starts at its first step.")
    agent = forms.ChoiceField(required=False, label="Agent",
                              help_text="Round robin gives each new lead to the next active agent in turn and "
                                        "leaves a lead that already has an agent with them.")
    tag = forms.CharField(required=False, max_length=50, label="Tag to add")
    recipient = forms.ChoiceField(required=False, choices=RECIPIENTS, label="Notify")
    message = forms.CharField(required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2}),
                              label="Message",
                              help_text="Merge fields: " + ", ".join("{{ %s }}" % name for name in MERGE_FIELDS))
    channel = forms.ChoiceField(required=False, choices=[(value, Channel(value).label) for value in SEND_CHANNELS],
                                label="Channel")
    instruction = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
                                  label="What the follow-up should do",
                                  help_text="The AI engine writes the draft from this and the lead's data; the agent "
                                            "reviews it in the follow-up queue.")
    url = forms.CharField(required=False, max_length=500, label="Webhook URL",
                          help_text="We POST the lead as JSON (5-second timeout). Public http(s) addresses only.")

    def __init__(self, *args, sequences=(), agents=(), **kwargs):
        super().__init__(*args, **kwargs)
        # Choosing a type redraws this row with that action's fields (views.automations.automation_action_form).
        self.fields["type"].widget.attrs.update({
            "hx-get": reverse("nurturing:automation_action_form"), "hx-trigger": "change",
            "hx-target": "closest .action-row", "hx-swap": "outerHTML", "hx-include": "closest .action-row",
            "hx-vals": json.dumps({"index": self.prefix.rsplit("-", 1)[-1]})})
        self.fields["sequence"].choices = [("", "— choose —"), *((str(pk), name) for pk, name in sequences)]
        self.fields["agent"].choices = [(ROUND_ROBIN, "Round robin among active agents"),
                                        *((str(pk), name) for pk, name in agents)]

    @staticmethod
    def initial_for(action: dict) -> dict:
        initial = {"type": action["type"]}
        for key, name in ACTION_FORM_FIELDS.items():
            if key in action:
                initial[name] = str(action[key]) if key in ("sequence_id", "agent_id") else action[key]
        return initial

    @property
    def chosen_type(self) -> str:
        if self.is_bound:
            return self.data.get(self.add_prefix("type"), "")
        return self.initial.get("type", "")

    def type_fields(self) -> list:
        """The bound fields the chosen action takes (nothing but the type until one is chosen)."""
        return [self[ACTION_FORM_FIELDS[key]] for key in ACTION_FIELDS.get(self.chosen_type, ())]

    def clean(self):
        data = super().clean()
        for key in ACTION_FIELDS.get(data.get("type"), ()):
            if data.get(ACTION_FORM_FIELDS[key]) in (None, ""):
                self.add_error(ACTION_FORM_FIELDS[key], "Required for this action.")
        return data

    def action(self) -> dict | None:
        """The action document, or None for a row left blank."""
        kind = self.cleaned_data.get("type")
        if not kind:
            return None
        action: dict = {"type": kind}
        for key in ACTION_FIELDS[kind]:
            value = self.cleaned_data[ACTION_FORM_FIELDS[key]]
            if key in ("sequence_id", "agent_id") and value != ROUND_ROBIN:
                value = int(value)
            action[key] = value
        return action


class BaseActionFormSet(forms.BaseFormSet):
    def kept_forms(self) -> list[ActionForm]:
        """The rows that hold an action, in order (blank rows and rows marked for removal left out)."""
        deleted = set(self.deleted_forms)
        return [form for form in self.forms if form not in deleted and form.cleaned_data.get("type")]

    def actions(self) -> list[dict]:
        return [form.action() for form in self.kept_forms()]

    def clean(self):
        super().clean()
        if not any(self.errors) and not self.actions():
            raise ValidationError("Add at least one action.")


ActionFormSet = forms.formset_factory(ActionForm, formset=BaseActionFormSet, extra=0, can_delete=True,
                                      max_num=MAX_ACTIONS, validate_max=True)


def action_formset(data=None, *, automation: WorkflowAutomation | None, sequences, agents) -> BaseActionFormSet:
    initial = [ActionForm.initial_for(action) for action in automation.actions] if automation else [{}]
    return ActionFormSet(data, initial=None if data is not None else initial, prefix=ACTIONS_PREFIX,
                         form_kwargs={"sequences": sequences, "agents": agents})


def readable_path(path: str) -> str:
    """A schema path as an owner reads it: `actions[1].sequence_id` → “Action 2 (sequence)”."""
    match = re.fullmatch(r"actions\[(\d+)\](?:\.(\w+))?", path)
    if match:
        name = ACTION_FORM_FIELDS.get(match.group(2) or "", match.group(2) or "")
        return f"Action {int(match.group(1)) + 1}" + (f" ({name})" if name else "")
    return path.removeprefix("trigger_conditions.").replace("conditions.", "condition ").replace("_", " ")


def show_schema_errors(error: ValidationError, form: AutomationForm, formset: BaseActionFormSet) -> None:
    """Put the service's errors (keyed by name or by schema path) next to the fields that caused them. A path
    names the action's position among the kept actions, so blank or removed rows are skipped when counting."""
    kept = formset.kept_forms()
    for path, messages in error.message_dict.items():
        text = [message[:1].upper() + message[1:] for message in messages]
        match = re.fullmatch(r"actions\[(\d+)\](?:\.(\w+))?", path)
        if match and int(match.group(1)) < len(kept):
            target = kept[int(match.group(1))]
            name = ACTION_FORM_FIELDS.get(match.group(2) or "", None)
            target.add_error(name if name in target.fields else None, text)
        elif path.startswith("actions"):
            form.add_error(None, ["Actions: " + message for message in text])
        elif path.startswith("trigger_conditions."):
            name = TRIGGER_FORM_FIELDS.get(path.removeprefix("trigger_conditions."))
            form.add_error(name, text)
        else:
            form.add_error(path if path in form.fields else None, text)
