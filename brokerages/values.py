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
