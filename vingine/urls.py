from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import throttling
from .health import health
from .metrics import metrics
from .tokens import TokenObtainView, TokenRefreshView

# Before admin.site.urls is read below: the admin's sign-ins are limited as the API's are.
admin.site.login = throttling.guard_login_view(admin.site.login)

urlpatterns = [
    re_path(r"^health/?$", health),
    re_path(r"^metrics/?$", metrics),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    re_path(r"^api/auth/token/?$", TokenObtainView.as_view()),
    re_path(r"^api/auth/token/refresh/?$", TokenRefreshView.as_view()),
    path("api/cron/", include("cronjobs.urls")),
    path("api/", include("workflows.urls")),
    path("api/", include("streams.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "vingine.errors.bad_request"
handler404 = "vingine.errors.not_found"
handler500 = "vingine.errors.server_error"

admin.site.site_header = "vingine operations"
admin.site.site_title = "vingine"
