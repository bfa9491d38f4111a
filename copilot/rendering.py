"""Article Markdown to HTML that is safe to show: whatever an article contains, only harmless tags survive
(the project's sanitiser, brokerages.html)."""

import markdown
from django.utils.safestring import SafeString

from brokerages.html import PROSE_TAGS, sanitize


def markdown_to_safe_html(text: str) -> SafeString:
    rendered = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])
    return sanitize(rendered, tags=PROSE_TAGS)
