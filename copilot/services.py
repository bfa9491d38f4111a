"""Writes for the co-pilot: knowledge articles (with their search index), imports, mentor questions."""

import io
import time
from dataclasses import dataclass, field

import yaml
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from brokerages.models import Brokerage, User
from brokerages.services import apply_changes, audit_record
from brokerages.values import clean_labels

from . import search_index
from .mentor import MentorAnswer, answer_question
from .models import KnowledgeArticle, MentorQuestion

ARTICLE_FIELDS = ("title", "category", "content", "tags")
MAX_QUESTION_CHARS = 2000
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def clean_tags(tags) -> list[str]:
    return clean_labels(tags)


def _save_article(article: KnowledgeArticle) -> None:
    article.full_clean(validate_constraints=False)  # the database's unique constraint answers below
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError:
        raise ValidationError({"title": "An article with this title already exists."}) from None
    search_index.index_article(article)


@transaction.atomic
def article_create(*, brokerage: Brokerage, actor: User | None, title: str, category: str, content: str,
                   tags=(), is_active: bool = True) -> KnowledgeArticle:
    """Create an article and make its passages searchable. A duplicate title raises ValidationError."""
    article = KnowledgeArticle(brokerage=brokerage, title=title.strip(), category=category.strip(),
                               content=content, tags=clean_tags(list(tags) if not isinstance(tags, str) else tags),
                               is_active=is_active, created_by=actor)
    _save_article(article)
    audit_record(brokerage=brokerage, actor=actor, action="knowledge.article_created", resource=article,
                 details={"title": article.title, "category": article.category})
    return article


@transaction.atomic
def article_update(*, brokerage: Brokerage, actor: User | None, article: KnowledgeArticle,
                   data: dict) -> KnowledgeArticle:
    """Change title/category/content/tags/is_active; the search index follows in the same transaction."""
    article = KnowledgeArticle.objects.select_for_update().get(pk=article.pk, brokerage=brokerage)
    changed = list(apply_changes(article, (*ARTICLE_FIELDS, "is_active"), data,
                                 clean=lambda name, value: clean_tags(value) if name == "tags" else value))
    if changed:
        _save_article(article)
        action = "knowledge.article_updated"
        if changed == ["is_active"]:
            action = "knowledge.article_activated" if article.is_active else "knowledge.article_deactivated"
        audit_record(brokerage=brokerage, actor=actor, action=action, resource=article,
                     details={"title": article.title, "fields": changed})
    return article


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)


def parse_document(name: str, data: bytes) -> dict:
    """Title, category, tags and content of a Markdown/text file with YAML front matter, or of a PDF.

    Raises ValidationError with a message a person can act on.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    fallback_title = stem.replace("-", " ").replace("_", " ").strip().capitalize()
    if name.lower().endswith(".pdf") or data[:5] == b"%PDF-":
        try:
            reader = PdfReader(io.BytesIO(data))
            text = "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
            text = text.replace("\x00", "").strip()  # PostgreSQL text cannot hold NUL
        except (PdfReadError, ValueError, KeyError, OSError) as error:
            raise ValidationError(f"The PDF could not be read ({error}).") from None
        if not text:
            raise ValidationError("The PDF has no text to import (is it a scan?).")
        title = (reader.metadata.title if reader.metadata and reader.metadata.title else "") or fallback_title
        return {"title": title.strip(), "category": "Imported", "tags": [], "content": text}
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationError(f"The file is not UTF-8 text (byte {error.start} is not valid); "
                              "save it as UTF-8 and import it again.") from None
    if "\x00" in text:
        raise ValidationError("The file contains binary data; save it as Markdown or plain text.")
    meta: dict = {}
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end == -1:
            raise ValidationError("The front matter starts with --- but never ends with a --- line.")
        try:
            meta = yaml.safe_load(text[3:end]) or {}
        except yaml.YAMLError as error:
            raise ValidationError(f"The front matter is not valid YAML: {str(error).splitlines()[0]}") from None
        if not isinstance(meta, dict):
            raise ValidationError("The front matter must be key: value lines (title, category, tags).")
        text = text[end + 4:].lstrip("\n")
    if not text.strip():
        raise ValidationError("The file has no content after its front matter.")
    return {"title": str(meta.get("title") or fallback_title).strip(),
            "category": str(meta.get("category") or "General").strip(),
            "tags": clean_tags(meta.get("tags") or []), "content": text}


def articles_import(*, brokerage: Brokerage, actor: User | None, files: list[tuple[str, bytes]]) -> ImportReport:
    """Import each file on its own: a broken file is reported and the others are still imported. An article
    with the same title is updated, so importing a folder twice changes nothing the second time."""
    report = ImportReport()
    for name, data in files:
        try:
            with transaction.atomic():
                fields = parse_document(name, data)
                existing = KnowledgeArticle.objects.filter(brokerage=brokerage, title=fields["title"]).first()
                if existing is None:
                    article_create(brokerage=brokerage, actor=actor, **fields)
                    report.created.append(fields["title"])
                else:
                    saved = article_update(brokerage=brokerage, actor=actor, article=existing,
                                           data={**fields, "is_active": True})
                    changed = saved.updated_at != existing.updated_at
                    (report.updated if changed else report.unchanged).append(fields["title"])
        except ValidationError as error:
            report.errors.append((name, " ".join(error.messages)))
    return report


def mentor_ask(*, brokerage: Brokerage, actor: User, question: str) -> tuple[MentorQuestion, MentorAnswer]:
    """Answer the question from the knowledge base (or abstain) and keep it in the asker's history.

    Empty or over-long questions raise ValidationError before anything is stored.
    """
    question = " ".join(question.split())
    if not question:
        raise ValidationError({"question": "Type a question first."})
    if len(question) > MAX_QUESTION_CHARS:
        raise ValidationError({"question": f"Keep the question under {MAX_QUESTION_CHARS} characters "
                                           f"(it has {len(question)})."})
    started = time.perf_counter()
    answer = answer_question(brokerage, question)
    record = MentorQuestion.objects.create(
        brokerage=brokerage, asked_by=actor, question=question, answer=answer.answer,
        sources=[s.__dict__ for s in answer.sources], confidence_score=answer.confidence_score,
        provider=answer.provider, degraded=answer.degraded, abstained=answer.abstained,
        latency_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return record, answer


@transaction.atomic
def mentor_feedback(*, brokerage: Brokerage, actor: User, record: MentorQuestion, helpful: bool) -> MentorQuestion:
    """Thumbs up or down on one's own answer; giving it again replaces the earlier verdict. A change of verdict
    is audited."""
    if record.asked_by_id != actor.pk:
        raise ValidationError("You can only rate answers to your own questions.")
    feedback = MentorQuestion.Feedback.HELPFUL if helpful else MentorQuestion.Feedback.NOT_HELPFUL
    if record.feedback != feedback:
        previous, record.feedback = record.feedback, feedback
        record.save(update_fields=["feedback"])
        audit_record(brokerage=brokerage, actor=actor, action="knowledge.answer_rated", resource=record,
                     details={"changes": {"feedback": [previous, feedback.value]}})
    return record


@transaction.atomic
def mentor_gap_resolve(*, brokerage: Brokerage, actor: User, record: MentorQuestion) -> MentorQuestion:
    """Mark an unanswered question as dealt with (the owner added or updated an article)."""
    if not record.resolved:
        record.resolved = True
        record.save(update_fields=["resolved"])
        audit_record(brokerage=brokerage, actor=actor, action="knowledge.gap_resolved", resource=record,
                     details={"question": record.question[:200]})
    return record
