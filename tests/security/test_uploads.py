"""Every upload path checks files by their content and size, not their name: a brand logo, brand assets, listing
photos, CSV lead imports (page and API) and knowledge documents each refuse an HTML page renamed as an image, a
"PDF" that is not one, binary data as text and an oversized file, and store nothing."""

import io
import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from brokerages.models import BrandAsset
from brokerages.uploads import MAX_ASSET_BYTES, MAX_LOGO_BYTES, MAX_PHOTO_BYTES
from copilot.models import KnowledgeArticle
from copilot.services import MAX_IMPORT_BYTES as MAX_DOCUMENT_BYTES
from nurturing.models import Lead, ListingPhoto
from nurturing.services.ingestion import MAX_IMPORT_BYTES as MAX_CSV_BYTES
from nurturing.services.listings import listing_create
from tests.api_helpers import api_as
from tests.images import png_bytes

HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
NOT_A_PDF = b"MZ\x90\x00\x03\x00\x00\x00 this is an executable, not a PDF"
BINARY = png_bytes((16, 16)) + bytes(range(256))
NOT_AN_IMAGE = "This file is not a PNG, JPEG, WebP or GIF image."


def upload(name: str, data: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def oversized(limit: int, head: bytes = b"") -> bytes:
    """Just over `limit`, starting like a real file so only its size is wrong."""
    return head + b"\0" * (limit + 1 - len(head))


@pytest.mark.django_db
class TestBrandLogo:
    @pytest.mark.parametrize(("name", "data", "message"), [
        ("logo.png", HTML_PAGE, NOT_AN_IMAGE),
        ("logo.png", oversized(MAX_LOGO_BYTES, png_bytes()), "the limit is 2 MB"),
    ], ids=["html-renamed-png", "oversized"])
    def test_refused(self, login, tenant, name, data, message):
        client = login(tenant.owner)
        response = client.post(reverse("brokerages:branding"), {
            "primary_color": "#1F4E79", "secondary_color": "#C9A227", "logo": upload(name, data, "image/png")})
        assert response.status_code == 200 and message in response.content.decode()
        tenant.brokerage.refresh_from_db()
        assert not tenant.brokerage.logo


@pytest.mark.django_db
class TestBrandAssets:
    @pytest.mark.parametrize(("asset_type", "name", "data", "message"), [
        ("logo", "logo.png", HTML_PAGE, NOT_AN_IMAGE),
        ("brochure", "brochure.png", HTML_PAGE, "must be a PDF or a PNG"),
        ("brochure", "brochure.pdf", NOT_A_PDF, "must be a PDF or a PNG"),
        ("template", "template.pdf", oversized(MAX_ASSET_BYTES, b"%PDF-1.7\n"), "the limit is 10 MB"),
    ], ids=["html-as-logo", "html-renamed-png", "pdf-that-is-not", "oversized"])
    def test_refused(self, login, tenant, asset_type, name, data, message):
        client = login(tenant.owner)
        response = client.post(reverse("brokerages:brand_asset_upload"), {
            "asset_type": asset_type, "asset_name": "Upload", "file": upload(name, data)}, HTTP_HX_REQUEST="true")
        assert message in response.content.decode()
        assert not BrandAsset.objects.exists()


@pytest.mark.django_db
class TestListingPhotos:
    @pytest.mark.parametrize(("name", "data", "message"), [
        ("front.png", HTML_PAGE, NOT_AN_IMAGE),
        ("plan.jpg", NOT_A_PDF, NOT_AN_IMAGE),
        ("front.png", oversized(MAX_PHOTO_BYTES, png_bytes()), "the limit is 10 MB"),
    ], ids=["html-renamed-png", "binary-renamed-jpg", "oversized"])
    def test_refused(self, login, tenant, name, data, message):
        listing = listing_create(brokerage=tenant.brokerage, actor=tenant.agent, listing_agent=tenant.agent,
                                 data={"title": "Marina Gate 1 — 2 bed"})
        client = login(tenant.agent)
        response = client.post(reverse("nurturing:listing_photo_add", args=[listing.pk]),
                               {"image": upload(name, data, "image/png")})
        assert response.status_code == 400 and message in response.content.decode()
        assert not ListingPhoto.objects.exists()


CSV_CASES = [
    ("leads.csv", BINARY, "is not UTF-8 text"),
    ("leads.csv", b"name,email\nLayla,layla@example.test\n\x00\x00\x00", "binary"),
    ("leads.csv", oversized(MAX_CSV_BYTES, b"name,email\n"), "the limit is 5 MB"),
]
CSV_IDS = ["binary-png", "nul-bytes", "oversized"]


@pytest.mark.django_db
class TestCsvImport:
    @pytest.mark.parametrize(("name", "data", "message"), CSV_CASES, ids=CSV_IDS)
    def test_page_refuses(self, login, tenant, name, data, message):
        client = login(tenant.owner)
        response = client.post(reverse("nurturing:import"), {"file": upload(name, data, "text/csv")})
        assert response.status_code == 200 and message in response.content.decode()
        assert not Lead.objects.exists()

    @pytest.mark.parametrize(("name", "data", "message"), CSV_CASES, ids=CSV_IDS)
    def test_api_refuses(self, tenant, name, data, message):
        client: APIClient = api_as(tenant.owner)
        response = client.post(reverse("api-nurturing-leads-import"), {"file": io.BytesIO(data)}, format="multipart")
        assert response.status_code == 400, response.content[:300]
        assert message in response.content.decode()
        assert not Lead.objects.exists()


@pytest.mark.django_db
class TestKnowledgeDocuments:
    @pytest.mark.parametrize(("name", "data", "message"), [
        ("policy.pdf", b"%PDF-1.7\n" + HTML_PAGE, "The PDF could not be read"),
        ("policy.md", BINARY, "is not UTF-8 text"),
        # Valid UTF-8, but PostgreSQL text cannot hold NUL: refused like a CSV with binary data, not a 500.
        ("policy.md", b"## Ejari\n\nRegister every tenancy.\x00\x00\x00", "contains binary data"),
        ("policy.md", oversized(MAX_DOCUMENT_BYTES, b"---\ntitle: Big\n---\n"), "larger than 5 MB"),
    ], ids=["pdf-that-is-not", "binary-as-markdown", "nul-bytes", "oversized"])
    def test_refused(self, login, tenant, name, data, message):
        client = login(tenant.owner)
        response = client.post(reverse("copilot:import"), {"files": [upload(name, data)]})
        assert response.status_code == 200 and message in response.content.decode()
        assert not KnowledgeArticle.objects.exists()

    def test_an_html_page_renamed_as_markdown_is_text_and_renders_inert(self, login, tenant):
        """HTML is valid UTF-8, so it imports as an article's text; what it would run is removed on display."""
        client = login(tenant.owner)
        client.post(reverse("copilot:import"), {"files": [upload("page.md", b"## Page\n\n" + HTML_PAGE)]})
        article = KnowledgeArticle.objects.get()
        page = client.get(reverse("copilot:article", args=[article.pk])).content.decode()
        body = page[page.index('<article class="prose">'):page.index("</article>")]
        assert "<script" not in body and "alert(document.cookie)" not in body


def test_every_file_field_of_a_form_or_serializer_is_on_a_checked_path():
    """The inventory the classes above cover; a new upload field fails here until its path is checked (the
    admin's forms take their files from model fields and check them in clean_logo / clean)."""
    root = Path(__file__).resolve().parents[2]
    fields = set()
    for app in ("brokerages", "copilot", "nurturing", "coaching", "analytics"):
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for match in re.finditer(r"^\s*(\w+)\s*=\s*(?:forms|serializers)\.(?:File|Image)Field\b|"
                                     r"(MultipleFileField)\(", path.read_text(), re.M):
                fields.add(f"{path.relative_to(root)}:{match[1] or match[2]}")
    assert fields == {
        "brokerages/forms.py:logo",  # TestBrandLogo (check_image)
        "brokerages/forms.py:file",  # TestBrandAssets (check_image / check_document in the service)
        "nurturing/forms/listings.py:image",  # TestListingPhotos (check_image)
        "nurturing/forms/ingestion.py:file",  # TestCsvImport page (csv_read)
        "nurturing/api/ingestion.py:file",  # TestCsvImport API (csv_read)
        "copilot/forms.py:MultipleFileField",  # TestKnowledgeDocuments (parse_document)
    }, fields
