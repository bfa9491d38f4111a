"""CSV exports of the CRM: leads, interactions and follow-ups.

Each export holds exactly what its list shows the member (an agent: the leads they hold and what belongs to them;
`manage_leads`: every lead of the brokerage), filtered like the list. The lead export's columns are the
"Agent Excellence export" preset's headers (`nurturing.crm_presets.AGENT_EXCELLENCE`), so a file re-imports as the
same leads. Timestamps are ISO 8601 with the brokerage's UTC offset, dates ISO 8601, money a plain decimal
(1500000.00), lists joined with "; ", yes/no for flags. Rows are read lazily in chunks
(`iterator(chunk_size=…)`), so an export of any size streams in flat memory; the audit entry (what, how many
rows, which filters) is written before the first row is sent.
"""

import dataclasses
import datetime as dt
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.selectors import setting_value
from brokerages.services import audit_record

from ..crm_presets import AGENT_EXCELLENCE
from ..selectors import followups as followup_selectors
from ..selectors import leads as lead_selectors
from ..selectors.exports import InteractionFilters, interactions

CHUNK_SIZE = 2000

LEAD_COLUMNS = list(AGENT_EXCELLENCE.columns)
_LEAD_FIELDS = ("pk", "name", "email", "phone", "source", "stage", "priority", "budget_min", "budget_max", "areas",
                "property_type", "timeline", "assigned_agent__email", "tags", "notes", "next_followup_date",
                "do_not_contact", "marketing_consent", "created_at", "external_id")
INTERACTION_COLUMNS = ["Interaction ID", "Lead ID", "Lead", "Agent", "Channel", "Direction", "Occurred At",
                       "Summary"]
_INTERACTION_FIELDS = ("pk", "lead_id", "lead__name", "agent__email", "channel", "direction", "occurred_at",
                       "summary")
FOLLOWUP_COLUMNS = ["Follow-up ID", "Lead ID", "Lead", "Agent", "Reason", "Channel", "Status", "Priority", "Subject",
                    "Content", "Send On", "Created At", "Sent At", "Dismiss Reason", "Error"]
_FOLLOWUP_FIELDS = ("pk", "lead_id", "lead__name", "agent__email", "reason", "channel", "status", "priority",
                    "subject", "content", "suggested_send_date", "created_at", "sent_at", "dismiss_reason", "error")


@dataclass(frozen=True)
class CsvExport:
    filename: str
    header: list[str]
    rows: Iterator[list]  # lazy: read from the database while the download is sent
    count: int


def _zone(brokerage: Brokerage) -> dt.tzinfo:
    return zoneinfo.ZoneInfo(setting_value(brokerage, "timezone"))


def _cell(value, zone: dt.tzinfo):
    """A stored value as its CSV text: the formats the lead import reads back."""
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, list):
        return "; ".join(value)
    return value


def _plain(filters) -> dict:
    """The filters that narrow the export, as JSON for the audit log."""
    return {name: value if isinstance(value, int | str | bool) else str(value)
            for name, value in dataclasses.asdict(filters).items() if value not in (None, "", False)}


def _export(*, brokerage: Brokerage, actor: User, what: str, queryset: QuerySet, fields: tuple[str, ...],
            header: list[str], filters: dict) -> CsvExport:
    zone = _zone(brokerage)
    count = queryset.count()
    audit_record(brokerage=brokerage, actor=actor, action=f"nurturing.{what}_exported", resource_type=what,
                 details={"rows": count, "filters": filters})
    values = queryset.values_list(*fields).iterator(chunk_size=CHUNK_SIZE)
    today = timezone.localdate(timezone=zone)
    return CsvExport(filename=f"{brokerage.slug}-{what}-{today.isoformat()}.csv", header=header,
                     rows=([_cell(value, zone) for value in row] for row in values), count=count)


def leads_export(*, brokerage: Brokerage, actor: User, perms: frozenset[str],
                 filters: lead_selectors.LeadFilters) -> CsvExport:
    """The leads of the lead list for `actor` with `filters` (same selector), newest first, one audit entry."""
    return _export(brokerage=brokerage, actor=actor, what="leads", fields=_LEAD_FIELDS, header=LEAD_COLUMNS,
                   queryset=lead_selectors.leads(brokerage, actor, perms, filters), filters=_plain(filters))


def interactions_export(*, brokerage: Brokerage, actor: User, perms: frozenset[str],
                        filters: InteractionFilters) -> CsvExport:
    """The interactions on the leads `actor` may see, with `filters`, newest first, one audit entry."""
    return _export(brokerage=brokerage, actor=actor, what="interactions", fields=_INTERACTION_FIELDS,
                   header=INTERACTION_COLUMNS, filters=_plain(filters),
                   queryset=interactions(brokerage, actor, perms, filters, _zone(brokerage)))


def followups_export(*, brokerage: Brokerage, actor: User, perms: frozenset[str], status: str = "",
                     agent_id: int | None = None) -> CsvExport:
    """The follow-ups of the queue `actor` sees (same selector), by status and agent, one audit entry."""
    queryset = followup_selectors.followups(brokerage, actor, perms, status=status, agent_id=agent_id)
    return _export(brokerage=brokerage, actor=actor, what="followups", fields=_FOLLOWUP_FIELDS,
                   header=FOLLOWUP_COLUMNS, queryset=queryset,
                   filters={name: value for name, value in (("status", status), ("agent", agent_id)) if value})
