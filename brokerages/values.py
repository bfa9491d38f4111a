"""Clean-up of list values people type as comma-separated text (tags, areas) shared by every app."""

from django.core.exceptions import ValidationError


def clean_labels(values, *, field: str = "tags", max_items: int = 20, max_length: int = 50,
                 lower: bool = True) -> list[str]:
    """A list (or comma-separated text) of short labels: trimmed, de-duplicated, in the order given."""
    if isinstance(values, str):
        values = values.split(",")
    if not isinstance(values, list | tuple):
        raise ValidationError({field: f"{field.capitalize()} must be a list or a comma-separated text."})
    cleaned: list[str] = []
    for value in values:
        value = str(value).strip()[:max_length]
        value = value.lower() if lower else value
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned[:max_items]


def clean_name(name, *, what: str, field: str = "name", max_length: int = 255) -> str:
    """A name typed by a person: inner whitespace collapsed, required, within the column's length."""
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({field: f"Give the {what} a name."})
    if len(name) > max_length:
        raise ValidationError({field: f"Keep the name under {max_length} characters."})
    return name


def clean_choice(value, choices, *, field: str) -> str:
    """One of a TextChoices' values, or an error listing them."""
    if value not in choices.values:
        raise ValidationError({field: f"Type must be one of {', '.join(choices.values)}."})
    return value
