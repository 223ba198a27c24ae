from django.urls import re_path

from .views import RunViewSet, SigningSecretViewSet, WorkflowViewSet

# Trailing slash optional on every route, as on /api/cron.
urlpatterns = [
    re_path(r"^workflows/?$", WorkflowViewSet.as_view({"get": "list_mine", "post": "create"})),
    re_path(
        r"^workflows/(?P<workflow_id>[^/]+)/?$",
        WorkflowViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
    ),
    re_path(r"^workflows/(?P<workflow_id>[^/]+)/run/?$", WorkflowViewSet.as_view({"post": "run"})),
    re_path(r"^runs/?$", RunViewSet.as_view({"get": "list_mine"})),
    re_path(r"^runs/(?P<run_id>[^/]+)/?$", RunViewSet.as_view({"get": "retrieve"})),
    re_path(r"^runs/(?P<run_id>[^/]+)/cancel/?$", RunViewSet.as_view({"post": "cancel"})),
    re_path(r"^runs/(?P<run_id>[^/]+)/rerun/?$", RunViewSet.as_view({"post": "rerun"})),
    re_path(r"^signing-secret/?$", SigningSecretViewSet.as_view({"get": "retrieve"})),
    re_path(r"^signing-secret/rotate/?$", SigningSecretViewSet.as_view({"post": "rotate"})),
]
