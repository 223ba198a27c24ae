"""POST /api/cron/preview: the next fire times of a schedule and its description, nothing saved."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from django.utils import timezone

from .helpers import assert_refused, db_snapshot

pytestmark = pytest.mark.django_db

URL = "/api/cron/preview"


def test_it_previews_a_cron_schedule_in_its_zone(api):
    before = timezone.now()
    response = api.post(URL, {"cron_expression": "0 9 * * 1-5", "timezone": "Europe/Paris", "count": 7}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "success"
    assert body["description"] == "At 09:00, Monday through Friday"
    assert body["timezone"] == "Europe/Paris"
    times = [datetime.fromisoformat(t) for t in body["next_run_times"]]
    # Computed independently: cronsim, in the zone, from the request time.
    expected = CronSim("0 9 * * 1-5", before.astimezone(ZoneInfo("Europe/Paris")))
    assert times == [next(expected) for _ in range(7)]
    for time in times:
        assert time.utcoffset() == time.astimezone(ZoneInfo("Europe/Paris")).utcoffset()


def test_it_previews_an_interval_from_now(api):
    before = timezone.now()
    response = api.post(URL, {"interval": {"hours": 1, "minutes": 30}, "count": 3}, format="json")
    after = timezone.now()

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["description"] == "Every 1 hour 30 minutes"
    times = [datetime.fromisoformat(t) for t in body["next_run_times"]]
    every = timedelta(hours=1, minutes=30)
    # Anchored as a job created now is: the next whole second, so the first slot is one interval on.
    assert before + every <= times[0] <= after + every + timedelta(seconds=1)
    assert times[0].microsecond == 0
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [every, every]


def test_the_default_count_is_five_and_twenty_is_the_most(api):
    assert len(api.post(URL, {"cron_expression": "@hourly"}, format="json").json()["next_run_times"]) == 5
    assert len(api.post(URL, {"cron_expression": "@hourly", "count": 20}, format="json").json()["next_run_times"]) == 20


def test_a_dst_gap_slot_fires_once_after_the_jump(api):
    # 02:30 does not exist in Paris on 2026-03-29; the preview says what the scheduler does.
    response = api.post(URL, {"cron_expression": "30 2 29 3 *", "timezone": "Europe/Paris", "count": 1}, format="json")

    first = datetime.fromisoformat(response.json()["next_run_times"][0])
    assert first == next(CronSim("30 2 29 3 *", timezone.now().astimezone(ZoneInfo("Europe/Paris"))))


def test_intervals_are_described_in_words(api):
    cases = {(0, 0, 10): "Every 10 seconds", (1, 0, 0): "Every 1 hour", (2, 1, 1): "Every 2 hours 1 minute 1 second"}
    for (hours, minutes, seconds), description in cases.items():
        body = {"interval": {"hours": hours, "minutes": minutes, "seconds": seconds}}
        assert api.post(URL, body, format="json").json()["description"] == description


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            {"cron_expression": "0 9"},
            "Invalid cron expression: 0 9. Expected 5 parts (minute hour day month day_of_week)",
        ),
        (
            {"cron_expression": "0 9 * * *", "timezone": "Mars/Base"},
            "Unknown timezone 'Mars/Base'; use an IANA name such as 'UTC' or 'Europe/Paris'",
        ),
        ({"interval": {"seconds": 5}}, "Interval is 5 seconds; the shortest allowed is 10 seconds"),
        ({"interval": {}}, "At least one of hours, minutes or seconds must be greater than 0"),
        ({}, "body: give exactly one of cron_expression or interval"),
        (
            {"cron_expression": "0 9 * * *", "interval": {"hours": 1}},
            "body: give exactly one of cron_expression or interval",
        ),
        ({"cron_expression": "@hourly", "count": 21}, "count: Ensure this value is less than or equal to 20."),
        ({"cron_expression": "@hourly", "count": 0}, "count: Ensure this value is greater than or equal to 1."),
        ({"cron_expression": "@hourly", "count": "5"}, "count: must be an integer."),
        ({"interval": {"hours": -1}}, "interval.hours: Ensure this value is greater than or equal to 0."),
    ],
)
def test_bad_input_is_refused_with_the_job_creation_texts(api, body, detail):
    before = db_snapshot()

    assert_refused(api.post(URL, body, format="json"), 400, detail)
    assert db_snapshot() == before


def test_it_needs_a_token(client_for):
    assert_refused(client_for().post(URL, {"cron_expression": "@hourly"}, format="json"), 401)


def test_it_saves_nothing(api):
    before = db_snapshot()

    api.post(URL, {"cron_expression": "@hourly"}, format="json")

    assert db_snapshot() == before
