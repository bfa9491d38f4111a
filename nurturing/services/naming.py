"""Sequences and automations are picked by name, so a brokerage's names are unique, whatever their case."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction


def _taken(what: str, name: str) -> ValidationError:
    return ValidationError({"name": f"There is already {what} called “{name}”."})


def name_free(model, *, brokerage, name: str, pk: int | None, what: str) -> None:
    """Raise on `name` when another row of the brokerage has it (`what` reads "a sequence", "an automation")."""
    if model.objects.filter(brokerage=brokerage, name__iexact=name).exclude(pk=pk).exists():
        raise _taken(what, name)


def save_named(instance, *, what: str, exclude: list[str]) -> None:
    """Validate and save a named row; a name taken meanwhile by a concurrent save is the same error."""
    name_free(type(instance), brokerage=instance.brokerage, name=instance.name, pk=instance.pk, what=what)
    instance.full_clean(exclude=exclude, validate_constraints=False)
    try:
        with transaction.atomic():
            instance.save()
    except IntegrityError:  # a concurrent save took the name between the check and the insert
        raise _taken(what, instance.name) from None
