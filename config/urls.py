from django.conf import settings
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("brokerages.urls")),
    path("", include("copilot.urls")),
    path("", include("nurturing.urls")),
    path("", include("coaching.urls")),
    path("analytics/", include("analytics.urls")),
    path("api/", include("config.api_urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# What a failed request answers (503 when the database cannot be reached): config/outage.py.
handler500 = "config.outage.server_error"
