"""The owner's export of everything the brokerage stores: what the archive holds (every table as JSON and CSV,
the files, a manifest), what it never holds (credentials, another brokerage's rows), how it is asked for, built,
announced, downloaded and deleted, on the page and through the API."""

import csv
import datetime as dt
import io
import json
import os
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope
from rest_framework.authtoken.models import Token

from brokerages.exports import services
from brokerages.exports.archive import is_secret, path_to_brokerage, tenant_tables
from brokerages.exports.tasks import data_export_build_task
from brokerages.models import AuditLog, DataExport, Notification
from nurturing.models import Lead, LeadUserObjectPermission
from tests.api_helpers import api_as, assert_error
from tests.factories import make_lead

from .helpers import archive_of, build_export, read_archive, records, rich_brokerage

pytestmark = pytest.mark.django_db

# Every table the product has today, by the rule "has, or reaches through its parents, a brokerage".
EXPECTED_TABLES = {
    "brokerages.user", "brokerages.brokeragesetting", "brokerages.brandasset", "brokerages.auditlog",
    "brokerages.notification", "brokerages.apikey", "brokerages.webhookendpoint", "brokerages.webhookdelivery",
    "brokerages.dataexport", "copilot.knowledgearticle", "copilot.knowledgepassage", "copilot.knowledgeterm",
    "copilot.mentorquestion", "copilot.brokeragetemplate", "copilot.compliancerule", "copilot.assistantrun",
    "nurturing.lead", "nurturing.interaction", "nurturing.stagechange", "nurturing.nurturingsequence",
    "nurturing.enrollment", "nurturing.followup", "nurturing.workflowautomation", "nurturing.automationrun",
    "nurturing.leadwebhook", "nurturing.listing", "nurturing.listingphoto", "coaching.conversation",
    "coaching.message", "coaching.coachingsession", "coaching.coachingalert", "coaching.trainingmodule",
    "coaching.trainingplan", "coaching.trainingplanitem", "coaching.performancesnapshot",
    "analytics.teamperformance",
}


def test_every_table_of_a_brokerage_is_discovered_and_new_ones_would_be():
    labels = {table.label for table in tenant_tables()}
    assert labels >= EXPECTED_TABLES
    # Whatever a model added later names its brokerage by, it is found: directly or through its parents.
    for model in apps.get_models():
        if model._meta.app_label in {"brokerages", "copilot", "nurturing", "coaching", "analytics"} \
                and path_to_brokerage(model) and "ObjectPermission" not in model.__name__ \
                and model._meta.model_name != "brokerage":
            assert model._meta.label_lower in labels
    assert path_to_brokerage(LeadUserObjectPermission) == "content_object__brokerage"
    assert path_to_brokerage(Token) == "user__brokerage"
    assert path_to_brokerage(apps.get_model("auth", "Group")) is None
    # Access-control rows are left out by rule; members' roles and lead assignments are exported.
    assert "nurturing.leaduserobjectpermission" not in labels


@pytest.mark.parametrize(("name", "secret"), [
    ("password", True), ("key_hash", True), ("secret", True), ("previous_secret", True), ("token", True),
    ("signing_secret", True), ("session_hash", True), ("previous_secret_expires_at", False), ("prefix", False),
    ("key", False), ("name", False),
])
def test_secret_fields_are_recognised_by_name(name, secret):
    assert is_secret(name) is secret


def test_the_archive_holds_every_table_as_json_and_csv_with_the_files_and_a_manifest():
    owner, ids, _ = rich_brokerage()
    brokerage = owner.brokerage
    export = build_export(owner)
    assert export.status == DataExport.Status.READY and export.size_bytes > 0
    files = archive_of(export)
    manifest = json.loads(files["manifest.json"])
    assert manifest["brokerage"] == {"id": brokerage.pk, "name": brokerage.name, "slug": brokerage.slug}
    tables = {entry["table"]: entry for entry in manifest["tables"]}
    assert set(tables) >= EXPECTED_TABLES | {"brokerages.brokerage"}
    for label, entry in tables.items():
        data = records(files, label)
        assert len(data) == entry["records"] == export.counts[label]
        sheet = list(csv.reader(io.StringIO(files[f"csv/{label}.csv"].decode("utf-8-sig"))))
        assert len(sheet) == len(data) + 1
        if data:
            assert sheet[0] == list(data[0])
    # Records carry their id and the ids they refer to.
    lead = next(row for row in records(files, "nurturing.lead") if row["id"] == ids["leads"])
    assert lead["name"] == "Layla Haddad" and lead["assigned_agent_id"] == owner.pk
    assert lead["brokerage_id"] == brokerage.pk and lead["budget_min"] == "1000000.00"
    interaction = next(row for row in records(files, "nurturing.interaction") if row["id"] == ids["interactions"])
    assert interaction["lead_id"] == ids["leads"] and interaction["summary"] == "Intro call"
    messages = records(files, "coaching.message")
    assert {row["conversation_id"] for row in messages} == {ids["conversations"]} and len(messages) == 3
    assert [row["name"] for row in records(files, "brokerages.apikey")] == ["Portal sync"]
    settings_effective = json.loads(files["json/settings_effective.json"])
    assert settings_effective["forgotten_lead_days"] == 7 and settings_effective["transcript_retention_days"] == 0
    # The files the records name are in media/ at the path their field holds.
    logo = records(files, "brokerages.brokerage")[0]["logo"]
    photo = records(files, "nurturing.listingphoto")[0]["image"]
    assert files[f"media/{logo}"] == brokerage.logo.read() and f"media/{photo}" in files
    assert manifest["media"]["included"] and manifest["media"]["files"] == 2 and manifest["media"]["missing"] == []
    assert "README.txt" in files
    # An archive asked for without files has the records only.
    lean = build_export(owner, include_media=False)
    lean_files = archive_of(lean)
    assert not [name for name in lean_files if name.startswith("media/")]
    assert json.loads(lean_files["manifest.json"])["media"]["included"] is False
    assert b"not included" in lean_files["README.txt"]


def test_no_credential_is_ever_in_the_archive():
    owner, _, secrets = rich_brokerage()
    files = archive_of(build_export(owner))
    blob = b"\n".join(files.values())
    for value in secrets.values():
        assert value.encode() not in blob, value
    manifest = json.loads(files["manifest.json"])
    withheld = {entry["table"]: set(entry["withheld_fields"]) for entry in manifest["tables"]}
    assert withheld["brokerages.user"] >= {"password", "groups", "user_permissions"}
    assert withheld["brokerages.apikey"] == {"key_hash"}
    assert withheld["brokerages.webhookendpoint"] == {"secret", "previous_secret"}
    assert withheld["nurturing.leadwebhook"] == {"token", "secret"}
    assert "password" not in records(files, "brokerages.user")[0]


def test_the_archive_has_nothing_of_another_brokerage(other_tenant):
    owner, _, _ = rich_brokerage("Palm Crest Realty")
    theirs, _, their_secrets = rich_brokerage("Marina Heights Properties")
    make_lead(other_tenant.brokerage, agent=other_tenant.agent, name="Somebody Else", email="else@other.test")
    files = archive_of(build_export(owner))
    blob = b"\n".join(files.values())
    for foreign in ("Marina Heights Properties", theirs.email, other_tenant.owner.email, "else@other.test",
                    other_tenant.brokerage.name):
        assert foreign.encode() not in blob, foreign
    ours = owner.brokerage.pk
    for name, content in files.items():
        if name.startswith("json/") and name != "json/settings_effective.json":
            for row in json.loads(content):
                assert row.get("brokerage_id", ours) == ours, (name, row)


def test_an_owner_asks_for_an_export_which_is_built_in_the_background_and_announced(
        tenant, django_capture_on_commit_callbacks, monkeypatch, client):
    queued = []
    monkeypatch.setattr(data_export_build_task, "delay_on_commit",
                        lambda **kwargs: queued.append(kwargs))
    client.force_login(tenant.owner)
    response = client.post(reverse("brokerages:data_export_create"), {"include_media": "on"}, follow=True)
    assert b"The export is being built" in response.content
    export = DataExport.objects.get(brokerage=tenant.brokerage)
    assert export.status == DataExport.Status.PENDING and export.requested_by == tenant.owner
    assert queued == [{"export_id": export.pk}]
    # While it is built the table asks again (htmx), and a second request is refused with a clear message.
    page = client.get(reverse("brokerages:data_exports")).content.decode()
    assert 'hx-trigger="every 3s"' in page and "Waiting to start" in page
    again = client.post(reverse("brokerages:data_export_create"), follow=True)
    assert b"already being built" in again.content and DataExport.objects.count() == 1
    data_export_build_task(export_id=export.pk)
    data_export_build_task(export_id=export.pk)  # a redelivered message finds the work done
    export.refresh_from_db()
    assert export.status == DataExport.Status.READY
    assert export.expires_at.date() == (export.finished_at + dt.timedelta(days=7)).date()
    notice = Notification.objects.get(recipient=tenant.owner, kind="data_export")
    assert notice.url == reverse("brokerages:data_export_download", args=[export.pk])
    assert "ready to download" in notice.message
    table = client.get(reverse("brokerages:data_exports"), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in table and "Ready to download" in table and notice.url in table
    actions = list(AuditLog.objects.filter(brokerage=tenant.brokerage, action__startswith="data_export.")
                   .order_by("pk").values_list("action", "actor_id"))
    assert actions == [("data_export.requested", tenant.owner.pk), ("data_export.ready", None)]


def test_the_download_is_the_owners_and_is_logged(tenant, other_tenant, client):
    export = build_export(tenant.owner)
    url = reverse("brokerages:data_export_download", args=[export.pk])
    client.force_login(tenant.owner)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"{tenant.brokerage.slug}-data-export-{export.pk}-" in response["Content-Disposition"]
    files = read_archive(b"".join(response.streaming_content))
    assert "manifest.json" in files
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="data_export.downloaded")
    assert entry.actor == tenant.owner and entry.resource_id == str(export.pk)
    for member in (tenant.agent, tenant.support):
        client.force_login(member)
        assert client.get(url).status_code == 403
    client.force_login(other_tenant.owner)
    assert client.get(url).status_code == 404
    assert AuditLog.objects.filter(action="data_export.downloaded").count() == 1


def test_archives_are_deleted_when_they_expire(tenant, client, django_capture_on_commit_callbacks):
    export = build_export(tenant.owner)
    path = export.archive.path
    with scope(brokerage=tenant.brokerage), django_capture_on_commit_callbacks(execute=True):
        assert services.data_exports_expire(brokerage=tenant.brokerage) == {"exports_expired": 0,
                                                                            "exports_interrupted": 0}
        later = export.expires_at + dt.timedelta(minutes=1)
        assert services.data_exports_expire(brokerage=tenant.brokerage, now=later)["exports_expired"] == 1
    export.refresh_from_db()
    assert export.status == DataExport.Status.EXPIRED and not export.archive
    assert not os.path.exists(path)
    client.force_login(tenant.owner)
    response = client.get(reverse("brokerages:data_export_download", args=[export.pk]))
    assert response.status_code == 410 and b"expired" in response.content
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="data_export.expired").exists()


@pytest.mark.parametrize("stuck", ["never started", "worker died"])
def test_a_stuck_export_is_failed_so_a_new_one_can_be_asked_for(tenant, stuck):
    long_ago = timezone.now() - dt.timedelta(hours=3)
    with scope(brokerage=tenant.brokerage):
        export = services.data_export_request(brokerage=tenant.brokerage, actor=tenant.owner)
        if stuck == "never started":
            DataExport.objects.filter(pk=export.pk).update(created_at=long_ago)
        else:
            DataExport.objects.filter(pk=export.pk).update(status=DataExport.Status.RUNNING, started_at=long_ago)
        assert services.data_exports_expire(brokerage=tenant.brokerage)["exports_interrupted"] == 1
        export.refresh_from_db()
        assert export.status == DataExport.Status.FAILED and "interrupted" in export.error
        # Asking again is how an owner gets unstuck without waiting for the nightly run.
        again = services.data_export_request(brokerage=tenant.brokerage, actor=tenant.owner)
        DataExport.objects.filter(pk=again.pk).update(created_at=long_ago)
        third = services.data_export_request(brokerage=tenant.brokerage, actor=tenant.owner)
    assert DataExport.objects.get(pk=again.pk).status == DataExport.Status.FAILED
    assert third.status == DataExport.Status.PENDING


def test_a_failed_build_says_so_and_keeps_no_partial_file(tenant, monkeypatch):
    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services, "archive_write", broken)
    with scope(brokerage=tenant.brokerage):
        export = services.data_export_request(brokerage=tenant.brokerage, actor=tenant.owner)
        export = services.data_export_build(export_id=export.pk)
    assert export.status == DataExport.Status.FAILED and export.error == "The archive could not be built (OSError)."
    notice = Notification.objects.get(recipient=tenant.owner, kind="data_export")
    assert "failed" in notice.message
    exports_dir = Path(settings.MEDIA_ROOT).parent / "private" / "exports"
    assert not [path for path in exports_dir.rglob("*") if path.is_file()]


def test_the_api_asks_lists_and_downloads(tenant, other_tenant):
    api = api_as(tenant.owner)
    created = api.post("/api/brokerage/exports", {"include_media": False}, format="json")
    assert created.status_code == 202, created.content
    body = created.json()
    assert body["status"] == "pending" and body["include_media"] is False and body["download_url"] is None
    assert body["requested_by"] == tenant.owner.email
    error = assert_error(api.post("/api/brokerage/exports", {}, format="json"), 409)
    assert error["code"] == "export_in_progress"
    pending_url = f"/api/brokerage/exports/{body['id']}/download"
    assert assert_error(api.get(pending_url), 409)["code"] == "export_not_ready"
    with scope(brokerage=tenant.brokerage):
        services.data_export_build(export_id=body["id"])
    listed = api.get("/api/brokerage/exports").json()
    assert listed["count"] == 1
    ready = listed["results"][0]
    assert ready["status"] == "ready" and ready["download_url"] == pending_url and ready["records"] > 0
    assert ready["counts"]["brokerages.user"] == 3
    download = api.get(pending_url, HTTP_ACCEPT="application/zip")
    assert download.status_code == 200 and download["Content-Type"] == "application/zip"
    assert "manifest.json" in read_archive(b"".join(download.streaming_content))
    assert_error(api.post("/api/brokerage/exports", {"include_media": "yes"}, format="json"), 400)
    assert_error(api.post("/api/brokerage/exports", {"brokerage": other_tenant.brokerage.pk}, format="json"), 400)
    for member in (tenant.agent, tenant.support):
        assert_error(api_as(member).get("/api/brokerage/exports"), 403)
        assert_error(api_as(member).get(pending_url), 403)
    assert_error(api_as(other_tenant.owner).get(pending_url), 404)
    assert api_as(other_tenant.owner).get("/api/brokerage/exports").json()["count"] == 0


def test_the_page_is_the_owners(tenant, client):
    client.force_login(tenant.owner)
    page = client.get(reverse("brokerages:data_exports"))
    assert page.status_code == 200 and b"Export all data" in page.content and b"No export yet." in page.content
    assert b"for 7 days" in page.content
    for member in (tenant.agent, tenant.support):
        client.force_login(member)
        assert client.get(reverse("brokerages:data_exports")).status_code == 403
        assert client.post(reverse("brokerages:data_export_create")).status_code == 403
    assert not DataExport.objects.exists()


def test_a_large_brokerage_is_read_in_constant_queries_per_table(tenant, django_assert_max_num_queries):
    Lead.objects.bulk_create(Lead(brokerage=tenant.brokerage, name=f"Lead {n}", email=f"l{n}@x.test")
                             for n in range(2500))
    with scope(brokerage=tenant.brokerage):
        export = services.data_export_request(brokerage=tenant.brokerage, actor=tenant.owner)
        tables = len(tenant_tables()) + 1
        # Rows are read in chunks of 2,000: two chunks for the leads, one query for every other table, and a
        # handful for the claim, the settings, the notice and the audit entry.
        with django_assert_max_num_queries(tables + 25):
            export = services.data_export_build(export_id=export.pk)
    assert export.counts["nurturing.lead"] == 2500
