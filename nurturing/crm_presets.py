"""Column presets for the CSV exports of common CRMs, so a brokerage moving to the platform maps a file in one click.

A preset names the headers one CRM's export uses and the import field each becomes (`nurturing.services.ingestion`
`IMPORT_FIELDS`). Headers are compared without case, spaces or punctuation ("E-mail Address" is "email address").
Where the source splits a value the import's own fields put it back together:

- a name in two columns: `first_name` + `last_name` are joined with a space;
- a budget in two columns: `budget_min` + `budget_max`; a single amount (`budget`) is the most they spend;
- several phone columns: the mobile is `phone`; the other number is `phone_other`, which becomes the phone when
  the mobile is empty and is otherwise kept in the notes as "Other phone: …";
- other columns of the export (company, job title, address, …) are not imported and are listed as such.

A preset also translates the source's own words for a stage or a source (Salesforce's "Working - Contacted" is
our `contacted`) and may read its dates month first (US exports), before the import's own checks run. Header
lists follow each CRM's published export or property labels; a person can still change any column on the
mapping page, so a renamed or extra column costs one select, not a failed import.

This module imports nothing of the app, so the import service, its forms and tests can all use it.
"""

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import cached_property

# `preset_detect` needs this share of a preset's headers in the file, and at least MIN_MATCHES of them, so that a
# plain "Name, Email, Phone" sheet is not taken for any CRM's export (its own auto-mapping handles it).
DETECT_THRESHOLD = 0.6
MIN_MATCHES = 3
DATE_FIELDS = ("created_at", "next_followup_date")


def fold(text: str) -> str:
    """`text` compared without case, spaces or punctuation."""
    return re.sub(r"[^0-9a-z]", "", str(text).casefold())


@dataclass(frozen=True)
class CrmPreset:
    key: str
    label: str
    columns: dict[str, str]  # the source's header → import field ("" = known, deliberately not imported)
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # import field → {source's word: ours}
    date_formats: tuple[str, ...] = ()  # tried before the import's own (ISO 8601, then day first)
    combined: str = ""  # how split values come together, shown on the mapping page

    @cached_property
    def _columns(self) -> dict[str, str]:
        return {fold(header): name for header, name in self.columns.items()}

    @cached_property
    def _values(self) -> dict[str, dict[str, str]]:
        return {name: {fold(word): ours for word, ours in words.items()} for name, words in self.values.items()}

    def matches(self, headers: list[str]) -> int:
        """How many of the preset's headers the file has."""
        return len(set(self._columns) & {fold(header) for header in headers})

    def mapping(self, headers: list[str]) -> dict[str, str]:
        """Header (as the file spells it) → import field ("" for a column the preset leaves out), for the
        file's headers the preset knows."""
        return {header: self._columns[fold(header)] for header in headers if fold(header) in self._columns}

    def translate(self, cells: dict[str, str]) -> dict[str, str]:
        """A row's cells (import field → text) with the source's words and dates in the forms the import reads.
        Words the preset does not know are left for the import to judge (and report)."""
        translated = dict(cells)
        for name, words in self._values.items():
            ours = words.get(fold(translated.get(name, "")))
            if ours is not None:
                translated[name] = ours
        for name in DATE_FIELDS:
            text = translated.get(name, "").strip()
            for pattern in self.date_formats if text else ():
                try:
                    translated[name] = dt.datetime.strptime(text, pattern).isoformat()
                    break
                except ValueError:
                    continue
        return translated


_US_DATES = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y, %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y")

# Agent Excellence's own lead export (nurturing.services.exports writes these columns in this order), so an export
# re-imports into any brokerage as the same leads. The lead's id is the id in the brokerage it came from.
AGENT_EXCELLENCE = CrmPreset(
    key="agent_excellence",
    label="Agent Excellence export",
    columns={
        "Lead ID": "", "Name": "name", "E-mail": "email", "Phone": "phone", "Source": "source", "Stage": "stage",
        "Priority": "priority", "Budget Min": "budget_min", "Budget Max": "budget_max", "Areas": "areas",
        "Property Type": "property_type", "Timeline": "timeline", "Assigned Agent": "agent", "Tags": "tags",
        "Notes": "notes", "Next Follow-up": "next_followup_date", "Do Not Contact": "do_not_contact",
        "Marketing Consent": "marketing_consent", "Created At": "created_at", "External ID": "external_id",
    },
    combined="Every column re-imports as it was exported; the Lead ID is the old brokerage's and is not imported.",
)

HUBSPOT = CrmPreset(
    key="hubspot",
    label="HubSpot contacts export",
    columns={
        "Record ID": "external_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Mobile Phone Number": "phone", "Phone Number": "phone_other", "Contact owner": "agent",
        "Lifecycle Stage": "stage", "Original Source": "source", "Create Date": "created_at",
    },
    values={
        "stage": {
            # Lifecycle stages.
            "Subscriber": "new", "Lead": "new", "Marketing Qualified Lead": "contacted",
            "Sales Qualified Lead": "qualified", "Opportunity": "offer", "Customer": "won", "Evangelist": "won",
            "Other": "new",
            # Lead statuses, for a person who maps "Lead Status" to the stage instead.
            "Open": "new", "In Progress": "contacted", "Attempted to Contact": "contacted",
            "Connected": "contacted", "Open Deal": "offer", "Unqualified": "lost", "Bad Timing": "lost",
        },
        "source": {
            "Organic Search": "website", "Paid Search": "website", "Direct Traffic": "website",
            "Email Marketing": "other", "Social Media": "social", "Paid Social": "social", "Referrals": "referral",
            "Offline Sources": "other", "Other Campaigns": "other",
        },
    },
    combined="First Name + Last Name make the name. Mobile Phone Number is the phone; Phone Number is used when "
             "the mobile is empty and otherwise kept in the notes. Lifecycle Stage becomes the stage (Customer: "
             "won). The contact owner is matched to an agent by e-mail or full name.",
)

SALESFORCE = CrmPreset(
    key="salesforce",
    label="Salesforce leads report",
    columns={
        "Lead ID": "external_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Mobile": "phone", "Phone": "phone_other", "Lead Source": "source", "Lead Status": "stage",
        "Rating": "priority", "Lead Owner": "agent", "Description": "notes", "Create Date": "created_at",
    },
    values={
        "stage": {"Open - Not Contacted": "new", "Working - Contacted": "contacted",
                  "Closed - Converted": "won", "Closed - Not Converted": "lost"},
        "source": {"Web": "website", "Phone Inquiry": "call", "Partner Referral": "referral",
                   "Purchased List": "other", "Other": "other"},
    },
    date_formats=_US_DATES,
    combined="First Name + Last Name make the name. Mobile is the phone; Phone is used when the mobile is empty "
             "and otherwise kept in the notes. Rating Hot/Warm/Cold is the priority. Dates are read month first "
             "(3/15/2025), as US reports write them.",
)

ZOHO = CrmPreset(
    key="zoho",
    label="Zoho CRM leads export",
    columns={
        "Record Id": "external_id", "Lead Owner": "agent", "First Name": "first_name", "Last Name": "last_name",
        "Email": "email", "Mobile": "phone", "Phone": "phone_other", "Lead Source": "source",
        "Lead Status": "stage", "Description": "notes", "Created Time": "created_at", "Tag": "tags",
    },
    values={
        "stage": {"Not Contacted": "new", "Attempted to Contact": "contacted", "Contact in Future": "contacted",
                  "Contacted": "contacted", "Pre-Qualified": "qualified", "Not Qualified": "lost",
                  "Lost Lead": "lost", "Junk Lead": "lost"},
        "source": {"Cold Call": "call", "Employee Referral": "referral", "External Referral": "referral",
                   "Partner": "referral", "Trade Show": "event", "Seminar Partner": "event",
                   "Internal Seminar": "event", "Web Download": "website", "Web Research": "website",
                   "Chat": "website", "Twitter": "social", "Advertisement": "other"},
    },
    combined="First Name + Last Name make the name. Mobile is the phone; Phone is used when the mobile is empty "
             "and otherwise kept in the notes. Zoho's Rating (Acquired, Active, …) is not a priority and is not "
             "imported.",
)

PIPEDRIVE = CrmPreset(
    key="pipedrive",
    label="Pipedrive people export",
    columns={
        "Person - ID": "external_id", "Person - Name": "name", "Person - Email - Work": "email",
        "Person - Phone - Mobile": "phone", "Person - Phone - Work": "phone_other", "Person - Owner": "agent",
        "Person - Labels": "tags", "Person - Person created": "created_at",
    },
    combined="Person - Name is the full name. The mobile is the phone; the work phone is used when the mobile is "
             "empty and otherwise kept in the notes. Labels become tags. Home and other e-mails are not imported.",
)

FOLLOW_UP_BOSS = CrmPreset(
    key="follow_up_boss",
    label="Follow Up Boss people export",
    columns={
        "First Name": "first_name", "Last Name": "last_name", "Stage": "stage", "Source": "source",
        "Assigned To": "agent", "Email 1": "email", "Phone 1": "phone", "Phone 2": "phone_other", "Tags": "tags",
        "Price": "budget", "Background": "notes", "Created": "created_at",
    },
    values={
        "stage": {"Lead": "new", "Leads": "new", "Hot Prospect": "qualified", "Hot Prospects": "qualified",
                  "Nurture": "contacted", "Active Client": "viewing", "Buyer": "viewing", "Buyers": "viewing",
                  "Seller": "viewing", "Sellers": "viewing", "Pending": "offer", "Under Contract": "offer",
                  "Closed": "won", "Past Client": "won", "Past Clients": "won", "Sphere": "new", "Trash": "lost"},
        "source": {"Zillow": "portal", "Trulia": "portal", "Realtor.com": "portal", "Homes.com": "portal",
                   "Sphere": "referral", "Open House": "event", "Sign Call": "call"},
    },
    date_formats=_US_DATES,
    combined="First Name + Last Name make the name. Phone 1 is the phone; Phone 2 is used when Phone 1 is empty "
             "and otherwise kept in the notes. Price is the most they spend. Background becomes the notes. Dates "
             "are read month first (3/15/2025).",
)

PRESETS: tuple[CrmPreset, ...] = (AGENT_EXCELLENCE, HUBSPOT, SALESFORCE, ZOHO, PIPEDRIVE, FOLLOW_UP_BOSS)
PRESETS_BY_KEY = {preset.key: preset for preset in PRESETS}


def preset_detect(headers: list[str]) -> CrmPreset | None:
    """The preset whose headers the file has the largest share of (at least DETECT_THRESHOLD of them and
    MIN_MATCHES), more headers matched breaking a tie; None ("Custom") when no preset comes close."""
    best, best_rank = None, (0.0, 0)
    for preset in PRESETS:
        matched = preset.matches(headers)
        rank = (matched / len(preset.columns), matched)
        if matched >= MIN_MATCHES and rank[0] >= DETECT_THRESHOLD and rank > best_rank:
            best, best_rank = preset, rank
    return best
