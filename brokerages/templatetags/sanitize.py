"""`{{ value|sanitized }}`: HTML from the search index or a model, shown through the project's sanitiser
(brokerages.html) rather than trusted with `|safe`."""

from django import template

from brokerages.html import sanitize

register = template.Library()


@register.filter
def sanitized(value) -> str:
    return sanitize(value or "")
