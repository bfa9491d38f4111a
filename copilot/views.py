"""Knowledge base pages and the Co-Pilot's Mentor tab (the page with both tabs: `views_assistant`)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from brokerages.permissions import request_perms
from brokerages.web import form_error, tenant_view

from . import selectors, services
from .forms import ArticleForm, AskForm, ImportForm, SearchForm
from .rendering import markdown_to_safe_html
from .views_assistant import copilot_page


def _any_article(brokerage, pk: int):
    return selectors.article_get(brokerage, pk, include_inactive=True)


def _can_manage(request) -> bool:
    return "manage_knowledge_base" in request_perms(request)


@tenant_view("view_knowledge_base")
def knowledge(request):
    brokerage = request.brokerage
    form = SearchForm(request.GET or None, categories=selectors.categories(brokerage), tags=selectors.tags(brokerage))
    query, category, tag = "", "", ""
    if form.is_bound and form.is_valid():
        query, category, tag = form.cleaned_data["q"], form.cleaned_data["category"], form.cleaned_data["tag"]
    context = {"form": form, "query": query, "can_manage": _can_manage(request)}
    if query.strip():
        context["results"] = selectors.knowledge_search(brokerage, query, category=category, tag=tag)
    else:
        context["articles"] = selectors.articles(brokerage, category=category, tag=tag,
                                                 include_inactive=_can_manage(request))
    template = "copilot/knowledge.html#results" if request.htmx and not request.htmx.boosted else \
        "copilot/knowledge.html"
    return render(request, template, context)


@tenant_view("view_knowledge_base", lookup=_any_article)
def article(request, obj):
    if not obj.is_active and not _can_manage(request):
        raise Http404("No such article.")
    return render(request, "copilot/article.html", {
        "article": obj, "body_html": markdown_to_safe_html(obj.content), "can_manage": _can_manage(request)})


def _article_form_page(request, form, article=None):
    return render(request, "copilot/article_form.html", {"form": form, "article": article})


@tenant_view("manage_knowledge_base")
def article_new(request):
    form = ArticleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.article_create(brokerage=request.brokerage, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"“{created.title}” is published and searchable.")
            return redirect("copilot:article", pk=created.pk)
    return _article_form_page(request, form)


@tenant_view("manage_knowledge_base", lookup=_any_article)
def article_edit(request, obj):
    initial = {"title": obj.title, "category": obj.category, "tags": ", ".join(obj.tags), "content": obj.content}
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.article_update(brokerage=request.brokerage, actor=request.user, article=obj,
                                    data=form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Article saved.")
            return redirect("copilot:article", pk=obj.pk)
    return _article_form_page(request, form, obj)


@tenant_view("manage_knowledge_base", lookup=_any_article)
@require_POST
def article_toggle(request, obj):
    updated = services.article_update(brokerage=request.brokerage, actor=request.user, article=obj,
                                      data={"is_active": not obj.is_active})
    messages.success(request, f"“{updated.title}” is {'active' if updated.is_active else 'retired'}.")
    return redirect("copilot:article", pk=obj.pk)


@tenant_view("manage_knowledge_base")
def knowledge_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        files = [(upload.name, upload.read()) for upload in form.cleaned_data["files"]]
        report = services.articles_import(brokerage=request.brokerage, actor=request.user, files=files)
    return render(request, "copilot/import.html", {"form": form, "report": report})


@tenant_view("view_knowledge_base")
def copilot(request):
    return copilot_page(request, tab=request.GET.get("tab", "mentor"))


@tenant_view("view_knowledge_base")
@require_POST
def mentor_ask(request):
    form = AskForm(request.POST)
    context = {"form": form}
    if form.is_valid():
        try:
            context["record"], context["answer"] = services.mentor_ask(
                brokerage=request.brokerage, actor=request.user, question=form.cleaned_data["question"])
        except ValidationError as error:
            form_error(form, error)
    return render(request, "copilot/copilot.html#answer", context)


@tenant_view("view_knowledge_base", lookup=selectors.mentor_question_get)
@require_POST
def mentor_feedback(request, obj):
    try:
        record = services.mentor_feedback(brokerage=request.brokerage, actor=request.user, record=obj,
                                          helpful=request.POST.get("helpful") == "1")
    except ValidationError:
        raise Http404("No such answer in your history.") from None
    return render(request, "copilot/partials/feedback.html#feedback", {"record": record})


@tenant_view("manage_knowledge_base")
def mentor_gaps(request):
    return render(request, "copilot/gaps.html", {"gaps": selectors.mentor_gaps(request.brokerage)})


@tenant_view("manage_knowledge_base", lookup=selectors.mentor_question_get)
@require_POST
def mentor_gap_resolve(request, obj):
    services.mentor_gap_resolve(brokerage=request.brokerage, actor=request.user, record=obj)
    return render(request, "copilot/gaps.html#gap_row", {"gap": obj})
