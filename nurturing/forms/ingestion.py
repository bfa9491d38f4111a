"""Forms of the CRM connector: the CSV import (upload, then pick a CRM preset and map the columns) and the
filters of the interaction and follow-up exports (the lead export takes the lead list's own filter form)."""

from django import forms

from ..crm_presets import PRESETS
from ..models import Channel, FollowUp
from ..selectors.exports import InteractionFilters
from ..services.ingestion import IMPORT_FIELDS, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS

CUSTOM = ""


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text=(
        f"UTF-8 text with a header row; commas, semicolons or tabs. At most {MAX_IMPORT_BYTES // (1024 * 1024)} MB "
        f"and {MAX_IMPORT_ROWS:,} rows."))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise forms.ValidationError(f"The file is {upload.size / (1024 * 1024):.1f} MB; the limit is "
                                        f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB. Split it into smaller files.")
        return upload


class ImportMappingForm(forms.Form):
    """The CRM preset and one select per named CSV column (col_0, col_1, … by column position), pre-filled by
    the preset's or the automatic mapping. A column without a header name cannot be told apart from the
    others, so it is left out."""

    preset = forms.ChoiceField(required=False, label="Exported from",
                               choices=[(CUSTOM, "Custom (map the columns yourself)"),
                                        *((preset.key, preset.label) for preset in PRESETS)])
    run_automations = forms.BooleanField(
        required=False, label="Run the “lead created” automations for these leads",
        help_text="Off by default: imported leads are often old ones that should not be assigned or enrolled again.")

    def __init__(self, *args, headers: list[str], mapping: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        choices = [("", "— ignore this column —"), *IMPORT_FIELDS.items()]
        for index, header in enumerate(headers):
            if header:
                self.fields[f"col_{index}"] = forms.ChoiceField(required=False, choices=choices, label=header,
                                                                initial=mapping.get(header, ""))

    def column_fields(self) -> list:
        return [self[f"col_{index}"] for index, header in enumerate(self.headers) if header]

    def mapping(self) -> dict[str, str]:
        """Header → lead field ("" to ignore) for every named column."""
        return {header: self.cleaned_data[f"col_{index}"] for index, header in enumerate(self.headers) if header}


def _with_blank(choices, label: str = "Any"):
    return [("", label), *choices]


class _ExportFilterForm(forms.Form):
    """An export's filters, with an agent filter for managers listing the brokerage's agents (so another
    brokerage's agent is refused); agents, who only export their own work, get none. The export page shows the
    forms side by side: each has its own element ids (`id_prefix`), while the field names stay the query's."""

    id_prefix = ""

    def __init__(self, *args, agents=None, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)
        if agents is None:
            del self.fields["agent"]
        else:
            self.fields["agent"].choices = [("", "Anyone"), *((agent.pk, agent.display_name) for agent in agents)]


class InteractionExportForm(_ExportFilterForm):
    id_prefix = "interactions"
    channel = forms.ChoiceField(required=False, choices=_with_blank(Channel.choices))
    agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=())
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError("“From” is after “To”; swap the dates.")
        return data

    def filters(self) -> InteractionFilters:
        """The filters of a valid (or unbound: everything) form."""
        if not self.is_bound:
            return InteractionFilters()
        data = self.cleaned_data
        return InteractionFilters(channel=data["channel"], agent=data.get("agent"), since=data["since"],
                                  until=data["until"])


class FollowUpExportForm(_ExportFilterForm):
    id_prefix = "followups"
    status = forms.ChoiceField(required=False, choices=_with_blank(FollowUp.Status.choices))
    agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, choices=())
