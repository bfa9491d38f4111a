"""Sending an export's archive: the page and the API both answer with this response."""

from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header

from ..models import DataExport

CHUNK_BYTES = 1024 * 1024


def archive_filename(export: DataExport) -> str:
    return f"{export.brokerage.slug}-data-export-{export.pk}-{export.created_at:%Y-%m-%d}.zip"


async def _async_chunks(handle) -> AsyncIterator[bytes]:
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


def archive_response(request: HttpRequest, export: DataExport) -> StreamingHttpResponse:
    """The archive as a download, streamed a megabyte at a time.

    Under ASGI (Daphne) Django would read a file response whole into memory before sending it, and an archive
    with a brokerage's photos runs to gigabytes, so there the file is handed over as an asynchronous iterator.
    """
    handle = export.archive.open("rb")
    filename = archive_filename(export)
    if not isinstance(request, ASGIRequest):
        return FileResponse(handle, as_attachment=True, filename=filename, content_type="application/zip")
    response = StreamingHttpResponse(_async_chunks(handle), content_type="application/zip")
    response["Content-Length"] = str(export.archive.size)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response
