"""Checks on uploaded files by their content, not their name: size, real type, and for images a clean decode."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_ASSET_BYTES = 10 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024  # a phone's photo of a property
MAX_LOGO_PIXELS = 4096


@dataclass(frozen=True)
class CheckedUpload:
    content_type: str
    size_bytes: int


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def _check_size(upload, limit: int) -> None:
    if upload.size == 0:
        raise ValidationError("The file is empty.")
    if upload.size > limit:
        raise ValidationError(f"The file is {upload.size / (1024 * 1024):.1f} MB; the limit is {_human(limit)}.")


def _image_type(upload) -> str | None:
    upload.seek(0)
    try:
        with Image.open(upload) as image:
            image_format = image.format
            width, height = image.size
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        upload.seek(0)
    if image_format not in IMAGE_FORMATS:
        return None
    if width > MAX_LOGO_PIXELS or height > MAX_LOGO_PIXELS:
        raise ValidationError(f"The image is {width}×{height} pixels; at most {MAX_LOGO_PIXELS} on a side.")
    return IMAGE_FORMATS[image_format]


def check_image(upload, *, max_bytes: int = MAX_LOGO_BYTES) -> CheckedUpload:
    """An image (a logo unless told otherwise): PNG, JPEG, WebP or GIF that decodes, at most 2 MB or
    `max_bytes`."""
    _check_size(upload, max_bytes)
    content_type = _image_type(upload)
    if content_type is None:
        raise ValidationError("This file is not a PNG, JPEG, WebP or GIF image.")
    return CheckedUpload(content_type, upload.size)


def check_document(upload) -> CheckedUpload:
    """A template or brochure: a PDF or an image, at most 10 MB."""
    _check_size(upload, MAX_ASSET_BYTES)
    upload.seek(0)
    head = upload.read(5)
    upload.seek(0)
    if head == b"%PDF-":
        return CheckedUpload("application/pdf", upload.size)
    content_type = _image_type(upload)
    if content_type is None:
        raise ValidationError("Templates and brochures must be a PDF or a PNG, JPEG, WebP or GIF image.")
    return CheckedUpload(content_type, upload.size)
