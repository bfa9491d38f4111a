"""Forms of the CSV import (upload, then map the columns) and of the webhook settings page."""

from django import forms

from ..services.ingestion import IMPORT_FIELDS, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS


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
    """One select per named CSV column (col_0, col_1, … by column position), pre-filled by the auto-mapping.
    A column without a header name cannot be told apart from the others, so it is left out."""

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
