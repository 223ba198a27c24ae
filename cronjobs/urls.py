from django.urls import re_path

from .views import CronJobViewSet as V

# Trailing slash optional everywhere, as the original API allowed.
urlpatterns = [
    re_path(r"^jobs/?$", V.as_view({"get": "list_mine"})),
    re_path(r"^jobs/all/?$", V.as_view({"get": "list_all"})),
    re_path(r"^jobs/cron/?$", V.as_view({"post": "create_cron"})),
    re_path(r"^jobs/interval/?$", V.as_view({"post": "create_interval"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/?$", V.as_view({"get": "retrieve", "delete": "destroy"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/trigger/?$", V.as_view({"post": "trigger"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/pause/?$", V.as_view({"post": "pause"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/resume/?$", V.as_view({"post": "resume"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/runs/?$", V.as_view({"get": "runs"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/history/?$", V.as_view({"get": "history"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/runs/cancel/?$", V.as_view({"post": "cancel_runs"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/backfill/?$", V.as_view({"post": "backfill"})),
    re_path(r"^jobs/(?P<job_id>[^/]+)/notifications/?$", V.as_view({"get": "notifications"})),
    # Beside /jobs, not under it: no job id can shadow it.
    re_path(r"^preview/?$", V.as_view({"post": "preview"})),
]
