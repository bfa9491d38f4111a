"""The two JSON documents of a workflow automation (the seed's `workflow_automation.trigger_conditions` and
`actions`), how they are validated, and how a lead is matched against them.

    trigger_conditions = {
        "trigger": "lead_created" | "stage_changed" | "idle" | "tag_added" | "inbound_message",
        "idle_days": 1..365,          # idle only (required)
        "tag": "vip",                 # tag_added only (required)
        "to_stage": "qualified",      # stage_changed only (optional: any stage when absent)
        "conditions": {               # every condition given must hold; a list matches any of its values
            "source": ["portal", ...], "stage": ["new", ...], "area": ["Dubai Marina", ...], "tag": ["vip", ...],
            "budget_min": "1000000", "budget_max": "3000000",   # the lead's budget range overlaps this one
        },
    }
    actions = [                       # run in order; the first failure stops the run and undoes its actions
        {"type": "enrol_in_sequence", "sequence_id": 3},
        {"type": "assign_agent", "agent_id": 12 | "round_robin"},
        {"type": "add_tag", "tag": "hot"},
        {"type": "notify", "recipient": "assigned_agent" | "owners", "message": "New lead {{ name }}"},
        {"type": "create_followup", "channel": "email", "instruction": "Welcome them, ask about timing"},
        {"type": "call_webhook", "url": "https://crm.example.com/hooks/lead"},
    ]

Errors are keyed by the path of the offending value (`trigger_conditions.idle_days`,
`actions[1].sequence_id`; list indexes count from 0) so both the API and the form can point at it.
"""

import ipaddress
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from brokerages.models import Brokerage
from brokerages.outbound import refused_address
from brokerages.values import clean_labels

from .models import SEND_CHANNELS, Channel, Lead, NurturingSequence, Source, Stage
from .selectors.leads import assignable_agents
from .services.triggers import IDLE, STAGE_CHANGED, TAG_ADDED, TRIGGERS
from .steps import MERGE_FIELDS, unknown_merge_fields

TRIGGER_NAMES = tuple(name for name, _ in TRIGGERS)
# The parameter each trigger takes, and whether it must be given.
TRIGGER_PARAMETERS: dict[str, tuple[str, bool]] = {IDLE: ("idle_days", True), TAG_ADDED: ("tag", True),
                                                   STAGE_CHANGED: ("to_stage", False)}
MAX_IDLE_DAYS = 365
LIST_CONDITIONS = ("source", "stage", "area", "tag")
CONDITION_KEYS = (*LIST_CONDITIONS, "budget_min", "budget_max")

ROUND_ROBIN = "round_robin"
RECIPIENTS = (("assigned_agent", "The lead's agent"), ("owners", "The brokerage's owners"))
ACTION_TYPES = (
    ("enrol_in_sequence", "Enrol in a sequence"),
    ("assign_agent", "Assign an agent"),
    ("add_tag", "Add a tag"),
    ("notify", "Notify someone"),
    ("create_followup", "Draft a follow-up"),
    ("call_webhook", "Call a webhook"),
)
# The fields each action type takes (all required).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "enrol_in_sequence": ("sequence_id",),
    "assign_agent": ("agent_id",),
    "add_tag": ("tag",),
    "notify": ("recipient", "message"),
    "create_followup": ("channel", "instruction"),
    "call_webhook": ("url",),
}
MAX_ACTIONS = 10
MAX_MESSAGE_CHARS = 500
MAX_INSTRUCTION_CHARS = 1000
MAX_URL_CHARS = 500


class _Errors(dict):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def clean_automation(*, brokerage: Brokerage, trigger_conditions, actions) -> tuple[dict, list[dict]]:
    """Both documents validated and normalised; ValidationError keyed by path lists every problem at once.
    Sequence and agent ids must name active ones of `brokerage`."""
    errors = _Errors()
    cleaned_trigger = _clean_trigger_conditions(trigger_conditions, errors)
    cleaned_actions = _clean_actions(actions, errors, brokerage)
    if errors:
        raise ValidationError(dict(errors))
    return cleaned_trigger, cleaned_actions


def clean_trigger_conditions(trigger_conditions) -> dict:
    errors = _Errors()
    cleaned = _clean_trigger_conditions(trigger_conditions, errors)
    if errors:
        raise ValidationError(dict(errors))
    return cleaned


def clean_actions(*, brokerage: Brokerage, actions) -> list[dict]:
    errors = _Errors()
    cleaned = _clean_actions(actions, errors, brokerage)
    if errors:
        raise ValidationError(dict(errors))
    return cleaned


# --- trigger and conditions ---------------------------------------------------------------------------------------


def _clean_trigger_conditions(document, errors: _Errors) -> dict:
    root = "trigger_conditions"
    if not isinstance(document, dict):
        errors.add(root, "must be an object with a trigger (and its conditions).")
        return {}
    trigger = document.get("trigger")
    parameter = TRIGGER_PARAMETERS.get(trigger, (None, False))[0]
    allowed = {"trigger", "conditions"} | ({parameter} if parameter else set())
    for key in sorted(set(document) - allowed):
        owner = next((name for name, (param, _) in TRIGGER_PARAMETERS.items() if param == key), None)
        errors.add(f"{root}.{key}", f"only the {owner} trigger takes {key}." if owner else "unknown field.")
    if trigger not in TRIGGER_NAMES:
        errors.add(f"{root}.trigger", f"must be one of {', '.join(TRIGGER_NAMES)}.")
        return {}
    cleaned: dict = {"trigger": trigger}
    if parameter:
        value = _clean_trigger_parameter(trigger, document.get(parameter), f"{root}.{parameter}", errors)
        if value not in (None, ""):
            cleaned[parameter] = value
    cleaned["conditions"] = _clean_conditions(document.get("conditions", {}), f"{root}.conditions", errors)
    return cleaned


def _clean_trigger_parameter(trigger: str, value, path: str, errors: _Errors):
    name, required = TRIGGER_PARAMETERS[trigger]
    if value in (None, ""):
        if required:
            errors.add(path, f"the {trigger} trigger needs {name}.")
        return None
    if name == "idle_days":
        days = _whole_number(value)
        if days is None or not 1 <= days <= MAX_IDLE_DAYS:
            errors.add(path, f"must be a whole number of days from 1 to {MAX_IDLE_DAYS}.")
            return None
        return days
    if name == "tag":
        tags = _labels(value, path, errors, single=True)
        return tags[0] if tags else None
    if value not in Stage.values:
        errors.add(path, f"must be one of {', '.join(Stage.values)}.")
        return None
    return value


def _clean_conditions(conditions, path: str, errors: _Errors) -> dict:
    if conditions in (None, ""):
        return {}
    if not isinstance(conditions, dict):
        errors.add(path, "must be an object (source, stage, budget_min, budget_max, area, tag).")
        return {}
    for key in sorted(set(conditions) - set(CONDITION_KEYS)):
        errors.add(f"{path}.{key}", f"unknown condition; use {', '.join(CONDITION_KEYS)}.")
    cleaned: dict = {}
    for key, choices in (("source", Source.values), ("stage", Stage.values)):
        values = conditions.get(key)
        if values in (None, "", []):
            continue
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            errors.add(f"{path}.{key}", "must be a list of values.")
            continue
        unknown = [value for value in values if value not in choices]
        if unknown:
            errors.add(f"{path}.{key}", f"unknown value(s) {', '.join(unknown)}; use {', '.join(choices)}.")
            continue
        cleaned[key] = list(dict.fromkeys(values))
    for key in ("area", "tag"):
        if conditions.get(key) not in (None, "", []):
            labels = _labels(conditions[key], f"{path}.{key}", errors, lower=key == "tag")
            if labels:
                cleaned[key] = labels
    budget = {}
    for key in ("budget_min", "budget_max"):
        if conditions.get(key) not in (None, ""):
            amount = _amount(conditions[key])
            if amount is None:
                errors.add(f"{path}.{key}", "must be an amount of at least 0, e.g. 1500000.")
            else:
                budget[key] = amount
    if len(budget) == 2 and budget["budget_min"] > budget["budget_max"]:
        errors.add(f"{path}.budget_max", "is below budget_min.")
    cleaned.update({key: _amount_text(amount) for key, amount in budget.items()})
    return cleaned


# --- actions --------------------------------------------------------------------------------------------------------


def _clean_actions(actions, errors: _Errors, brokerage: Brokerage) -> list[dict]:
    if not isinstance(actions, list):
        errors.add("actions", "must be a list of actions.")
        return []
    if not actions:
        errors.add("actions", "give at least one action.")
        return []
    if len(actions) > MAX_ACTIONS:
        errors.add("actions", f"at most {MAX_ACTIONS} actions.")
        return []
    sequence_ids, agent_ids = _ids_named(actions)
    active_sequences = set(NurturingSequence.objects.filter(brokerage=brokerage, is_active=True, pk__in=sequence_ids)
                           .values_list("pk", flat=True)) if sequence_ids else set()
    active_agents = set(assignable_agents(brokerage).filter(pk__in=agent_ids).values_list(
        "pk", flat=True)) if agent_ids else set()
    cleaned = []
    for index, action in enumerate(actions):
        path = f"actions[{index}]"
        if not isinstance(action, dict):
            errors.add(path, "must be an object with a type.")
            continue
        kind = action.get("type")
        if kind not in ACTION_FIELDS:
            errors.add(f"{path}.type", f"must be one of {', '.join(ACTION_FIELDS)}.")
            continue
        for key in sorted(set(action) - {"type", *ACTION_FIELDS[kind]}):
            errors.add(f"{path}.{key}", f"not a field of {kind} (it takes {', '.join(ACTION_FIELDS[kind])}).")
        entry: dict = {"type": kind}
        for key in ACTION_FIELDS[kind]:
            value = action.get(key)
            if value in (None, ""):
                errors.add(f"{path}.{key}", "required.")
                continue
            value = _ACTION_FIELD_CLEANERS[key](value, f"{path}.{key}", errors,
                                                {"sequences": active_sequences, "agents": active_agents})
            if value is not None:
                entry[key] = value
        cleaned.append(entry)
    return cleaned


def _ids_named(actions: list) -> tuple[set[int], set[int]]:
    sequences, agents = set(), set()
    for action in actions:
        if isinstance(action, dict):
            if action.get("type") == "enrol_in_sequence" and _whole_number(action.get("sequence_id")) is not None:
                sequences.add(_whole_number(action["sequence_id"]))
            if action.get("type") == "assign_agent" and _whole_number(action.get("agent_id")) is not None:
                agents.add(_whole_number(action["agent_id"]))
    return sequences, agents


def _sequence_id(value, path, errors, known):
    number = _whole_number(value)
    if number is None or number not in known["sequences"]:
        errors.add(path, "no such active sequence.")
        return None
    return number


def _agent_id(value, path, errors, known):
    if value == ROUND_ROBIN:
        return ROUND_ROBIN
    number = _whole_number(value)
    if number is None or number not in known["agents"]:
        errors.add(path, f"no such active agent in this brokerage (or use \"{ROUND_ROBIN}\").")
        return None
    return number


def _tag(value, path, errors, known):
    tags = _labels(value, path, errors, single=True)
    return tags[0] if tags else None


def _recipient(value, path, errors, known):
    names = [name for name, _ in RECIPIENTS]
    if value not in names:
        errors.add(path, f"must be one of {', '.join(names)}.")
        return None
    return value


def _text(limit: int, merge_fields: bool):
    def clean(value, path, errors, known):
        if not isinstance(value, str) or not value.strip():
            errors.add(path, "must be a text.")
            return None
        value = value.strip()
        if len(value) > limit:
            errors.add(path, f"at most {limit:,} characters.")
            return None
        unknown = unknown_merge_fields(value) if merge_fields else []
        if unknown:
            errors.add(path, f"unknown merge field(s) {', '.join(unknown)} (known: {', '.join(MERGE_FIELDS)}).")
            return None
        return value
    return clean


def _channel(value, path, errors, known):
    if value not in SEND_CHANNELS:
        errors.add(path, f"must be one of {', '.join(SEND_CHANNELS)}.")
        return None
    return value


def _url(value, path, errors, known):
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        errors.add(path, f"must be an http(s) address of at most {MAX_URL_CHARS} characters.")
        return None
    value = value.strip()
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        errors.add(path, "must be a full http:// or https:// address.")
        return None
    host = urlsplit(value).hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return value  # a host name is resolved and checked when the call is made
    if refused_address(address):
        errors.add(path, "points at a private or local network address; use a public address.")
        return None
    return value


_ACTION_FIELD_CLEANERS = {
    "sequence_id": _sequence_id,
    "agent_id": _agent_id,
    "tag": _tag,
    "recipient": _recipient,
    "message": _text(MAX_MESSAGE_CHARS, merge_fields=True),
    "channel": _channel,
    "instruction": _text(MAX_INSTRUCTION_CHARS, merge_fields=False),
    "url": _url,
}


# --- small value parsers --------------------------------------------------------------------------------------------


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _amount(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value).replace(",", "").strip())
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        return None
    return amount


def _amount_text(amount: Decimal) -> str:
    return format(amount.normalize(), "f") if amount == amount.to_integral() else format(amount, "f")


def _labels(value, path: str, errors: _Errors, *, lower: bool = True, single: bool = False) -> list[str]:
    if single and not isinstance(value, str):
        errors.add(path, "must be a text.")
        return []
    if not single and not isinstance(value, list | str):
        errors.add(path, "must be a list of texts.")
        return []
    try:
        labels = clean_labels(value, field=path, max_length=50 if lower else 80, lower=lower)
    except ValidationError:
        errors.add(path, "must be a list of texts.")
        return []
    if single and len(labels) != 1:
        errors.add(path, "must be one tag (no commas).")
        return []
    return labels


# --- matching and describing ----------------------------------------------------------------------------------------


def conditions_mismatch(conditions: dict, lead: Lead) -> str:
    """Why the lead does not meet the conditions ("" when it does), in words for the run log."""
    if conditions.get("source") and lead.source not in conditions["source"]:
        return f"source is {lead.source}, not one of {', '.join(conditions['source'])}"
    if conditions.get("stage") and lead.stage not in conditions["stage"]:
        return f"stage is {lead.stage}, not one of {', '.join(conditions['stage'])}"
    if conditions.get("area"):
        wanted = {area.casefold() for area in conditions["area"]}
        if not wanted & {area.casefold() for area in lead.areas}:
            return f"areas ({', '.join(lead.areas) or 'none'}) include none of {', '.join(conditions['area'])}"
    if conditions.get("tag") and not set(conditions["tag"]) & {tag.lower() for tag in lead.tags}:
        return f"tags ({', '.join(lead.tags) or 'none'}) include none of {', '.join(conditions['tag'])}"
    low, high = conditions.get("budget_min"), conditions.get("budget_max")
    if low is not None or high is not None:
        if lead.budget_min is None and lead.budget_max is None:
            return "the lead has no budget"
        if high is not None and lead.budget_min is not None and lead.budget_min > Decimal(high):
            return f"budget starts at {_money(lead.budget_min)}, above {_money(high)}"
        if low is not None and lead.budget_max is not None and lead.budget_max < Decimal(low):
            return f"budget ends at {_money(lead.budget_max)}, below {_money(low)}"
    return ""


def _money(amount) -> str:
    return f"{Decimal(amount):,.0f}"


def describe_trigger(trigger_conditions: dict) -> str:
    trigger = trigger_conditions.get("trigger", "")
    if trigger == IDLE:
        return f"A lead is idle for {trigger_conditions.get('idle_days')} days"
    if trigger == TAG_ADDED:
        return f"The tag “{trigger_conditions.get('tag')}” is added"
    if trigger == STAGE_CHANGED and trigger_conditions.get("to_stage"):
        return f"A lead moves to {Stage(trigger_conditions['to_stage']).label}"
    return dict(TRIGGERS).get(trigger, trigger)


def describe_conditions(conditions: dict) -> list[str]:
    parts = []
    if conditions.get("source"):
        parts.append("source is " + " or ".join(Source(value).label for value in conditions["source"]))
    if conditions.get("stage"):
        parts.append("stage is " + " or ".join(Stage(value).label for value in conditions["stage"]))
    low, high = conditions.get("budget_min"), conditions.get("budget_max")
    if low and high:
        parts.append(f"budget overlaps {_money(low)}–{_money(high)}")
    elif low:
        parts.append(f"budget reaches at least {_money(low)}")
    elif high:
        parts.append(f"budget starts at most at {_money(high)}")
    if conditions.get("area"):
        parts.append("wants any of " + ", ".join(conditions["area"]))
    if conditions.get("tag"):
        parts.append("tagged any of " + ", ".join(conditions["tag"]))
    return parts


def describe_action(action: dict, names: dict[str, dict]) -> str:
    """One action in words; `names` maps sequence and agent ids to names ({"sequences": {}, "agents": {}})."""
    kind = action.get("type")
    if kind == "enrol_in_sequence":
        return f"Enrol in “{names['sequences'].get(action['sequence_id'], 'a retired sequence')}”"
    if kind == "assign_agent":
        if action["agent_id"] == ROUND_ROBIN:
            return "Assign to the next agent (round robin)"
        return f"Assign to {names['agents'].get(action['agent_id'], 'an agent who left')}"
    if kind == "add_tag":
        return f"Add the tag “{action['tag']}”"
    if kind == "notify":
        return f"Notify {dict(RECIPIENTS)[action['recipient']].lower()}: “{action['message']}”"
    if kind == "create_followup":
        return f"Draft a {Channel(action['channel']).label} follow-up: {action['instruction']}"
    if kind == "call_webhook":
        return f"POST the lead to {action['url']}"
    return kind or "?"
