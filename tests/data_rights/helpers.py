"""What the data rights tests share: a brokerage with a record of every kind and every kind of secret, and
building and reading an export's archive."""

import io
import json
import zipfile
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope
from rest_framework.authtoken.models import Token

from brokerages import services as brokerage_services
from brokerages.exports import services as export_services
from brokerages.keys import api_key_create
from brokerages.models import DataExport, Notification, User, WebhookEndpoint
from nurturing.models import LeadWebhook
from nurturing.services.lead_webhook import lead_webhook_ensure
from nurturing.services.listings import listing_photo_add
from nurturing.models import Listing
from tests.api.seed import seed_brokerage
from tests.images import png_bytes


@dataclass
class Secrets:
    """Every credential the brokerage holds, as stored and as shown once."""

    api_key_raw: str
    api_key_hash: str
    webhook_secret: str
    lead_webhook_token: str
    lead_webhook_secret: str
    password_hash: str
    member_token: str

    def values(self) -> list[str]:
        return list(vars(self).values())


def rich_brokerage(name: str = "Fuzz Realty") -> tuple[User, dict, Secrets]:
    """The API fuzz run's brokerage (a record of every kind, made by the services), plus a logo, a listing
    photo, a notification and every kind of credential. Returns its owner, the seeded ids and the secrets."""
    owner, ids = seed_brokerage()
    brokerage = owner.brokerage
    if name != brokerage.name:
        brokerage.name = name
        brokerage.save(update_fields=["name"])
    brokerage_services.brokerage_update_branding(
        brokerage=brokerage, actor=owner, primary_color="#112233", secondary_color="#445566",
        logo=SimpleUploadedFile("logo.png", png_bytes(colour="#AA0000"), content_type="image/png"))
    listing = Listing.objects.get(pk=ids["listings"])
    with scope(brokerage=brokerage):
        listing_photo_add(brokerage=brokerage, actor=owner, listing=listing, caption="Living room",
                          image=SimpleUploadedFile("room.png", png_bytes(colour="#00AA00"), content_type="image/png"))
        lead_webhook, _ = lead_webhook_ensure(brokerage=brokerage, actor=owner)
    key, raw = api_key_create(brokerage=brokerage, actor=owner, name="Portal sync", scopes=["nurturing:read"])
    token = brokerage_services.api_token_create(user=owner)
    Notification.objects.create(brokerage=brokerage, recipient=owner, kind="test", message="Hello owner",
                                key="hello")
    endpoint = WebhookEndpoint.objects.get(brokerage=brokerage)
    lead_webhook = LeadWebhook.objects.get(pk=lead_webhook.pk)
    owner.refresh_from_db()
    secrets = Secrets(api_key_raw=raw, api_key_hash=key.key_hash, webhook_secret=endpoint.secret,
                      lead_webhook_token=lead_webhook.token, lead_webhook_secret=lead_webhook.secret,
                      password_hash=owner.password, member_token=Token.objects.get(pk=token.pk).key)
    return owner, ids, secrets


def build_export(owner: User, *, include_media: bool = True) -> DataExport:
    """Ask for an export as the owner and build it here (the Celery task's work)."""
    brokerage = owner.brokerage
    with scope(brokerage=brokerage):
        export = export_services.data_export_request(brokerage=brokerage, actor=owner, include_media=include_media)
        return export_services.data_export_build(export_id=export.pk)


def read_archive(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def archive_of(export: DataExport) -> dict[str, bytes]:
    with export.archive.open("rb") as handle:
        return read_archive(handle.read())


def records(files: dict[str, bytes], table: str) -> list[dict]:
    return json.loads(files[f"json/{table}.json"])
