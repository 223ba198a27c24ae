"""GET /metrics: closed unless METRICS_TOKEN is set; numbers read from the database at scrape time."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from cronjobs import schedules, services
from workflows.models import Run

pytestmark = pytest.mark.django_db

TOKEN = "scrape-secret"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(client) -> dict:
    """{(sample name, frozenset of labels): value} of one authorised scrape."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_it_does_not_exist_without_a_configured_token(client, settings):
    settings.METRICS_TOKEN = None

    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_it_refuses_a_missing_or_wrong_token(client, metrics_token, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.get("/metrics", **extra)

    assert response.status_code == 401
    assert response.json() == {"detail": "Send Authorization: Bearer <METRICS_TOKEN>"}


def test_it_counts_jobs_by_state_and_schedule_type(client, metrics_token, workflow, make_job, alice):
    make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), "a")
    make_job(workflow, schedules.cron_spec(expression="0 10 * * *"), "b")
    make_job(workflow, schedules.interval_spec(minutes=5), "c")
    services.job_pause(user=alice, job_id="b")

    samples = scrape(client)

    assert value(samples, "vingine_jobs", state="active", schedule_type="cron") == 1
    assert value(samples, "vingine_jobs", state="paused", schedule_type="cron") == 1
    assert value(samples, "vingine_jobs", state="active", schedule_type="interval") == 1
    assert value(samples, "vingine_jobs", state="paused", schedule_type="interval") == 0


@pytest.fixture
def runs(workflow, make_job):
    """Runs of the last hour with known lags and durations, one old run, and webhook step records."""
    job = make_job(workflow, schedules.interval_spec(minutes=1), "busy")
    now = timezone.now()

    def run(*, status, trigger=Run.Trigger.SCHEDULE, lag=None, took=None, age=timedelta(minutes=10), **fields):
        created = now - age
        slot = created - timedelta(seconds=lag) if lag is not None else None
        started = created + timedelta(seconds=1) if took is not None else None
        made = Run.objects.create(
            job=job,
            workflow=workflow,
            owner=workflow.owner,
            trigger=trigger,
            status=status,
            scheduled_for=slot,
            started_at=started,
            finished_at=started + timedelta(seconds=took) if took is not None else None,
            **fields,
        )
        Run.objects.filter(pk=made.pk).update(created_at=created)
        return made

    http_failed = {"index": 0, "type": "http", "error": "HTTP 500 from https://app.example/hook"}
    run(status=Run.Status.SUCCEEDED, lag=0.2, took=0.3)
    run(status=Run.Status.SUCCEEDED, lag=0.8, took=2, steps=[{"index": 0, "type": "http", "output": "ok"}])
    run(status=Run.Status.FAILED, lag=3, took=40, steps=[http_failed], age=timedelta(minutes=20))
    run(
        status=Run.Status.FAILED,
        trigger=Run.Trigger.MANUAL,
        took=1,
        steps=[{"index": 0, "type": "template"}, http_failed],
    )
    run(status=Run.Status.SKIPPED, lag=7200, reason=Run.Reason.MISSED)  # recorded after an outage
    run(status=Run.Status.QUEUED, lag=0.05)
    run(status=Run.Status.FAILED, lag=0.1, took=1, steps=[http_failed], age=timedelta(hours=3))  # outside the window


def test_it_reports_the_recent_runs(client, metrics_token, runs):
    samples = scrape(client)

    assert value(samples, "vingine_runs_recent", status="succeeded", trigger="schedule") == 2
    assert value(samples, "vingine_runs_recent", status="failed", trigger="schedule") == 1  # the old one is out
    assert value(samples, "vingine_runs_recent", status="failed", trigger="manual") == 1
    assert value(samples, "vingine_runs_recent", status="skipped", trigger="schedule") == 1
    assert value(samples, "vingine_runs_in_progress", status="queued") == 1
    assert value(samples, "vingine_slots_fired_recent") == 5
    assert value(samples, "vingine_webhook_failures_recent") == 2


def test_fire_lag_is_a_histogram_of_recorded_minus_slot(client, metrics_token, runs):
    samples = scrape(client)

    # Lags 0.05, 0.2, 0.8 and 3 s; the missed slot (2 h late by design) is left out.
    assert value(samples, "vingine_fire_lag_seconds_bucket", le="0.1") == 1
    assert value(samples, "vingine_fire_lag_seconds_bucket", le="0.25") == 2
    assert value(samples, "vingine_fire_lag_seconds_bucket", le="1.0") == 3
    assert value(samples, "vingine_fire_lag_seconds_bucket", le="5.0") == 4
    assert value(samples, "vingine_fire_lag_seconds_bucket", le="+Inf") == 4
    assert value(samples, "vingine_fire_lag_seconds_count") == 4
    assert value(samples, "vingine_fire_lag_seconds_sum") == pytest.approx(4.05)


def test_run_duration_is_a_histogram_of_finished_minus_started(client, metrics_token, runs):
    samples = scrape(client)

    # Durations 0.3, 2, 40 and 1 s in the window.
    assert value(samples, "vingine_run_duration_seconds_bucket", le="0.5") == 1
    assert value(samples, "vingine_run_duration_seconds_bucket", le="1.0") == 2
    assert value(samples, "vingine_run_duration_seconds_bucket", le="5.0") == 3
    assert value(samples, "vingine_run_duration_seconds_bucket", le="60.0") == 4
    assert value(samples, "vingine_run_duration_seconds_count") == 4
    assert value(samples, "vingine_run_duration_seconds_sum") == pytest.approx(43.3)
