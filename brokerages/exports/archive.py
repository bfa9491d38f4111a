"""What a brokerage's data export contains, found in the app registry, and the ZIP archive that holds it.

The tenant's tables are discovered, not listed: every model of the project's own apps that has a foreign key to
`Brokerage`, or reaches one through a chain of foreign keys (a row of a child table whose parent names the
brokerage), is exported, so a model added later is in the next archive without an edit here. Left out, by rule:

- secret fields, by name (`is_secret`): password hashes, API key hashes, webhook and lead-webhook secrets and
  tokens. An API key is exported with its name, prefix and scopes, which is how owners recognise it.
- access-control rows (guardian's object-permission tables): they follow from roles and lead assignment, which
  are exported.
- many-to-many links, which only members have (their Django groups and permissions: the same access control).

Rows are read in the brokerage's django-scopes scope *and* filtered by the path to the brokerage, so a table
whose manager is not scoped (members, training modules) is narrowed too, and a scoped one cannot be read
unscoped. Each table is written once as JSON (an array of records, each with its `id` and the ids of the rows it
refers to, `<field>_id`) and once as CSV (the same columns; cells a spreadsheet would run as a formula are
quoted as the CRM exports do). Media files (logos, brand assets, listing photos, generated reports) are copied
under `media/` at the path their field holds, unless the owner asked for data only.
"""

import csv
import datetime as dt
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django_scopes import scope
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from ..csv_download import BOM, safe_cell
from ..models import Brokerage, DataExport
from ..selectors import settings_values

FORMAT_VERSION = 1
SECRET_NAMES = frozenset({"password", "secret", "previous_secret", "key_hash", "token"})
SECRET_SUFFIXES = ("_secret", "_hash", "_password", "_token")
# Parents followed from a table to the brokerage: Message → Conversation → Brokerage is two.
MAX_PATH_DEPTH = 3
ROWS_PER_QUERY = 2000
# Media that is already compressed gains nothing from deflate and costs the worker its CPU.
STORED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".webp", ".pdf", ".zip"})


def is_secret(name: str) -> bool:
    """Whether a field holds a credential, which an export never contains."""
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


@dataclass(frozen=True)
class TenantTable:
    model: type[models.Model]
    path: str  # the lookup from a row to its brokerage, e.g. "brokerage" or "conversation__brokerage"
    columns: tuple[str, ...]  # attnames: a foreign key is its `<name>_id`
    file_columns: tuple[str, ...]
    withheld: tuple[str, ...]

    @property
    def label(self) -> str:
        return self.model._meta.label_lower

    def rows(self, brokerage: Brokerage) -> models.QuerySet:
        return (self.model._default_manager.filter(**{self.path: brokerage.pk}).order_by("pk")
                .values_list(*self.columns))


def _project_app(model: type[models.Model]) -> bool:
    return Path(model._meta.app_config.path).parent == Path(settings.BASE_DIR)


def _access_control(model: type[models.Model]) -> bool:
    return issubclass(model, UserObjectPermissionBase | GroupObjectPermissionBase)


def _parents(model: type[models.Model]) -> list[models.Field]:
    return [f for f in model._meta.concrete_fields if f.is_relation and (f.many_to_one or f.one_to_one)]


def path_to_brokerage(model: type[models.Model]) -> str | None:
    """The shortest chain of foreign keys from `model` to Brokerage, as a lookup; None when there is none.

    Among chains of the same length, one whose every link is required wins: a row whose optional link is
    empty (a note whose author was deleted) would otherwise be missed. Members' own link to their brokerage is
    optional (system admins have none), so a row reaching it through its lead wins over one through its agent.
    """
    level = [(model, "", True)]
    seen = {model}
    while level:
        found, following = [], []
        for current, prefix, required in level:
            for parent in _parents(current):
                lookup, solid = f"{prefix}{parent.name}", required and not parent.null
                if parent.related_model is Brokerage:
                    found.append((lookup, solid))
                elif lookup.count("__") + 1 < MAX_PATH_DEPTH and parent.related_model not in seen:
                    following.append((parent.related_model, f"{lookup}__", solid))
        if found:
            return next((lookup for lookup, solid in found if solid), found[0][0])
        seen.update(related for related, _, _ in following)
        level = following
    return None


def _table(model: type[models.Model], path: str) -> TenantTable:
    columns, files, withheld = [], [], []
    for f in model._meta.concrete_fields:
        if is_secret(f.name):
            withheld.append(f.name)
        else:
            columns.append(f.attname)
            if isinstance(f, models.FileField):
                files.append(f.attname)
    withheld += [f.name for f in model._meta.many_to_many]
    return TenantTable(model, path, tuple(columns), tuple(files), tuple(withheld))


def tenant_tables() -> list[TenantTable]:
    """Every table holding a brokerage's rows, in the app registry's order (apps as installed)."""
    tables = []
    for model in apps.get_models():
        if model is Brokerage or not _project_app(model) or _access_control(model):
            continue
        path = path_to_brokerage(model)
        if path is not None:
            tables.append(_table(model, path))
    return tables


def excluded_tables() -> list[dict]:
    """The project's tables an export leaves out, and why (written into the manifest)."""
    return [{"table": model._meta.label_lower, "reason": "Access-control rows; roles and lead assignments "
             "are in the members and leads tables."}
            for model in apps.get_models() if _project_app(model) and _access_control(model)]


def _csv_cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


@dataclass
class ArchiveResult:
    counts: dict[str, int] = field(default_factory=dict)
    media_files: int = 0
    media_bytes: int = 0
    missing_media: list[str] = field(default_factory=list)


class _Writer:
    def __init__(self, archive: zipfile.ZipFile, brokerage: Brokerage, include_media: bool) -> None:
        self.archive = archive
        self.brokerage = brokerage
        self.include_media = include_media
        self.result = ArchiveResult()
        self.media_seen: set[str] = set()

    def table(self, table: TenantTable) -> None:
        """Write one table as JSON (streamed into the archive) and as CSV (spooled, then copied in: a ZIP
        file is written one member at a time), reading its rows once."""
        count = 0
        file_indexes = [table.columns.index(name) for name in table.file_columns]
        media: list[tuple[models.FileField, str]] = []
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b") as spool:
            csv_text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            csv_text.write(BOM)
            sheet = csv.writer(csv_text)
            sheet.writerow(table.columns)
            with self.archive.open(f"json/{table.label}.json", "w", force_zip64=True) as raw:
                out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n")
                out.write("[")
                for row in table.rows(self.brokerage).iterator(chunk_size=ROWS_PER_QUERY):
                    out.write(",\n" if count else "\n")
                    out.write(json.dumps(dict(zip(table.columns, row, strict=True)), cls=DjangoJSONEncoder,
                                         ensure_ascii=False))
                    sheet.writerow([safe_cell(_csv_cell(value)) for value in row])
                    media += [(table.model._meta.get_field(table.file_columns[position]), row[index])
                              for position, index in enumerate(file_indexes) if row[index]]
                    count += 1
                out.write("\n]\n" if count else "]\n")
                out.detach()  # leave closing the member to the with-block
            csv_text.flush()
            csv_text.detach()
            spool.seek(0)
            with self.archive.open(f"csv/{table.label}.csv", "w", force_zip64=True) as target:
                shutil.copyfileobj(spool, target)
        # Earlier archives are not copied into the next one.
        if self.include_media and table.model is not DataExport:
            for file_field, name in media:
                self.media(file_field, name)
        self.result.counts[table.label] = count

    def media(self, file_field: models.FileField, name: str) -> None:
        if name in self.media_seen:
            return
        self.media_seen.add(name)
        storage = file_field.storage
        try:
            size = storage.size(name)
            source = storage.open(name, "rb")
        except OSError:  # the row names a file that is gone from the disk: say so rather than fail the archive
            self.result.missing_media.append(name)
            return
        info = zipfile.ZipInfo(f"media/{name}", date_time=timezone.localtime().timetuple()[:6])
        info.compress_type = (zipfile.ZIP_STORED if Path(name).suffix.lower() in STORED_SUFFIXES
                              else zipfile.ZIP_DEFLATED)
        with source, self.archive.open(info, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, 1024 * 1024)
        self.result.media_files += 1
        self.result.media_bytes += size

    def document(self, name: str, data) -> None:
        self.archive.writestr(name, json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2) + "\n")


README = """Data export of {name}

Everything the brokerage stores on the platform, as of {moment}.

manifest.json   what is in this archive: every table with its number of records, the fields left out and why
json/           one file per table: a JSON array of records; `id` is the record's id and `<field>_id` the id of
                the record it refers to in another table (for example `agent_id` is an id in brokerages.user)
csv/            the same tables as CSV files (UTF-8), one row per record, with the same columns
media/          the files records refer to (logos, brand assets, listing photos, reports), at the path the
                record's field holds{media_note}

Left out on purpose: passwords, API key hashes and webhook secrets (credentials are never exported; API keys
are listed by name, prefix and scopes), and access-control rows that follow from members' roles.
"""


def archive_write(*, brokerage: Brokerage, target, include_media: bool, requested_by: str = "") -> ArchiveResult:
    """Write the brokerage's archive into `target` (a path or a binary file) and return what it holds.

    Reads run inside the brokerage's scope, whatever scope the caller is in. After: `target` is a complete ZIP
    archive (ZIP64 when large) of manifest.json, README.txt, json/, csv/ and, with `include_media`, media/.
    """
    moment = timezone.now()
    brokerage_table = _table(Brokerage, "pk")
    with scope(brokerage=brokerage), zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED,
                                                       compresslevel=6, allowZip64=True) as archive:
        writer = _Writer(archive, brokerage, include_media)
        tables = [brokerage_table, *tenant_tables()]
        for table in tables:
            writer.table(table)
        writer.document("json/settings_effective.json", settings_values(brokerage))
        result = writer.result
        writer.document("manifest.json", {
            "format_version": FORMAT_VERSION,
            "brokerage": {"id": brokerage.pk, "name": brokerage.name, "slug": brokerage.slug},
            "created_at": moment,
            "requested_by": requested_by,
            "tables": [{"table": table.label, "name": str(table.model._meta.verbose_name_plural),
                        "records": result.counts[table.label], "json": f"json/{table.label}.json",
                        "csv": f"csv/{table.label}.csv", "withheld_fields": list(table.withheld)}
                       for table in tables],
            "excluded_tables": excluded_tables(),
            "settings_effective": "json/settings_effective.json",
            "media": {"included": include_media, "files": result.media_files, "bytes": result.media_bytes,
                      "missing": result.missing_media},
        })
        media_note = "" if include_media else " (not included: this export was asked for without media)"
        archive.writestr("README.txt", README.format(name=brokerage.name, moment=moment.isoformat(),
                                                     media_note=media_note))
    return result
