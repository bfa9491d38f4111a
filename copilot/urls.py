from django.urls import path

from . import views

app_name = "copilot"

urlpatterns = [
    path("copilot/", views.copilot, name="copilot"),
    path("copilot/mentor/ask/", views.mentor_ask, name="mentor_ask"),
    path("copilot/mentor/<int:pk>/feedback/", views.mentor_feedback, name="mentor_feedback"),
    path("copilot/mentor/unanswered/", views.mentor_gaps, name="mentor_gaps"),
    path("copilot/mentor/unanswered/<int:pk>/resolve/", views.mentor_gap_resolve, name="mentor_gap_resolve"),
    path("knowledge/", views.knowledge, name="knowledge"),
    path("knowledge/new/", views.article_new, name="article_new"),
    path("knowledge/import/", views.knowledge_import, name="import"),
    path("knowledge/<int:pk>/", views.article, name="article"),
    path("knowledge/<int:pk>/edit/", views.article_edit, name="article_edit"),
    path("knowledge/<int:pk>/toggle/", views.article_toggle, name="article_toggle"),
]
