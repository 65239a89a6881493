from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from backend.config.health import healthz

api_v1 = [
    path("", include("backend.accounts.api_urls")),
    path("", include("backend.reports.api_urls")),
    path("", include("backend.incidents.api_urls")),
    path("", include("backend.hotspots.api_urls")),
    path("", include("backend.patrols.api_urls")),
    path("", include("backend.missions.api_urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("reports/", include("backend.reports.urls")),
    path("hotspots/", include("backend.incidents.urls")),
    path("hotspots/", include("backend.hotspots.urls")),
    path("missions/", include("backend.missions.urls")),
    path("workload/", include("backend.workload.urls")),
    path("audit/", include("backend.audit.urls")),
    path("app/", include("backend.accounts.app_views")),
    path("", include("backend.accounts.urls")),
]

handler400 = "backend.accounts.views.error_400"
handler403 = "backend.accounts.views.error_403"
handler404 = "backend.accounts.views.error_404"
handler500 = "backend.accounts.views.error_500"
