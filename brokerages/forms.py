from django import forms
from django.contrib.auth import forms as auth_forms
from django.core.exceptions import ValidationError

from . import services, settings_registry
from .models import HEX_COLOUR_PATTERN, BrandAsset, Brokerage, Role, hex_colour_validator
from .permissions import TENANT_ROLES
from .services import PROFILE_FIELDS
from .uploads import check_image


class DateInput(forms.DateInput):
    """The browser's date picker, which reads and writes ISO dates whatever the site's date format."""

    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


TENANT_ROLE_CHOICES = [(value, label) for value, label in Role.choices if value in TENANT_ROLES]


class BrokerageProfileForm(forms.ModelForm):
    website = forms.URLField(max_length=255, required=False, assume_scheme="https")

    class Meta:
        model = Brokerage
        fields = PROFILE_FIELDS
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}


class BrandingForm(forms.Form):
    primary_color = forms.CharField(
        label="Primary colour", max_length=7, validators=[hex_colour_validator],
        widget=forms.TextInput(attrs={"type": "color", "pattern": HEX_COLOUR_PATTERN}),
    )
    secondary_color = forms.CharField(
        label="Secondary colour", max_length=7, validators=[hex_colour_validator],
        widget=forms.TextInput(attrs={"type": "color", "pattern": HEX_COLOUR_PATTERN}),
    )
    logo = forms.FileField(required=False, help_text="PNG, JPEG, WebP or GIF, at most 2 MB.")
    remove_logo = forms.BooleanField(required=False, label="Remove the current logo")

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if logo:
            check_image(logo)
        return logo


class BrandAssetForm(forms.Form):
    asset_type = forms.ChoiceField(choices=BrandAsset.AssetType.choices)
    asset_name = forms.CharField(max_length=255)
    file = forms.FileField(help_text="Logos: an image up to 2 MB. Templates and brochures: PDF or image up to 10 MB.")


class SettingsForm(forms.Form):
    """One field per registry entry, grouped by section; initial values are the brokerage's current ones."""

    def __init__(self, *args, current: dict, **kwargs):
        super().__init__(*args, **kwargs)
        for spec in settings_registry.SETTINGS:
            self.fields[spec.key] = self._field_for(spec)
            self.initial[spec.key] = current[spec.key]

    @staticmethod
    def _field_for(spec: settings_registry.SettingSpec) -> forms.Field:
        common = {"label": spec.label, "help_text": spec.help_text}
        if spec.type == "int":
            return forms.IntegerField(min_value=spec.min_value, max_value=spec.max_value, **common)
        if spec.type == "bool":
            return forms.BooleanField(required=False, **common)
        if spec.type == "choice":
            return forms.ChoiceField(choices=spec.choices, **common)
        return forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), **common)

    def sections(self) -> list[tuple[str, list]]:
        grouped: dict[str, list] = {}
        for spec in settings_registry.SETTINGS:
            grouped.setdefault(spec.section, []).append(self[spec.key])
        return list(grouped.items())


class InviteForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=200)
    role = forms.ChoiceField(choices=TENANT_ROLE_CHOICES, initial=Role.AGENT)
    agent_license_number = forms.CharField(max_length=100, required=False, label="Agent licence (BRN)")
    hire_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=TENANT_ROLE_CHOICES)


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False)
    actor = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")

    def __init__(self, *args, actions: list[str], members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in actions]
        self.fields["actor"].choices = [("", "Anyone")] + [(m.pk, str(m)) for m in members]

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("The start date is after the end date.")
        return data


class SetPasswordForm(auth_forms.SetPasswordForm):
    """Choosing a password from an invitation or reset link; AUTH_PASSWORD_VALIDATORS apply."""

    via = "link"

    def save(self, commit=True):
        return services.member_password_set(user=self.user, password=self.cleaned_data["new_password1"],
                                            via=self.via)


class PasswordChangeForm(auth_forms.PasswordChangeForm, SetPasswordForm):
    """Changing one's password while signed in: the current one first, then the same rules."""

    via = "change"
