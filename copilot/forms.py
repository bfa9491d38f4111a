from django import forms

from .services import MAX_QUESTION_CHARS


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=255)
    category = forms.CharField(max_length=100)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. commission, referral")
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 18}),
                              help_text="Markdown. Start each section with a ## heading: sections are what the "
                                        "mentor cites.")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files from one input; each is checked like a single upload."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"multiple": True}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        uploads = list(data) if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(upload, initial) for upload in uploads or [None]]


class ImportForm(forms.Form):
    files = MultipleFileField(help_text="Markdown or text files with front matter (title, category, tags), or PDFs.")


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Search")
    category = forms.ChoiceField(required=False)
    tag = forms.ChoiceField(required=False)

    def __init__(self, *args, categories: list[str], tags: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", "All categories")] + [(c, c) for c in categories]
        self.fields["tag"].choices = [("", "All tags")] + [(t, t) for t in tags]


class AskForm(forms.Form):
    question = forms.CharField(max_length=MAX_QUESTION_CHARS, widget=forms.Textarea(attrs={
        "rows": 3, "placeholder": "Ask about policies, procedures or best practices…"}))
