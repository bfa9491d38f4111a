"""Files that only permission-checked views serve: data export archives here, the assistant's reports in copilot.

They live in `private/` beside MEDIA_ROOT, which DEBUG serves to anyone and a web server usually serves in
production, and they have no URL.
"""

import uuid
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.utils.functional import cached_property


class PrivateFileStorage(FileSystemStorage):
    @cached_property
    def base_location(self):
        # Read when first used, and forgotten when MEDIA_ROOT changes (FileSystemStorage listens for that).
        return str(Path(settings.MEDIA_ROOT).parent / "private")

    def url(self, name):
        raise ValueError("A private file has no URL: serve it through a view that checks who asks.")


private_storage = PrivateFileStorage()


def export_storage() -> PrivateFileStorage:
    """The storage of data export archives (a callable, so migrations name it instead of freezing its state)."""
    return private_storage


def export_archive_path(export, filename: str) -> str:
    """Per brokerage, under a random name that says nothing about what is inside."""
    return f"exports/{export.brokerage_id}/{uuid.uuid4().hex}.zip"
