"""Writes of data exports: asking for one, building it (the Celery task's work), recording downloads, and
deleting archives when they expire or when a lead's erasure makes them out of date."""

import datetime as dt
import logging
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone

from ..models import Brokerage, DataExport, User
from ..private_storage import export_archive_path
from ..selectors import setting_value
from ..services import audit_record, notify
from . import tasks
from .archive import archive_write

logger = logging.getLogger(__name__)

# A build that has been running this long has lost its worker (the task's own time limit is an hour).
STALE_AFTER = dt.timedelta(hours=2)
IN_PROGRESS_MESSAGE = "An export is already being built; it will be listed here when it is ready."


@transaction.atomic
def data_export_request(*, brokerage: Brokerage, actor: User, include_media: bool = True) -> DataExport:
    """Ask for an archive of everything the brokerage stores; it is built in the background.

    Before: the actor is an owner (the views check it). One export at a time: while one is waiting or being
    built, ValidationError (code `export_in_progress`) and nothing is stored; one stuck for STALE_AFTER (its
    task was lost, or its worker died) is failed first, so asking again is how an owner gets unstuck. After: a
    pending export, an audit entry, and the build queued when the transaction commits.
    """
    _fail_stale(brokerage, timezone.now())
    if DataExport.objects.filter(brokerage=brokerage, status__in=DataExport.IN_PROGRESS).exists():
        raise ValidationError(IN_PROGRESS_MESSAGE, code="export_in_progress")
    try:
        with transaction.atomic():
            export = DataExport.objects.create(brokerage=brokerage, requested_by=actor, include_media=include_media)
    except IntegrityError:  # another request won the race between the check and the insert
        raise ValidationError(IN_PROGRESS_MESSAGE, code="export_in_progress") from None
    audit_record(brokerage=brokerage, actor=actor, action="data_export.requested", resource=export,
                 details={"include_media": include_media})
    tasks.data_export_build_task.delay_on_commit(export_id=export.pk)
    return export


def _claim(export_id: int) -> DataExport | None:
    with transaction.atomic():
        export = DataExport.objects.select_for_update().filter(pk=export_id).first()
        if export is None:
            return None
        stale = export.status == DataExport.Status.RUNNING and export.started_at < timezone.now() - STALE_AFTER
        if export.status != DataExport.Status.PENDING and not stale:
            return None
        export.status, export.started_at = DataExport.Status.RUNNING, timezone.now()
        export.save(update_fields=["status", "started_at"])
        return export


def data_export_build(*, export_id: int) -> DataExport | None:
    """Build the archive of a pending export (call it inside the export's brokerage scope).

    Idempotent: an export that is not pending (built, failed, or being built by another worker) is left alone,
    except one whose build went stale (its worker died), which is built again. After: the export is `ready`
    with its archive in private storage, its size and record counts, and an expiry date from the brokerage's
    `data_export_retention_days`; or `failed` with the reason. Either way the requester gets an in-app
    notification and the audit log an entry. A build whose export was withdrawn meanwhile (a lead was erased)
    throws its archive away.
    """
    export = _claim(export_id)
    if export is None:
        return None
    brokerage = export.brokerage
    storage = export.archive.storage
    name = export_archive_path(export, "")
    final = Path(storage.path(name))
    partial = final.with_suffix(".part")
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        result = archive_write(brokerage=brokerage, target=partial, include_media=export.include_media,
                               requested_by=getattr(export.requested_by, "email", ""))
    except Exception as error:
        partial.unlink(missing_ok=True)
        logger.exception("Data export %s of brokerage %s failed", export.pk, brokerage.pk)
        return _finish_failed(export, f"The archive could not be built ({type(error).__name__}).")
    with transaction.atomic():
        current = DataExport.objects.select_for_update().get(pk=export.pk)
        if current.status != DataExport.Status.RUNNING:
            partial.unlink(missing_ok=True)
            return current
        os.replace(partial, final)
        days = setting_value(brokerage, "data_export_retention_days")
        now = timezone.now()
        current.archive.name = name
        current.status, current.finished_at = DataExport.Status.READY, now
        current.size_bytes, current.counts = final.stat().st_size, result.counts
        current.expires_at = now + dt.timedelta(days=days)
        current.save()
        audit_record(brokerage=brokerage, actor=None, action="data_export.ready", resource=current,
                     details={"bytes": current.size_bytes, "records": sum(result.counts.values()),
                              "media_files": result.media_files, "missing_media": len(result.missing_media)})
        if current.requested_by is not None:
            notify(brokerage=brokerage, recipient=current.requested_by, kind="data_export",
                   message=f"Your data export is ready to download ({filesizeformat(current.size_bytes)}). "
                           f"It will be deleted on {timezone.localtime(current.expires_at):%-d %b %Y}.",
                   key=f"data-export-{current.pk}-ready",
                   url=reverse("brokerages:data_export_download", kwargs={"pk": current.pk}))
    return current


@transaction.atomic
def _finish_failed(export: DataExport, reason: str) -> DataExport:
    current = DataExport.objects.select_for_update().get(pk=export.pk)
    if current.status != DataExport.Status.RUNNING:
        return current
    current.status, current.finished_at, current.error = DataExport.Status.FAILED, timezone.now(), reason[:300]
    current.save(update_fields=["status", "finished_at", "error"])
    audit_record(brokerage=current.brokerage, actor=None, action="data_export.failed", resource=current,
                 details={"reason": current.error})
    if current.requested_by is not None:
        notify(brokerage=current.brokerage, recipient=current.requested_by, kind="data_export",
               message=f"Your data export failed: {current.error} Please ask for a new one.",
               key=f"data-export-{current.pk}-failed", url=reverse("brokerages:data_exports"))
    return current


def data_export_check_downloadable(export: DataExport) -> None:
    """ValidationError (code `export_expired` or `export_not_ready`) unless the archive can be downloaded."""
    if export.status == DataExport.Status.EXPIRED:
        raise ValidationError("This export has expired and its archive was deleted; ask for a new one.",
                              code="export_expired")
    if export.status != DataExport.Status.READY:
        raise ValidationError(f"This export is not ready to download ({export.get_status_display().lower()}).",
                              code="export_not_ready")


def data_export_download_record(*, brokerage: Brokerage, actor: User, export: DataExport) -> DataExport:
    """Record that `actor` downloads the export's archive (the caller then sends it).

    Before: the export is this brokerage's and the actor an owner. Raises ValidationError as
    `data_export_check_downloadable` does. After: an audit entry.
    """
    data_export_check_downloadable(export)
    audit_record(brokerage=brokerage, actor=actor, action="data_export.downloaded", resource=export,
                 details={"bytes": export.size_bytes})
    return export


def _delete_archive(export: DataExport) -> None:
    """Forget the export's archive; the file goes once the transaction commits (a rollback keeps both)."""
    if export.archive:
        storage, name = export.archive.storage, export.archive.name
        transaction.on_commit(lambda: storage.delete(name))
        export.archive.name = ""


def _fail_stale(brokerage: Brokerage, now: dt.datetime) -> int:
    """Fail the exports stuck for STALE_AFTER: never started (the queued task was lost) or started by a worker
    that died. Returns how many."""
    stuck = (Q(status=DataExport.Status.PENDING, created_at__lt=now - STALE_AFTER)
             | Q(status=DataExport.Status.RUNNING, started_at__lt=now - STALE_AFTER))
    return DataExport.objects.filter(stuck, brokerage=brokerage).update(
        status=DataExport.Status.FAILED, finished_at=now, error="The build was interrupted; please ask again.")


@transaction.atomic
def data_exports_expire(*, brokerage: Brokerage, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete the archives past their expiry date (the export stays, `expired`), and fail the exports stuck for
    STALE_AFTER (`_fail_stale`). Returns the counts."""
    now = now or timezone.now()
    expired = list(DataExport.objects.select_for_update().filter(
        brokerage=brokerage, status=DataExport.Status.READY, expires_at__lte=now))
    for export in expired:
        _delete_archive(export)
        export.status = DataExport.Status.EXPIRED
        export.save(update_fields=["archive", "status"])
    stale = _fail_stale(brokerage, now)
    if expired or stale:
        audit_record(brokerage=brokerage, actor=None, action="data_export.expired", resource_type="data_export",
                     details={"expired": [export.pk for export in expired], "interrupted": stale})
    return {"exports_expired": len(expired), "exports_interrupted": stale}


@transaction.atomic
def data_exports_withdraw(*, brokerage: Brokerage, actor: User | None, reason: str) -> int:
    """Delete every archive held and stop every build under way, because data in them was erased since.

    After: ready exports are `expired` (archive deleted), running ones `failed` with `reason` (their build
    throws its archive away when it finishes); an audit entry names them. Returns how many were withdrawn.
    """
    withdrawn = list(DataExport.objects.select_for_update().filter(
        brokerage=brokerage, status__in=[DataExport.Status.READY, DataExport.Status.RUNNING]))
    for export in withdrawn:
        if export.status == DataExport.Status.READY:
            _delete_archive(export)
            export.status = DataExport.Status.EXPIRED
        else:
            export.status, export.finished_at = DataExport.Status.FAILED, timezone.now()
        export.error = reason[:300]
        export.save(update_fields=["archive", "status", "finished_at", "error"])
    if withdrawn:
        audit_record(brokerage=brokerage, actor=actor, action="data_export.withdrawn", resource_type="data_export",
                     details={"exports": [export.pk for export in withdrawn], "reason": reason[:300]})
    return len(withdrawn)
