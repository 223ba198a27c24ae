"""GET /metrics: Prometheus metrics, computed from the database at scrape time.

Every web, worker and beat process writes its facts to the database, so reading them there gives
one consistent answer whichever process is scraped, with no per-process registry to merge. Each
metric is one aggregate query; the ones over runs look only at a recent window (an index on
``created_at`` finds it), so a scrape stays cheap however long the run history grows.

Closed unless ``METRICS_TOKEN`` is set: then a scrape must send ``Authorization: Bearer <token>``.
"""

import hmac
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric

from cronjobs.models import CronJob
from vingine.sql import count_json_array_items
from workflows.models import Run

LAG_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
DURATION_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _histogram(name: str, documentation: str, runs, value, buckets: tuple[float, ...]) -> HistogramMetricFamily:
    """A histogram of ``value`` (a duration expression) over ``runs``, in one aggregate query."""
    runs = runs.annotate(value=ExpressionWrapper(value, output_field=DurationField()))
    counts = {f"le_{i}": Count("pk", filter=Q(value__lte=timedelta(seconds=b))) for i, b in enumerate(buckets)}
    row = runs.aggregate(total=Count("pk"), sum=Sum("value"), **counts)
    cumulative = [(str(b), row[f"le_{i}"]) for i, b in enumerate(buckets)] + [("+Inf", row["total"])]
    seconds = row["sum"].total_seconds() if row["sum"] is not None else 0.0
    return HistogramMetricFamily(name, documentation, buckets=cumulative, sum_value=seconds)


class DatabaseCollector:
    def __init__(self, now: datetime, window_seconds: int):
        self.since = now - timedelta(seconds=window_seconds)
        self.window = f"the last {window_seconds} s"

    def collect(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily("vingine_jobs", "Jobs by state and schedule type.", labels=["state", "schedule_type"])
        counted = {
            (row["paused"], row["schedule_type"]): row["n"]
            for row in CronJob.objects.values("paused", "schedule_type").annotate(n=Count("pk")).order_by()
        }
        for paused, state in ((False, "active"), (True, "paused")):
            for schedule_type in CronJob.ScheduleType.values:
                jobs.add_metric([state, schedule_type], counted.get((paused, schedule_type), 0))
        yield jobs

        in_progress = GaugeMetricFamily(
            "vingine_runs_in_progress", "Runs queued or running now, however old.", labels=["status"]
        )
        counted = dict(
            Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING], finished_at__isnull=True)
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for status in (Run.Status.QUEUED, Run.Status.RUNNING):
            in_progress.add_metric([status], counted.get(status, 0))
        yield in_progress

        recent = Run.objects.filter(created_at__gte=self.since)
        by_status = GaugeMetricFamily(
            "vingine_runs_recent",
            f"Runs created in {self.window}, by status and trigger.",
            labels=["status", "trigger"],
        )
        counted = {
            (row["status"], row["trigger"]): row["n"]
            for row in recent.values("status", "trigger").annotate(n=Count("pk")).order_by()
        }
        for status in Run.Status.values:
            for trigger in Run.Trigger.values:
                by_status.add_metric([status, trigger], counted.get((status, trigger), 0))
        yield by_status

        scheduled = recent.filter(trigger=Run.Trigger.SCHEDULE)
        yield GaugeMetricFamily(
            "vingine_slots_fired_recent",
            f"Schedule slots recorded as runs in {self.window} (skipped ones included).",
            value=sum(n for (_, trigger), n in counted.items() if trigger == Run.Trigger.SCHEDULE),
        )
        yield _histogram(
            "vingine_fire_lag_seconds",
            f"Run recorded minus its slot time, for scheduled runs of {self.window} (missed slots left out).",
            scheduled.filter(scheduled_for__isnull=False).exclude(reason=Run.Reason.MISSED),
            F("created_at") - F("scheduled_for"),
            LAG_BUCKETS,
        )
        yield _histogram(
            "vingine_run_duration_seconds",
            f"Finished minus started, for runs created in {self.window} that ran.",
            recent.filter(started_at__isnull=False, finished_at__isnull=False),
            F("finished_at") - F("started_at"),
            DURATION_BUCKETS,
        )
        yield GaugeMetricFamily(
            "vingine_webhook_failures_recent",
            f"Failed http steps in runs created in {self.window}.",
            value=count_json_array_items(
                Run, "steps", since_field="created_at", since=self.since, item_is=("type", "http"), item_has="error"
            ),
        )


def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        # Closed by default: without a configured token the endpoint does not exist.
        return JsonResponse({"detail": f"No such endpoint: {request.path}"}, status=404)
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        response = JsonResponse({"detail": "Send Authorization: Bearer <METRICS_TOKEN>"}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if request.method not in ("GET", "HEAD"):
        return JsonResponse({"detail": f'Method "{request.method}" not allowed; use GET'}, status=405)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(timezone.now(), settings.METRICS_WINDOW_SECONDS))
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
