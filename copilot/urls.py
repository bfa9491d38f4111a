from django.urls import path

from . import views, views_assistant, views_quality, views_runs

app_name = "copilot"

urlpatterns = [
    path("copilot/", views.copilot, name="copilot"),
    path("copilot/mentor/ask/", views.mentor_ask, name="mentor_ask"),
    path("copilot/mentor/<int:pk>/feedback/", views.mentor_feedback, name="mentor_feedback"),
    path("copilot/mentor/unanswered/", views.mentor_gaps, name="mentor_gaps"),
    path("copilot/mentor/unanswered/<int:pk>/resolve/", views.mentor_gap_resolve, name="mentor_gap_resolve"),
    path("copilot/assistant/", views_assistant.assistant, name="assistant"),
    path("copilot/assistant/analyze/", views_assistant.assistant_analyze, name="assistant_analyze"),
    # The assistant's automations: run one, the agent's history, review a run.
    path("copilot/assistant/automate/", views_runs.automate, name="assistant_automate"),
    path("copilot/assistant/runs/", views_runs.runs, name="assistant_runs"),
    path("copilot/assistant/runs/<int:pk>/", views_runs.run_detail, name="assistant_run"),
    path("copilot/assistant/runs/<int:pk>/edit/", views_runs.run_edit, name="assistant_run_edit"),
    path("copilot/assistant/runs/<int:pk>/approve/", views_runs.run_approve, name="assistant_run_approve"),
    path("copilot/assistant/runs/<int:pk>/discard/", views_runs.run_discard, name="assistant_run_discard"),
    path("copilot/assistant/runs/<int:pk>/report.pdf", views_runs.run_pdf, name="assistant_run_pdf"),
    path("knowledge/", views.knowledge, name="knowledge"),
    path("knowledge/new/", views.article_new, name="article_new"),
    path("knowledge/import/", views.knowledge_import, name="import"),
    path("knowledge/<int:pk>/", views.article, name="article"),
    path("knowledge/<int:pk>/edit/", views.article_edit, name="article_edit"),
    path("knowledge/<int:pk>/toggle/", views.article_toggle, name="article_toggle"),
    # Quality & Consistency: templates, compliance rules, the checker.
    path("quality/templates/", views_quality.templates, name="templates"),
    path("quality/templates/preview/", views_quality.template_preview, name="template_preview"),
    path("quality/rules/", views_quality.rules, name="compliance_rules"),
    path("quality/rules/new/", views_quality.rule_new, name="compliance_rule_new"),
    path("quality/rules/<int:pk>/edit/", views_quality.rule_edit, name="compliance_rule_edit"),
    path("quality/rules/<int:pk>/toggle/", views_quality.rule_toggle, name="compliance_rule_toggle"),
    path("quality/check/", views_quality.check, name="compliance_check"),
]
