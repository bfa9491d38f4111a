"""Forms of the Quality & Consistency pages: a template, a compliance rule, a text to check."""

from django import forms

from .compliance import MAX_CHECK_CHARS, TEXT_KINDS
from .models import ComplianceRule, TemplateKind

TEMPLATE_HELP = {
    TemplateKind.EMAIL_SIGNATURE: "Added under every e-mail the assistant drafts.",
    TemplateKind.DISCLAIMER: "The compliance check looks for this text, word for word, where a rule requires it.",
    TemplateKind.LISTING_SKELETON: "The shape of every listing description. Placeholders in braces are filled from "
                                   "the listing and the brokerage's profile.",
    TemplateKind.TONE_OF_VOICE: "How the brokerage writes: the generators follow it.",
}


class TemplateForm(forms.Form):
    """One kind's text; the page shows one per kind, each with the kind as its prefix."""

    text = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 8}),
                           help_text="Clear it to go back to the built-in default.")

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, prefix=kind, **kwargs)
        self.kind = kind
        self.fields["text"].label = TemplateKind(kind).label
        self.fields["text"].help_text = f"{TEMPLATE_HELP[kind]} {self.fields['text'].help_text}"


class ComplianceRuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    kind = forms.ChoiceField(choices=ComplianceRule.Kind.choices, label="Kind of rule")
    element = forms.ChoiceField(choices=ComplianceRule.Element.choices, label="Looks for",
                                help_text="A prohibited claim is always a phrase; a required element may be one of "
                                          "the built-in elements.")
    pattern = forms.CharField(required=False, max_length=200, label="Phrase",
                              help_text="Plain words, e.g. “guaranteed returns”: case, spacing, hyphens and a "
                                        "plural do not matter. Only for phrase rules.")
    applies_to = forms.ChoiceField(choices=ComplianceRule.AppliesTo.choices)
    explanation = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 3}),
                                  help_text="Shown with every failure: say why, and what to do, e.g. “RERA forbids "
                                            "promising returns; remove it.”")


class CheckForm(forms.Form):
    text = forms.CharField(max_length=MAX_CHECK_CHARS, widget=forms.Textarea(attrs={"rows": 14}),
                           label="Marketing text", strip=False,
                           error_messages={"max_length": f"Check at most {MAX_CHECK_CHARS:,} characters at a time."})
    kind = forms.ChoiceField(choices=list(TEXT_KINDS.items()), initial="listing", label="Kind of text")
    permit_number = forms.CharField(required=False, max_length=40,
                                    help_text="For a listing text: the permit number it must carry.")

    def clean_text(self) -> str:
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("Paste the text to check.")
        return text.replace("\r\n", "\n")  # browsers send CRLF; findings count lines by \n
