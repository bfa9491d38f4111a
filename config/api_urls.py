from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from brokerages import api as brokerage_api
from copilot import api as copilot_api

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("brokerage/profile", brokerage_api.BrokerageProfileAPI.as_view(), name="api-brokerage-profile"),
    path("brokerage/team", brokerage_api.TeamAPI.as_view(), name="api-brokerage-team"),
    path("brokerage/team/<int:pk>", brokerage_api.TeamMemberAPI.as_view(), name="api-brokerage-team-member"),
    path("brokerage/settings", brokerage_api.SettingsAPI.as_view(), name="api-brokerage-settings"),
    path("copilot/mentor/ask", copilot_api.MentorAskAPI.as_view(), name="api-mentor-ask"),
    path("knowledge/articles", copilot_api.ArticleListAPI.as_view(), name="api-knowledge-articles"),
    path("knowledge/articles/<int:pk>", copilot_api.ArticleAPI.as_view(), name="api-knowledge-article"),
    path("knowledge/search", copilot_api.KnowledgeSearchAPI.as_view(), name="api-knowledge-search"),
    path("", include("nurturing.api.urls")),
    path("", include("coaching.api.urls")),
    path("", include("analytics.api")),
]
