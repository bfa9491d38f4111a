"""Forms of the lead pages: filters, the lead itself, stage changes, assignment, contact preferences, and the
quick "log interaction"."""

from django import forms

from brokerages.forms import DateInput

from ..models import Channel, Direction, Lead, Priority, Source, Stage
from ..selectors.leads import LeadFilters

PAGE_SIZE = 25


def _blank(choices, label: str = "Any"):
    return [("", label), *choices]


class LeadFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, e-mail or phone"}))
    stage = forms.ChoiceField(required=False, choices=_blank(Stage.choices))
    source = forms.ChoiceField(required=False, choices=_blank(Source.choices))
    priority = forms.ChoiceField(required=False, choices=_blank(Priority.choices))
    agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=())
    tag = forms.CharField(required=False, max_length=50)
    area = forms.CharField(required=False, max_length=80)
    budget_min = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=0,
                                    label="Budget from")
    budget_max = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=0,
                                    label="Budget to")
    clients = forms.BooleanField(required=False, label="Clients only")
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        if agents is None:
            del self.fields["agent"]
        else:
            self.fields["agent"].choices = [("", "Anyone"), *((agent.pk, agent.display_name) for agent in agents)]

    def filters(self) -> LeadFilters:
        if not self.is_bound or not self.is_valid():
            return LeadFilters()
        data = self.cleaned_data
        return LeadFilters(q=data["q"], stage=data["stage"], source=data["source"], priority=data["priority"],
                           agent=data.get("agent"), tag=data["tag"], area=data["area"],
                           budget_min=data["budget_min"], budget_max=data["budget_max"], clients=data["clients"])


class LeadForm(forms.ModelForm):
    """The lead's own details. Areas and tags are typed comma-separated."""

    areas = forms.CharField(required=False, help_text="Communities, comma-separated (e.g. Dubai Marina, JVC).")
    tags = forms.CharField(required=False, help_text="Comma-separated.")

    class Meta:
        model = Lead
        fields = ["name", "email", "phone", "source", "priority", "budget_min", "budget_max", "areas",
                  "property_type", "timeline", "tags", "next_followup_date", "marketing_consent", "notes"]
        widgets = {"next_followup_date": DateInput(),
                   "notes": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["areas"] = ", ".join(self.instance.areas)
            self.initial["tags"] = ", ".join(self.instance.tags)

    def lead_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class AssignForm(forms.Form):
    agent = forms.TypedChoiceField(coerce=int, empty_value=None, required=False, label="Assigned agent")

    def __init__(self, *args, agents, **kwargs):
        super().__init__(*args, **kwargs)
        self.agents = {agent.pk: agent for agent in agents}
        self.fields["agent"].choices = [("", "Nobody"), *((pk, agent.display_name) for pk, agent in self.agents.items())]

    def clean_agent(self):
        pk = self.cleaned_data["agent"]
        return self.agents.get(pk) if pk else None


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=Stage.choices)
    note = forms.CharField(required=False, max_length=255)
    lost_reason = forms.CharField(required=False, max_length=255, label="Why was it lost?")
    sale_price = forms.DecimalField(required=False, min_value=0, max_digits=14, decimal_places=2)
    commission = forms.DecimalField(required=False, min_value=0, max_digits=12, decimal_places=2)
    satisfaction_score = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Client satisfaction",
        choices=[("", "—"), *((n, f"{n} / 5") for n in range(1, 6))])


class ContactPreferencesForm(forms.Form):
    do_not_contact = forms.BooleanField(required=False, label="Do not contact")
    marketing_consent = forms.BooleanField(required=False, label="Agreed to nurturing messages")


class InteractionForm(forms.Form):
    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.CALL)
    direction = forms.ChoiceField(choices=Direction.choices, initial=Direction.OUTBOUND)
    summary = forms.CharField(max_length=5000, widget=forms.Textarea(attrs={"rows": 2,
                                                                            "placeholder": "What happened?"}))
    occurred_at = forms.DateTimeField(required=False, label="When (blank for now)",
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
