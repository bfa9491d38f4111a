"""CSV downloads: the project's one CSV writer, for the analytics tables and the CRM exports alike.

Every cell goes through `safe_cell`: names, notes and messages come from users and from other CRMs, and a cell a
spreadsheet would run as a formula (one starting with =, +, -, @, a tab or a carriage return) gets a leading
apostrophe, which spreadsheets show as text and the lead import strips again. `csv_response` builds a small table
in memory; `csv_streaming_response` streams rows as they are read, so a large export never holds all of them.
"""

import csv
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPE = "text/csv; charset=utf-8"
# Excel reads a UTF-8 file as the machine's legacy code page unless it starts with a byte order mark, which
# garbles Arabic and accented names; the lead import (and Python's "utf-8-sig") skips it.
BOM = "\ufeff"
ROWS_PER_CHUNK = 500


def safe_cell(value):
    """The value as a CSV cell: None is empty, text a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Line:
    """A file-like object whose write returns what it is given, so csv.writer hands back each line as text."""

    def write(self, text: str) -> str:
        return text


def csv_lines(header: list[str], rows: Iterable[Iterable], *, bom: bool = False) -> Iterator[str]:
    """The header and each row as a line of CSV text (RFC 4180 quoting, CRLF line ends)."""
    writer = csv.writer(_Line())
    yield (BOM if bom else "") + writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def _attach(response: HttpResponse | StreamingHttpResponse, filename: str):
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable], *, bom: bool = False) -> HttpResponse:
    """A CSV download built whole: for tables of a page's size."""
    return _attach(HttpResponse("".join(csv_lines(header, rows, bom=bom)), content_type=CONTENT_TYPE), filename)


def _chunks(lines: Iterator[str]) -> Iterator[str]:
    # One write per few hundred rows rather than per row: far fewer trips through the server's send path.
    while chunk := "".join(itertools.islice(lines, ROWS_PER_CHUNK)):
        yield chunk


async def _async_chunks(chunks: Iterator[str]) -> AsyncIterator[str]:
    # Each chunk is read in the thread the view ran in (thread_sensitive), where its database connection lives.
    pull = sync_to_async(next, thread_sensitive=True)
    while (chunk := await pull(chunks, None)) is not None:
        yield chunk


def csv_streaming_response(request: HttpRequest, filename: str, header: list[str], rows: Iterable[Iterable], *,
                           bom: bool = False) -> StreamingHttpResponse:
    """A CSV download sent while `rows` is read, a few hundred rows at a time.

    `rows` should be lazy (e.g. a queryset's `iterator(chunk_size=…)`), so memory stays flat whatever the size.
    Under ASGI (Daphne) Django would read a plain iterator whole before sending it, so there the chunks are
    handed over as an asynchronous iterator.
    """
    chunks = _chunks(csv_lines(header, rows, bom=bom))
    content = _async_chunks(chunks) if isinstance(request, ASGIRequest) else chunks
    return _attach(StreamingHttpResponse(content, content_type=CONTENT_TYPE), filename)
