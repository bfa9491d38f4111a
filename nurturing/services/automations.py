"""Workflow automations (being built)."""


def automations_run(*, trigger, lead, actor, context) -> list:
    return []
