from django.contrib import admin
from django.urls import include, path, re_path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from .health import health

urlpatterns = [
    re_path(r"^health/?$", health),
    re_path(r"^api/auth/token/?$", TokenObtainPairView.as_view()),
    re_path(r"^api/auth/token/refresh/?$", TokenRefreshView.as_view()),
    path("api/cron/", include("cronjobs.urls")),
    path("api/", include("workflows.urls")),
    path("admin/", admin.site.urls),
]

handler400 = "vingine.errors.bad_request"
handler404 = "vingine.errors.not_found"
handler500 = "vingine.errors.server_error"

admin.site.site_header = "vingine operations"
admin.site.site_title = "vingine"
