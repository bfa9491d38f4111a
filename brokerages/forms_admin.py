"""Forms of the Django admin (system admins only). They validate; the admin saves through the services."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import models

from . import settings_registry
from .models import BrandAsset, Brokerage, BrokerageSetting, User
from .services import PROFILE_FIELDS
from .uploads import check_document, check_image

BRANDING_FIELDS = ("primary_color", "secondary_color")
# A web address typed without a scheme means https (Django 6's default; 5.2 warns unless told).
URL_FORMFIELD = {"assume_scheme": "https"}


def formfield(db_field, **kwargs):
    if isinstance(db_field, models.URLField):
        kwargs = {**URL_FORMFIELD, **kwargs}
    return db_field.formfield(**kwargs)


class BrokerageAddForm(forms.ModelForm):
    """A new brokerage together with its first owner, as `services.brokerage_create` takes them."""

    owner_email = forms.EmailField(label="Owner e-mail")
    owner_name = forms.CharField(label="Owner full name", max_length=200, required=False)
    owner_password = forms.CharField(
        label="Owner password", required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave blank to create the owner without a usable password; they can then set one through "
                  "“Forgot password”.",
    )

    class Meta:
        model = Brokerage
        fields = PROFILE_FIELDS + BRANDING_FIELDS
        formfield_callback = formfield

    def clean_owner_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["owner_email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise ValidationError("This e-mail address already has an account.")
        return email

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("owner_password")
        if password:
            owner = User(email=cleaned.get("owner_email") or "", full_name=cleaned.get("owner_name") or "")
            try:
                password_validation.validate_password(password, owner)
            except ValidationError as error:
                self.add_error("owner_password", error)
        return cleaned

    def service_kwargs(self) -> dict:
        """The keyword arguments of `services.brokerage_create` (its **profile takes the colours too)."""
        data = self.cleaned_data
        kwargs = {name: data[name] for name in PROFILE_FIELDS if name not in ("name", "license_number")}
        kwargs.update({name: data[name].upper() for name in BRANDING_FIELDS})
        kwargs.update(owner_email=data["owner_email"], owner_name=data.get("owner_name", "").strip(),
                      owner_password=data.get("owner_password") or None)
        return kwargs


class BrokerageChangeForm(forms.ModelForm):
    class Meta:
        model = Brokerage
        fields = PROFILE_FIELDS + BRANDING_FIELDS + ("logo",)
        formfield_callback = formfield

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if isinstance(logo, UploadedFile):
            check_image(logo)
        return logo

    def new_logo(self) -> UploadedFile | None:
        logo = self.cleaned_data.get("logo")
        return logo if "logo" in self.changed_data and isinstance(logo, UploadedFile) else None

    def logo_cleared(self) -> bool:
        return self.cleaned_data.get("logo") is False


class UserAddForm(auth_forms.AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "brokerage", "role")


class UserChangeForm(auth_forms.UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class BrokerageSettingForm(forms.ModelForm):
    """A registry setting: the key is one of the registry's, the value is validated and stored in its canonical
    text form. On the change page only the value is editable."""

    setting_key = forms.ChoiceField(
        label="Setting", choices=[(spec.key, f"{spec.label} ({spec.key})") for spec in settings_registry.SETTINGS]
    )

    class Meta:
        model = BrokerageSetting
        fields = ("brokerage", "setting_key", "setting_value")

    def clean(self):
        cleaned = super().clean()
        key = cleaned.get("setting_key") or self.instance.setting_key
        if key and "setting_value" in cleaned:
            spec = settings_registry.get_spec(key)
            try:
                cleaned["setting_value"] = spec.dump(spec.parse(cleaned["setting_value"]))
            except ValidationError as error:
                self.add_error("setting_value", error)
        return cleaned


class BrandAssetAddForm(forms.ModelForm):
    class Meta:
        model = BrandAsset
        fields = ("brokerage", "asset_type", "asset_name", "file")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if isinstance(upload, UploadedFile) and cleaned.get("asset_type"):
            check = check_image if cleaned["asset_type"] == BrandAsset.AssetType.LOGO else check_document
            try:
                check(upload)
            except ValidationError as error:
                self.add_error("file", error)
        return cleaned
