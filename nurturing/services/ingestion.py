"""Leads coming in from outside: a CSV file (page, API or `manage.py import_leads`) and the inbound lead webhook.

Both go through `lead_create`, so an imported or posted lead obeys the same rules as one typed in. The CSV import
checks every row before writing any, reports problems by spreadsheet row number (the header is row 1), and stores
each good row on its own, so a bad row never half-writes and never stops the good ones. A CRM preset
(`nurturing.crm_presets`) supplies the mapping of another CRM's export and translates its words and dates.
The webhook is authenticated by an HMAC-SHA256 signature of the raw body with the brokerage's secret and is
idempotent by the sender's `external_id`.
"""

import csv
import datetime as dt
import io
import itertools
import re
import time
import uuid
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError
from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.selectors import setting_value
from brokerages.services import audit_record
from brokerages.values import clean_labels

from ..crm_presets import PRESETS_BY_KEY, CrmPreset, fold
from ..models import Lead, Priority, PropertyType, Source, Stage, Timeline
from ..selectors.leads import assignable_agents
from .leads import lead_create, normalise_phone

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
UPLOAD_MAX_AGE_SECONDS = 24 * 3600
PREVIEW_ROWS = 5

# What a CSV column can become, with the label the mapping step shows.
IMPORT_FIELDS: dict[str, str] = {
    "name": "Full name",
    "first_name": "First name",
    "last_name": "Last name",
    "email": "E-mail",
    "phone": "Phone",
    "phone_other": "Other phone (the phone when Phone is empty, else kept in the notes)",
    "source": "Source",
    "budget": "Budget (one amount is the most they spend; “1M-2M” a range)",
    "budget_min": "Minimum budget",
    "budget_max": "Maximum budget",
    "areas": "Areas",
    "property_type": "Property type",
    "timeline": "Timeline",
    "stage": "Stage",
    "priority": "Priority",
    "agent": "Agent (e-mail or full name)",
    "tags": "Tags",
    "notes": "Notes",
    "created_at": "Created",
    "external_id": "External id",
    "next_followup_date": "Next follow-up date",
    "do_not_contact": "Do not contact (yes/no)",
    "marketing_consent": "Agreed to marketing (yes/no)",
}
# Header names seen in CRM and portal exports, compared without case, spaces or punctuation.
_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "fullname", "leadname", "client", "clientname", "contactname", "customername"),
    "first_name": ("firstname", "givenname", "forename"),
    "last_name": ("lastname", "surname", "familyname"),
    "email": ("email", "emailaddress", "mail"),
    "phone": ("phone", "mobile", "mobilenumber", "mobileno", "phonenumber", "phoneno", "telephone", "tel", "cell",
              "whatsapp", "contactnumber"),
    "source": ("source", "leadsource", "origin"),
    "budget": ("budget", "price"),
    "budget_min": ("minbudget", "budgetmin", "minimumbudget", "minprice", "budgetfrom"),
    "budget_max": ("maxbudget", "budgetmax", "maximumbudget", "maxprice", "budgetto"),
    "areas": ("area", "areas", "community", "communities", "areacommunity", "location", "locations",
              "preferredarea", "preferredareas", "neighbourhood", "neighborhood"),
    "property_type": ("propertytype", "type", "unittype"),
    "timeline": ("timeline", "timeframe", "purchasetimeline"),
    "stage": ("stage", "status", "stagestatus", "leadstatus", "leadstage"),
    "priority": ("priority",),
    "agent": ("agent", "assignedagent", "assignedto", "agentemail", "agentname", "owner"),
    "tags": ("tags", "tag", "labels"),
    "notes": ("notes", "note", "comments", "comment", "remarks"),
    "created_at": ("created", "createdat", "createdon", "datecreated", "leaddate", "date"),
    "external_id": ("externalid", "leadid", "id", "reference", "ref", "crmid"),
    "phone_other": ("otherphone", "phone2", "secondphone", "alternatephone", "homephone", "workphone"),
    "next_followup_date": ("nextfollowup", "nextfollowupdate", "followupdate"),
    "do_not_contact": ("donotcontact", "dnc", "donotcall"),
    "marketing_consent": ("marketingconsent", "consent", "optin", "marketingoptin"),
}
HEADER_ALIASES = {alias: name for name, aliases in _ALIASES.items() for alias in aliases}

_SOURCE_WORDS = {"bayut": Source.PORTAL, "propertyfinder": Source.PORTAL, "dubizzle": Source.PORTAL,
                 "portal": Source.PORTAL, "facebook": Source.SOCIAL, "instagram": Source.SOCIAL,
                 "linkedin": Source.SOCIAL, "tiktok": Source.SOCIAL, "social": Source.SOCIAL,
                 "walkin": Source.WALK_IN, "phone": Source.CALL, "call": Source.CALL, "web": Source.WEBSITE,
                 "websiteform": Source.WEBSITE}
_PROPERTY_WORDS = {"flat": PropertyType.APARTMENT, "studio": PropertyType.APARTMENT,
                   "house": PropertyType.VILLA, "plot": PropertyType.LAND, "shop": PropertyType.RETAIL}
_STAGE_WORDS = {"closedwon": Stage.WON, "converted": Stage.WON, "closedlost": Stage.LOST, "dead": Stage.LOST}
_PRIORITY_WORDS = {"hot": Priority.HIGH, "warm": Priority.MEDIUM, "cold": Priority.LOW}
_TIMELINE_WORDS = {"asap": Timeline.IMMEDIATE, "now": Timeline.IMMEDIATE, "3months": Timeline.MONTHS_3,
                   "6months": Timeline.MONTHS_6, "12months": Timeline.MONTHS_12, "1year": Timeline.MONTHS_12}
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S",
                 "%d/%m/%Y", "%d/%m/%Y %H:%M", "%d.%m.%Y")


def _choice(value: str, choices, words: dict) -> str | None:
    """A choice by its value, its label or a common word for it, ignoring case and punctuation."""
    wanted = fold(value)
    for choice in choices:
        if wanted in (fold(choice.value), fold(choice.label)):
            return choice.value
    return words.get(wanted)


# --- reading the file -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvTable:
    headers: list[str]
    rows: list[list[str]]  # data rows; rows[0] is spreadsheet row 2
    delimiter: str


def csv_read(data: bytes) -> CsvTable:
    """The file's header and rows. ValidationError when it is too big, not UTF-8 text, empty, has no header,
    or has more rows than the import takes."""
    if not data:
        raise ValidationError("The file is empty.")
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(f"The file is {len(data) / (1024 * 1024):.1f} MB; the limit is "
                              f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB. Split it into smaller files.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(f"The file is not UTF-8 text (byte {error.start + 1} cannot be read). In Excel, save "
                              "it as “CSV UTF-8 (Comma delimited)”.") from None
    if "\x00" in text:
        raise ValidationError("The file contains binary data; export it as CSV text.")
    try:
        delimiter = csv.Sniffer().sniff(text[:20_000], delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = [header.strip() for header in next(reader, [])]
        rows = []
        for row in reader:
            rows.append(row)
            if len(rows) > MAX_IMPORT_ROWS:
                raise ValidationError(f"The file has more than {MAX_IMPORT_ROWS:,} rows; split it into smaller files.")
    except csv.Error as error:
        raise ValidationError(f"The file is not valid CSV ({error}).") from None
    if not any(headers):
        raise ValidationError("The first row must name the columns (e.g. Full Name, E-mail, Mobile).")
    seen = set()
    for header in headers:
        if header and header.casefold() in seen:
            raise ValidationError(f"Two columns are called “{header}”; rename one.")
        seen.add(header.casefold())
    return CsvTable(headers=headers, rows=rows, delimiter=delimiter)


def auto_mapping(headers: list[str]) -> dict[str, str]:
    """Header → lead field for the headers whose name is a known one; each field taken by its first header (a
    second phone column becomes the other phone)."""
    mapping, taken = {}, set()
    for header in headers:
        name = HEADER_ALIASES.get(fold(header))
        if name == "phone" and name in taken:
            name = "phone_other"
        if name and name not in taken:
            mapping[header] = name
            taken.add(name)
    return mapping


def preset_of(key: str | None) -> CrmPreset | None:
    """The preset named `key` (None for none or ""); ValidationError naming the presets for any other name."""
    if not key:
        return None
    if key not in PRESETS_BY_KEY:
        raise ValidationError(f"“{key}” is not a CRM preset (use {', '.join(PRESETS_BY_KEY)}).")
    return PRESETS_BY_KEY[key]


def suggested_mapping(headers: list[str], preset: CrmPreset | None = None) -> dict[str, str]:
    """Header → lead field before the person changes anything: the preset decides the headers it knows (a column
    it leaves out maps to nothing), the auto-mapping the others, for the fields the preset left free."""
    known = preset.mapping(headers) if preset else {}
    taken = {name for name in known.values() if name}
    suggested = {header: name for header, name in known.items() if name}
    for header, name in auto_mapping([header for header in headers if header not in known]).items():
        if name == "phone" and name in taken:
            name = "phone_other"
        if name not in taken:
            suggested[header] = name
            taken.add(name)
    return suggested


def _label(name: str) -> str:
    return IMPORT_FIELDS[name].split(" (")[0]


def _resolve_mapping(headers: list[str], mapping: dict[str, str] | None,
                     preset: CrmPreset | None = None) -> dict[str, str]:
    """The suggested mapping with `mapping` laid over it (a header mapped to "" is ignored); checked."""
    resolved = suggested_mapping(headers, preset)
    errors = []
    by_name = {header.casefold(): header for header in headers if header}
    for header, name in (mapping or {}).items():
        actual = by_name.get(str(header).strip().casefold())
        if actual is None:
            errors.append(f"There is no column “{header}” (the columns are {', '.join(h for h in headers if h)}).")
            continue
        name = (name or "").strip()
        if name and name not in IMPORT_FIELDS:
            errors.append(f"“{name}” is not a lead field (use {', '.join(IMPORT_FIELDS)}).")
            continue
        if name:
            resolved[actual] = name
        else:
            resolved.pop(actual, None)
    fields_used: dict[str, str] = {}
    for header in (header for header in headers if header in resolved):
        name = resolved[header]
        if name in fields_used:
            errors.append(f"Both “{fields_used[name]}” and “{header}” are mapped to {_label(name)}; "
                          "map one of them to nothing.")
        fields_used[name] = header
    if not errors and not ({"name", "first_name", "last_name"} & set(fields_used)):
        errors.append("Map a column to the lead's name (Full name, or First name and Last name).")
    if not errors and not ({"email", "phone", "phone_other"} & set(fields_used)):
        errors.append("Map a column to the e-mail or the phone: leads are matched and reached by them.")
    if errors:
        raise ValidationError(errors)
    return resolved


# --- checking rows --------------------------------------------------------------------------------------------------


@dataclass
class _Lookups:
    """What every row is checked against, loaded once per import."""

    agents_by_email: dict[str, User]
    agents_by_name: dict[str, list[User]]
    existing_email: dict[str, str]  # e-mail -> name of the lead that has it
    existing_phone: dict[str, str]
    existing_external: dict[str, str]
    zone: dt.tzinfo

    @classmethod
    def load(cls, brokerage: Brokerage) -> "_Lookups":
        agents = list(assignable_agents(brokerage))
        by_name: dict[str, list[User]] = {}
        for agent in agents:
            if agent.full_name:
                by_name.setdefault(agent.full_name.casefold(), []).append(agent)
        emails, phones, external = {}, {}, {}
        for email, phone, external_id, name in Lead.objects.filter(brokerage=brokerage).values_list(
                "email", "phone", "external_id", "name"):
            if email:
                emails.setdefault(email.lower(), name)
            if phone:
                phones.setdefault(phone, name)
            if external_id:
                external.setdefault(external_id, name)
        return cls({agent.email.lower(): agent for agent in agents}, by_name, emails, phones, external,
                   zoneinfo.ZoneInfo(setting_value(brokerage, "timezone")))


@dataclass
class _Row:
    data: dict
    stage: str = Stage.NEW
    agent: User | None = None
    external_id: str = ""


def _amount(text: str) -> Decimal:
    """“1,500,000”, “AED 1.5M”, “900k” → a Decimal; ValueError when it is not an amount."""
    cleaned = re.sub(r"(?i)\b(aed|dhs?|usd|eur|gbp)\b|[\s,$€£]", "", text)
    factor = 1
    if cleaned[-1:].lower() in ("k", "m"):
        factor = 1_000 if cleaned[-1].lower() == "k" else 1_000_000
        cleaned = cleaned[:-1]
    try:
        amount = Decimal(cleaned) * factor
    except InvalidOperation:
        raise ValueError(text) from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValueError(text)
    return amount.quantize(Decimal("0.01"))


def _budget_range(text: str) -> tuple[Decimal | None, Decimal]:
    parts = re.split(r"\s*(?:-|–|—|\bto\b)\s*", text.strip(), maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return _amount(parts[0]), _amount(parts[1])
    return None, _amount(text)


def _moment(text: str, zone: dt.tzinfo) -> dt.datetime:
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for pattern in _DATE_FORMATS:
            try:
                parsed = dt.datetime.strptime(value, pattern)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(text)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=zone)


def _model_check(data: dict) -> dict[str, str]:
    """The lead model's own field rules (lengths, e-mail and number formats): field → problem."""
    problems = {}
    for name, value in data.items():
        if name in ("created_at", "areas", "tags"):
            continue
        try:
            Lead._meta.get_field(name).clean(value, None)
        except ValidationError as error:
            problems[name] = " ".join(error.messages)
    return problems


_YES, _NO = {"yes", "y", "true", "1", "x"}, {"no", "n", "false", "0"}


def _check_preferences(cells: dict[str, str], data: dict, problems: list[str], zone: dt.tzinfo) -> None:
    """The yes/no columns and the next follow-up date, into `data` (or a problem each)."""
    for key in ("do_not_contact", "marketing_consent"):
        if cells.get(key):
            word = fold(cells[key])
            if word in _YES | _NO:
                data[key] = word in _YES
            else:
                problems.append(f"{_label(key).lower()} “{cells[key]}” is not yes or no")
    if cells.get("next_followup_date"):
        try:
            data["next_followup_date"] = _moment(cells["next_followup_date"], zone).date()
        except ValueError:
            problems.append(f"next follow-up “{cells['next_followup_date']}” is not a date (use 2025-03-31)")


def _check_row(cells: dict[str, str], lookups: _Lookups) -> tuple[_Row | None, list[str]]:
    """The row as lead_create takes it, or the problems that stop it (all of them, so one pass fixes a row)."""
    problems: list[str] = []
    data: dict = {}
    row = _Row(data=data)
    name = cells.get("name", "") or " ".join(part for part in (cells.get("first_name", ""),
                                                                cells.get("last_name", "")) if part)
    if not name:
        problems.append("no name")
    data["name"] = name
    if cells.get("email"):
        try:
            validate_email(cells["email"])
            data["email"] = cells["email"].lower()
        except ValidationError:
            problems.append(f"“{cells['email']}” is not an e-mail address")
    extra_notes = []
    for key in ("phone", "phone_other"):
        if not cells.get(key):
            continue
        phone = normalise_phone(cells[key])
        if len(phone.lstrip("+")) < 6:
            problems.append(f"“{cells[key]}” is not a phone number")
        elif "phone" not in data:
            data["phone"] = phone
        elif phone != data["phone"]:
            extra_notes.append(f"Other phone: {cells[key]}")
    if not (cells.get("email") or cells.get("phone") or cells.get("phone_other")):
        problems.append("needs an e-mail or a phone number")
    data["source"] = Source.IMPORT
    if cells.get("source"):
        source = _choice(cells["source"], Source, _SOURCE_WORDS)
        data["source"] = source or Source.OTHER
        if source is None:
            extra_notes.append(f"Source: {cells['source']}")
    low = high = None
    for key in ("budget", "budget_min", "budget_max"):
        if not cells.get(key):
            continue
        try:
            if key == "budget":
                low, high = _budget_range(cells[key])
            elif key == "budget_min":
                low = _amount(cells[key])
            else:
                high = _amount(cells[key])
        except ValueError:
            problems.append(f"{IMPORT_FIELDS[key].split(' (')[0].lower()} “{cells[key]}” is not an amount")
    if low is not None and high is not None and low > high:
        problems.append(f"the minimum budget {low:,.0f} is above the maximum {high:,.0f}")
    data.update({key: value for key, value in (("budget_min", low), ("budget_max", high)) if value is not None})
    if cells.get("areas"):
        data["areas"] = clean_labels(re.split(r"[,;|]", cells["areas"]), field="areas", max_length=80, lower=False)
    if cells.get("tags"):
        data["tags"] = clean_labels(re.split(r"[,;|]", cells["tags"]), field="tags")
    for key, choices, words in (("property_type", PropertyType, _PROPERTY_WORDS),
                                ("priority", Priority, _PRIORITY_WORDS)):
        if cells.get(key):
            value = _choice(cells[key], choices, words)
            if value is None:
                problems.append(f"unknown {key.replace('_', ' ')} “{cells[key]}” (use {', '.join(choices.values)})")
            else:
                data[key] = value
    if cells.get("timeline"):
        timeline = _choice(cells["timeline"], Timeline, _TIMELINE_WORDS)
        if timeline:
            data["timeline"] = timeline
        else:
            extra_notes.append(f"Timeline: {cells['timeline']}")
    if cells.get("stage"):
        stage = _choice(cells["stage"], Stage, _STAGE_WORDS)
        if stage is None:
            problems.append(f"unknown stage “{cells['stage']}” (use {', '.join(Stage.values)})")
        else:
            row.stage = stage
    if cells.get("agent"):
        wanted = cells["agent"].strip()
        agent = lookups.agents_by_email.get(wanted.lower())
        named = lookups.agents_by_name.get(wanted.casefold(), [])
        if agent is None and len(named) == 1:
            agent = named[0]
        if agent is None:
            problems.append(f"two agents are called “{wanted}”; use the agent's e-mail" if named
                            else f"no active agent “{wanted}” in the brokerage")
        row.agent = agent
    _check_preferences(cells, data, problems, lookups.zone)
    notes = "\n".join(part for part in (cells.get("notes", ""), *extra_notes) if part)
    if notes:
        data["notes"] = notes
    if cells.get("created_at"):
        try:
            created = _moment(cells["created_at"], lookups.zone)
        except ValueError:
            problems.append(f"created “{cells['created_at']}” is not a date (use 2025-03-31 or 31/03/2025)")
        else:
            if created > timezone.now() + dt.timedelta(minutes=5):
                problems.append(f"created {cells['created_at']} is in the future")
            data["created_at"] = created
    if cells.get("external_id"):
        row.external_id = cells["external_id"].strip()
        if len(row.external_id) > 100:
            problems.append("the external id is longer than 100 characters")
    if not problems:
        problems = [f"{Lead._meta.get_field(name).verbose_name}: {problem}"
                    for name, problem in _model_check(data).items()]
    return (None if problems else row), problems


# --- the import -----------------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did (or, for a dry run, would do). Row numbers are the spreadsheet's: the header is row 1."""

    created: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    columns_unmapped: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    dry_run: bool = False


@dataclass(frozen=True)
class _Checked:
    """One non-empty data row after its checks: `row` when it can be stored (unless `duplicate` says why not)."""

    number: int
    row: _Row | None
    problem: str = ""
    duplicate: str = ""


# Spreadsheet exports (ours included, see brokerages.csv_download) put an apostrophe before a cell that would
# otherwise run as a formula; the apostrophe is not part of the value.
_GUARDED = re.compile(r"^'(?=[=+\-@\t\r])")


def _checked_rows(table: CsvTable, resolved: dict[str, str], preset: CrmPreset | None,
                  lookups: _Lookups) -> Iterator[_Checked]:
    """The file's non-empty rows in order, each checked, duplicates judged against the brokerage's leads and the
    good rows above it."""
    columns = [(index, resolved.get(header)) for index, header in enumerate(table.headers)]
    seen: dict[tuple[str, str], int] = {}
    for offset, cells in enumerate(table.rows):
        number = offset + 2
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(table.headers) and any(cell.strip() for cell in cells[len(table.headers):]):
            yield _Checked(number, None, f"has {len(cells)} cells but the header names {len(table.headers)} "
                                         "columns (a separator inside an unquoted value?).")
            continue
        values = {name: _GUARDED.sub("", cells[index].strip())
                  for index, name in columns if name and index < len(cells)}
        row, problems = _check_row(preset.translate(values) if preset else values, lookups)
        if row is None:
            yield _Checked(number, None, "; ".join(problem.rstrip(".") for problem in problems) + ".")
            continue
        duplicate = _duplicate_of(row, lookups, seen)
        if not duplicate:
            for key in _row_keys(row):
                seen.setdefault(key, number)
        yield _Checked(number, row, duplicate=duplicate)


def leads_import_csv(*, brokerage: Brokerage, actor: User | None, data: bytes, mapping: dict[str, str] | None = None,
                     preset: str | None = None, dry_run: bool, run_automations: bool = False) -> ImportReport:
    """Import the leads of a CSV file.

    Before: `data` is the file's bytes (UTF-8, with or without BOM; any of , ; tab | as delimiter); `mapping`
    (header → lead field, "" to ignore a column) is laid over the mapping `preset` (a key of
    nurturing.crm_presets) gives its CRM's headers and over the auto-mapping of common header names; the preset
    also translates its CRM's words for stages and sources and its date format.
    ValidationError for a file, preset or mapping that cannot be imported at all (nothing is written then).
    After: every row was checked; a row with problems is reported with all of them and skipped; a row whose
    e-mail, phone or external id matches an existing lead or an earlier row is reported as a duplicate;
    every other row is a new lead (unassigned unless its agent column names one) — unless `dry_run`, which
    writes nothing. Each lead is stored in its own transaction. `run_automations` runs the brokerage's
    "lead created" automations for each new lead (off by default: an import is usually old leads).
    """
    crm = preset_of(preset)
    table = csv_read(data)
    resolved = _resolve_mapping(table.headers, mapping, crm)
    report = ImportReport(mapping=resolved, dry_run=dry_run, rows=0,
                          columns_unmapped=[header for header in table.headers if header and header not in resolved])
    for checked in _checked_rows(table, resolved, crm, _Lookups.load(brokerage)):
        report.rows += 1
        if checked.row is None:
            report.errors.append((checked.number, checked.problem))
            continue
        if checked.duplicate:
            report.duplicates.append((checked.number, checked.duplicate))
            continue
        if dry_run:
            report.created += 1
            continue
        row = checked.row
        try:
            lead_create(brokerage=brokerage, actor=actor, data=row.data, assigned_agent=row.agent, stage=row.stage,
                        external_id=row.external_id, run_automations=run_automations)
        except ValidationError as error:
            report.errors.append((checked.number, " ".join(error.messages)))
        except IntegrityError:  # a lead with this external id arrived meanwhile (e.g. through the webhook)
            report.duplicates.append((checked.number, "a lead with this external id was added meanwhile"))
        else:
            report.created += 1
    if not dry_run:
        details = {"created": report.created, "duplicates": len(report.duplicates), "errors": len(report.errors),
                   "rows": report.rows, "run_automations": run_automations}
        audit_record(brokerage=brokerage, actor=actor, action="nurturing.leads_imported", resource_type="lead",
                     details={**details, "preset": crm.key} if crm else details)
    return report


@dataclass(frozen=True)
class PreviewRow:
    """A row as the import would store it: `lead` holds the lead's fields (with `stage`, `assigned_agent` and
    `external_id`) when it can be stored, else `cells` its text by import field and `problem` why not."""

    number: int
    lead: dict
    cells: dict[str, str]
    problem: str = ""
    duplicate: str = ""


@dataclass(frozen=True)
class ImportPreview:
    """The first rows of a file as the import would store them, or why the mapping cannot be imported."""

    rows: list[PreviewRow]
    mapping_errors: list[str]
    columns_unmapped: list[str]


def import_preview(*, brokerage: Brokerage, data: bytes, mapping: dict[str, str] | None = None,
                   preset: str | None = None, rows: int = PREVIEW_ROWS) -> ImportPreview:
    """What `leads_import_csv` would do with the first `rows` non-empty rows (checked the same way, against the
    brokerage's leads); writes nothing. The file must be readable (`csv_read`); a mapping that cannot be imported
    gives `mapping_errors` (each naming what to map) and no rows."""
    table = csv_read(data)
    crm = preset_of(preset)
    try:
        resolved = _resolve_mapping(table.headers, mapping, crm)
    except ValidationError as error:
        return ImportPreview([], error.messages, [])
    preview = []
    for checked in itertools.islice(_checked_rows(table, resolved, crm, _Lookups.load(brokerage)), rows):
        if checked.row is None:
            cells = table.rows[checked.number - 2]
            preview.append(PreviewRow(checked.number, {}, {
                resolved[header]: cells[index].strip() for index, header in enumerate(table.headers)
                if header in resolved and index < len(cells)}, checked.problem))
        else:
            row = checked.row
            preview.append(PreviewRow(checked.number, {**row.data, "stage": row.stage, "assigned_agent": row.agent,
                                                       "external_id": row.external_id}, {},
                                      duplicate=checked.duplicate))
    return ImportPreview(preview, [], [header for header in table.headers if header and header not in resolved])


def _row_keys(row: _Row) -> list[tuple[str, str]]:
    keys = [("e-mail", row.data["email"])] if row.data.get("email") else []
    keys += [("phone", row.data["phone"])] if row.data.get("phone") else []
    keys += [("external id", row.external_id)] if row.external_id else []
    return keys


def _duplicate_of(row: _Row, lookups: _Lookups, seen: dict) -> str:
    existing = {"e-mail": lookups.existing_email, "phone": lookups.existing_phone,
                "external id": lookups.existing_external}
    for kind, value in _row_keys(row):
        if value in existing[kind]:
            return f"already a lead: {existing[kind][value]} has the {kind} {value}"
        if (kind, value) in seen:
            return f"same {kind} as row {seen[(kind, value)]}"
    return ""


# --- uploads waiting for their mapping (the import pages) -----------------------------------------------------------


_UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")


def _upload_path(brokerage: Brokerage, upload_id: str) -> Path:
    if not _UPLOAD_ID.match(upload_id):
        raise FileNotFoundError(upload_id)
    return Path(settings.MEDIA_ROOT) / "imports" / f"{brokerage.pk}-{upload_id}.csv"


def import_upload_store(*, brokerage: Brokerage, data: bytes) -> str:
    """Keep an uploaded file (already checked by `csv_read`) between the upload and the import; returns its
    id. The brokerage's id is part of the file name, so another brokerage can never open it. Uploads older
    than a day are removed on the way."""
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - UPLOAD_MAX_AGE_SECONDS
    for old in folder.glob(f"{brokerage.pk}-*.csv"):
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    upload_id = uuid.uuid4().hex
    _upload_path(brokerage, upload_id).write_bytes(data)
    return upload_id


def import_upload_read(*, brokerage: Brokerage, upload_id: str) -> bytes:
    """The stored upload; FileNotFoundError when it is not this brokerage's, is gone or was imported."""
    return _upload_path(brokerage, upload_id).read_bytes()


def import_upload_discard(*, brokerage: Brokerage, upload_id: str) -> None:
    _upload_path(brokerage, upload_id).unlink(missing_ok=True)
