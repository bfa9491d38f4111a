"""The form that confirms erasing a lead's personal data."""

from django import forms

from ..models import Lead
from ..services.erasure import CONFIRM_WORD, erasure_confirmed


class EraseLeadForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}), help_text=(
        "Why, and on whose request, e.g. “The lead asked by e-mail on 3 May”. Kept in the compliance log."))
    confirm = forms.CharField(max_length=200, label="Type the lead's name, or ERASE, to confirm")

    def __init__(self, *args, lead: Lead, **kwargs):
        super().__init__(*args, **kwargs)
        self.lead = lead

    def clean_confirm(self):
        typed = self.cleaned_data["confirm"]
        if not erasure_confirmed(self.lead, typed):
            raise forms.ValidationError(f"Type the lead's name exactly as shown, or {CONFIRM_WORD}.")
        return typed
