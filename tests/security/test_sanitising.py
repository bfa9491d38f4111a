"""Every user- or model-generated HTML goes through one sanitiser (brokerages.html, nh3) or is escaped: a
`<script>`, an `onerror=` or a `javascript:` link in what people or a model write comes out inert wherever it is
shown. The inventory tests keep it that way: a new `|safe` or `mark_safe` has to be argued here."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

from analytics.charts import Series, bar_chart, line_chart
from brokerages.html import PROSE_TAGS, sanitize
from copilot.models import KnowledgeArticle
from copilot.rendering import markdown_to_safe_html
from copilot.services import article_create

ROOT = Path(__file__).resolve().parents[2]
APPS = ("brokerages", "copilot", "nurturing", "coaching", "analytics", "config")

PAYLOADS = [
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert('xss')>",
    "<a href=\"javascript:alert('xss')\">click</a>",
    "<a href=\" JaVaScRiPt:alert('xss')\">click</a>",
    "<svg onload=alert('xss')><circle r=1></svg>",
    "<iframe src=\"javascript:alert('xss')\"></iframe>",
    "<mark onmouseover=alert('xss')>hover</mark>",
    "<p style=\"background:url(javascript:alert('xss'))\">styled</p>",
    "<object data=\"data:text/html,<script>alert('xss')</script>\"></object>",
]
MARKDOWN_PAYLOADS = [
    "[click](javascript:alert('xss'))",
    "![pic](javascript:alert('xss'))",
    "<script>alert('xss')</script>\n\n## Heading",
    "<div onclick=\"alert('xss')\">raw html block</div>",
    "[ref][1]\n\n[1]: javascript:alert('xss')",
]


class _Executable(HTMLParser):
    """Markup that a browser would run: script, event handlers, javascript: URLs, embedded documents."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in {"script", "iframe", "object", "embed", "svg", "img", "style", "base", "form", "meta"}:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name == "style":
                self.found.append(f"{tag} style=")
            if value and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:", "data:", "vbscript:")):
                self.found.append(f"{tag} {name}={value[:40]}")


def executable(html: str) -> list[str]:
    parser = _Executable()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_sanitiser_leaves_nothing_executable(payload):
    for tags in (frozenset({"mark"}), PROSE_TAGS):
        cleaned = sanitize(payload, tags=tags)
        assert executable(cleaned) == [], cleaned
        assert "alert('xss')</script>" not in cleaned


def test_the_sanitiser_keeps_what_it_allows():
    assert sanitize("Ejari <mark>renewal</mark> fee") == "Ejari <mark>renewal</mark> fee"
    assert (sanitize('<a href="https://dubailand.gov.ae" title="DLD">DLD</a>', tags=PROSE_TAGS)
            == '<a href="https://dubailand.gov.ae" title="DLD" rel="noopener noreferrer nofollow">DLD</a>')


@pytest.mark.parametrize("payload", PAYLOADS + MARKDOWN_PAYLOADS)
def test_article_markdown_renders_inert(payload):
    rendered = markdown_to_safe_html(f"## Section\n\nBefore {payload} after.")
    assert executable(rendered) == [], rendered
    assert "<h2>Section</h2>" in rendered


@pytest.mark.django_db
def test_a_hostile_article_is_inert_on_its_page_in_search_and_in_the_mentors_sources(client, tenant):
    content = "## Ejari renewal\n\nEjari renewal needs the tenancy contract. " + " ".join(PAYLOADS + MARKDOWN_PAYLOADS)
    article = article_create(brokerage=tenant.brokerage, actor=tenant.owner, title="Ejari renewal",
                             category="Leasing", tags=["ejari"], content=content)
    client.force_login(tenant.agent)
    page = client.get(reverse("copilot:article", args=[article.pk])).content.decode()
    body = page[page.index('<article class="prose">'):page.index("</article>")]
    assert executable(body) == [] and "Ejari renewal needs the tenancy contract" in body

    search = client.get(reverse("copilot:knowledge"), {"q": "ejari renewal tenancy contract alert"}).content.decode()
    snippets = re.findall(r'<p class="snippet">(.*?)</p>', search, re.S)
    assert snippets and all(executable(snippet) == [] for snippet in snippets)
    assert any("<mark>" in snippet for snippet in snippets)

    answer = client.post(reverse("copilot:mentor_ask"), {"question": "What does Ejari renewal need?"}).content.decode()
    sources = re.findall(r'<p class="snippet">(.*?)</p>', answer, re.S)
    assert sources and all(executable(source) == [] for source in sources)
    assert KnowledgeArticle.objects.filter(pk=article.pk, content=content).exists()  # stored as written


def test_charts_escape_the_names_they_draw():
    """Charts are SVG built by hand and marked safe (analytics.charts): every name in them is escaped."""
    names = [payload[:60] for payload in PAYLOADS]
    markup = bar_chart(names, [1.0] * len(names), title=PAYLOADS[0], unit=PAYLOADS[1])
    markup += line_chart(names[:3], [Series(PAYLOADS[2], [1.0, 2.0, 3.0])], title=PAYLOADS[3])
    found = [item for item in executable(markup) if item != "<svg>"]
    assert found == [], found


# --- inventory ------------------------------------------------------------------------------------------

# Where markup is trusted on purpose, and why that is sound.
TRUSTED_MARKUP = {
    "brokerages/html.py": "the sanitiser itself: marks nh3's output safe",
    "analytics/charts.py": "SVG built from numbers and escape()d text (test_charts_escape_the_names_they_draw)",
}


def test_no_template_trusts_markup_with_safe_or_autoescape_off():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        text = path.read_text()
        for pattern in (r"\|\s*safe\b", r"\|\s*safeseq\b", r"{%\s*autoescape\s+off"):
            if re.search(pattern, text):
                found.append(f"{path.relative_to(ROOT)}: {pattern}")
    assert found == [], "HTML templates must escape or use |sanitized:\n" + "\n".join(found)


def test_only_the_known_modules_mark_strings_safe():
    found = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            if re.search(r"\bmark_safe\(|\bformat_html\(|\bSafeString\(|\bSafeData\b", path.read_text()):
                found.add(str(path.relative_to(ROOT)))
    assert found == set(TRUSTED_MARKUP), f"new code marking strings safe: {found - set(TRUSTED_MARKUP)}"
