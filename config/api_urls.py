from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from brokerages import api as brokerage_api
from copilot import api as copilot_api
from copilot import api_assistant as copilot_assistant_api
from copilot import api_automations as copilot_automations_api
from copilot import api_quality as copilot_quality_api



@csrf_exempt  # API clients carry no CSRF cookie; without this a POST to an unknown path got the HTML 403 page
def api_not_found(request):
    return JsonResponse({"error": {"status": 404, "code": "not_found", "message": "No API route has this address.",
                                   "fields": {}}}, status=404)


urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("brokerage/profile", brokerage_api.BrokerageProfileAPI.as_view(), name="api-brokerage-profile"),
    path("brokerage/team", brokerage_api.TeamAPI.as_view(), name="api-brokerage-team"),
    path("brokerage/team/<int:pk>", brokerage_api.TeamMemberAPI.as_view(), name="api-brokerage-team-member"),
    path("brokerage/settings", brokerage_api.SettingsAPI.as_view(), name="api-brokerage-settings"),
    path("brokerage/knowledge-base", copilot_api.KnowledgeBaseItemAPI.as_view(), name="api-brokerage-knowledge-base"),
    path("copilot/mentor/ask", copilot_api.MentorAskAPI.as_view(), name="api-mentor-ask"),
    path("copilot/assistant/analyze", copilot_assistant_api.AssistantAnalyzeAPI.as_view(),
         name="api-assistant-analyze"),
    path("copilot/assistant/automate", copilot_automations_api.AutomateAPI.as_view(), name="api-assistant-automate"),
    path("copilot/assistant/runs", copilot_automations_api.RunListAPI.as_view(), name="api-assistant-runs"),
    path("copilot/assistant/runs/<int:pk>", copilot_automations_api.RunAPI.as_view(), name="api-assistant-run"),
    path("copilot/compliance/check", copilot_quality_api.ComplianceCheckAPI.as_view(), name="api-compliance-check"),
    path("knowledge/articles", copilot_api.ArticleListAPI.as_view(), name="api-knowledge-articles"),
    path("knowledge/articles/<int:pk>", copilot_api.ArticleAPI.as_view(), name="api-knowledge-article"),
    path("knowledge/search", copilot_api.KnowledgeSearchAPI.as_view(), name="api-knowledge-search"),
    path("", include("nurturing.api.urls")),
    path("", include("coaching.api.urls")),
    path("", include("analytics.api")),
    path("", include("brokerages.api_webhooks")),
    path("", include("brokerages.api_exports")),
    # Last: any other path under /api/ (a typo, an id that is not a number) answers the API's JSON error body.
    re_path(r"^", api_not_found, name="api-not-found"),
]
