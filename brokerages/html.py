"""The project's one HTML sanitiser (nh3): markup that comes from people or from a model reaches a page only
through here, so whatever it carries, only harmless tags survive: no script or style (content removed too), no
event-handler attributes, no links other than http, https and mailto."""

import nh3
from django.utils.safestring import SafeString, mark_safe

# Search snippets: text escaped by the search index, with the matched words marked.
HIGHLIGHT_TAGS = frozenset({"mark"})
# Knowledge articles, written in Markdown.
PROSE_TAGS = frozenset({"p", "h2", "h3", "h4", "ul", "ol", "li", "strong", "em", "code", "pre", "blockquote",
                        "table", "thead", "tbody", "tr", "th", "td", "a", "br", "hr"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitize(html: str, *, tags: frozenset[str] = HIGHLIGHT_TAGS) -> SafeString:
    """`html` with only `tags` left (links keep href and title, and get rel="noopener noreferrer nofollow")."""
    cleaned = nh3.clean(str(html), tags=set(tags), attributes={"a": {"href", "title"}},
                        url_schemes=set(URL_SCHEMES), link_rel="noopener noreferrer nofollow")
    return mark_safe(cleaned)  # noqa: S308 (nh3 has just removed everything unsafe)
