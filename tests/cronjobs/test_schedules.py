"""What a schedule means: cron semantics as crontab.guru shows them, and next_run_time pinned in time.

Expected times come from cronsim (cron in the job's own zone) and from anchor + k * interval,
never from the API's own output.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule

from cronjobs.models import CronJob

from .helpers import assert_cron_next_run, assert_refused, cron_next, db_snapshot, post_cron, post_interval

pytestmark = pytest.mark.django_db


@pytest.fixture
def make_cron_job(api, workflow):
    def make(expression: str, zone: str = "UTC") -> CronJob:
        response = post_cron(api, job_id="pinned", cron_expression=expression, timezone=zone)
        assert response.status_code == 200, response.json()
        return CronJob.objects.select_related("periodic_task__crontab").get(job_id="pinned")

    return make


MINUTE = timedelta(minutes=1)


def crontab_fields(job: CronJob) -> tuple[str, str, str, str, str]:
    c = CrontabSchedule.objects.get(pk=job.periodic_task.crontab_id)
    return (c.minute, c.hour, c.day_of_month, c.month_of_year, c.day_of_week)


# --- cron semantics --------------------------------------------------------------------------

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


@pytest.mark.parametrize(("macro", "expansion"), sorted(MACROS.items()))
def test_it_accepts_a_macro_as_its_standard_expansion(api, workflow, macro, expansion):
    before = timezone.now()
    response = post_cron(api, cron_expression=macro)
    after = timezone.now()

    assert response.status_code == 200, response.json()
    job = response.json()["job"]
    assert job["schedule"] == macro
    minute, hour, day, month, dow = expansion.split()
    assert (
        job["trigger"] == f"cron[month='{month}', day='{day}', day_of_week='{dow}', hour='{hour}', minute='{minute}']"
    )
    assert_cron_next_run(job["next_run_time"], expansion, "UTC", before, after)
    stored = crontab_fields(CronJob.objects.get(job_id="daily-video-generation"))
    assert stored == (minute, hour, day, month, dow)


def test_it_accepts_a_macro_in_capitals(make_cron_job):
    job = make_cron_job("@DAILY")

    assert crontab_fields(job) == ("0", "0", "*", "*", "*")
    assert job.schedule == "@DAILY"


def test_it_reads_day_names(make_cron_job):
    job = make_cron_job("0 9 * * mon")

    next_run = job.next_run_time()
    assert next_run.weekday() == 0  # Monday
    assert (next_run.hour, next_run.minute) == (9, 0)
    assert next_run == cron_next("0 9 * * 1", "UTC", timezone.now())


def test_it_reads_month_names_in_any_case(make_cron_job):
    job = make_cron_job("0 9 1 JAN *")

    next_run = job.next_run_time()
    assert (next_run.month, next_run.day, next_run.hour) == (1, 1, 9)
    assert next_run == cron_next("0 9 1 1 *", "UTC", timezone.now())


def test_it_reads_a_range_of_day_names(make_cron_job):
    job = make_cron_job("0 9 * * mon-fri")
    saturday = datetime(2025, 12, 20, 10, 0, tzinfo=UTC)

    assert job.next_fire_after(saturday) == datetime(2025, 12, 22, 9, 0, tzinfo=UTC)


def test_it_reads_7_as_sunday(make_cron_job):
    job = make_cron_job("0 9 * * 7")

    assert crontab_fields(job)[4] == "0"  # celery's crontab knows Sunday only as 0
    next_run = job.next_run_time()
    assert next_run.weekday() == 6  # Sunday
    assert next_run == cron_next("0 9 * * 0", "UTC", timezone.now())


def test_it_reads_a_range_ending_in_7_as_ending_on_sunday(make_cron_job):
    job = make_cron_job("0 9 * * 6-7")
    monday = datetime(2025, 12, 22, 10, 0, tzinfo=UTC)

    assert job.next_fire_after(monday) == datetime(2025, 12, 27, 9, 0, tzinfo=UTC)  # Saturday
    assert job.next_fire_after(datetime(2025, 12, 27, 10, 0, tzinfo=UTC)) == datetime(2025, 12, 28, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("0 9 * * * *", "Expected 5 parts"),
        ("0 9", "Expected 5 parts"),
        ("0 0 L * *", "'l'"),
        ("0 0 ? * *", "'?'"),
        ("0 9 * * 1#2", "'1#2'"),
        ("0 9 * * monday", "'monday'"),
        ("0 9 mon * *", "'mon'"),
        ("1,,2 * * * *", "minute"),
        ("@reboot", "macro"),
        ("60 * * * *", "minute"),
        ("*/0 * * * *", "minute"),
        ("0 24 * * *", "hour"),
        ("0 0 32 * *", "day-of-month"),
        ("0 0 0 * *", "day-of-month"),
        ("0 0 * 13 *", "month"),
        ("0 0 * * 8", "day-of-week"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4,6 *", "never fires"),
    ],
)
def test_it_refuses_an_expression_with_a_detail_naming_the_problem(api, workflow, expression, named):
    before = db_snapshot()

    response = post_cron(api, cron_expression=expression)

    assert_refused(response, 400)
    detail = response.json()["detail"]
    assert detail.startswith(f"Invalid cron expression: {expression}. ")
    # The reason itself names the problem; a generic hint after it does not count.
    reason = detail.removeprefix(f"Invalid cron expression: {expression}. ").split(" (")[0]
    assert named in reason, detail
    assert db_snapshot() == before


@pytest.mark.parametrize("expression", ["60 * * * *", "0 24 * * *", "0 0 * 13 *", "0 0 * * 8"])
def test_it_does_not_call_an_out_of_range_value_a_never_firing_day(api, workflow, expression):
    response = post_cron(api, cron_expression=expression)

    assert_refused(response, 400)
    assert "never fires" not in response.json()["detail"]


def test_it_fires_on_either_the_day_of_month_or_the_day_of_week_when_both_are_restricted(make_cron_job):
    # Cron (and crontab.guru) ORs the two fields: "0 0 1 * 1" fires on the 1st and on every Monday.
    job = make_cron_job("0 0 1 * 1")
    fires, after = [], datetime(2025, 12, 1, tzinfo=UTC)  # a Monday the 1st, so after it:
    for _ in range(6):
        after = job.next_fire_after(after)
        fires.append(after.date().isoformat())

    assert fires == ["2025-12-08", "2025-12-15", "2025-12-22", "2025-12-29", "2026-01-01", "2026-01-05"]


# --- next_run_time, pinned -------------------------------------------------------------------


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "zone", "now"),
    [
        ("0 9 * * *", "UTC", utc(2025, 12, 21, 12, 0)),
        ("0 9 * * *", "UTC", utc(2025, 12, 22, 8, 59, 59, 999999)),
        ("0 9 * * *", "UTC", utc(2025, 12, 22, 9, 0)),  # at the slot itself: the following one
        ("0 9,18 * * *", "UTC", utc(2025, 12, 22, 9, 0, 1)),
        ("*/15 * * * *", "UTC", utc(2025, 12, 22, 9, 14, 59)),
        ("0 0 1 * *", "UTC", utc(2025, 12, 31, 23, 59)),
        ("0 0 31 * *", "UTC", utc(2025, 4, 1)),  # skips the 30-day months
        ("0 0 29 2 *", "UTC", utc(2025, 3, 1)),  # next leap year
        ("0 0 29 2 *", "UTC", utc(2097, 3, 1)),  # 2100 is not a leap year
        ("0 9 * * 1-5", "UTC", utc(2025, 12, 19, 9, 30)),  # Friday after the run: Monday
        ("0 9 * jan mon", "UTC", utc(2025, 12, 21)),
        ("0 9 * * *", "Asia/Kolkata", utc(2025, 12, 21, 12, 0)),
        ("0 */6 * * *", "Asia/Kolkata", utc(2025, 3, 9, 6, 50)),
        ("0 12 * * *", "Pacific/Kiritimati", utc(2025, 12, 21)),
        ("0 0 1 * *", "Australia/Lord_Howe", utc(2025, 3, 9, 6, 50)),
        ("0 9 * * *", "America/New_York", utc(2025, 3, 8, 15, 0)),  # across the spring change
        ("0 9 * * *", "Europe/Paris", utc(2025, 10, 25, 12, 0)),  # across the autumn change
    ],
)
def test_it_computes_the_next_cron_run_in_the_jobs_zone(make_cron_job, expression, zone, now):
    job = make_cron_job(expression, zone)

    next_run = job.next_fire_after(now)

    expected = cron_next(expression, zone, now)
    assert next_run == expected
    assert next_run.utcoffset() == expected.utcoffset()  # shown with the zone's offset at that time


@pytest.mark.parametrize(
    ("expression", "zone", "now"),
    [
        # New York repeats 01:00-02:00 on 2025-11-02; a 01:30 job runs once, at the first 01:30.
        ("30 1 * * *", "America/New_York", utc(2025, 11, 2, 4, 0)),
        ("30 1 * * *", "America/New_York", utc(2025, 11, 2, 5, 40)),
        # Paris repeats 02:00-03:00 on 2025-10-26.
        ("30 2 * * *", "Europe/Paris", utc(2025, 10, 25, 23, 0)),
        ("30 2 * * *", "Europe/Paris", utc(2025, 10, 26, 0, 45)),
    ],
)
def test_it_runs_once_in_a_repeated_hour(make_cron_job, expression, zone, now):
    job = make_cron_job(expression, zone)

    assert job.next_fire_after(now) == cron_next(expression, zone, now)


def test_it_does_not_skip_a_run_in_the_hour_skipped_by_daylight_saving(make_cron_job):
    # New York has no 02:00-03:00 on 2025-03-09: the 02:00 run happens as the clocks jump (07:00 UTC).
    job = make_cron_job("0 2 * * *", "America/New_York")
    now = utc(2025, 3, 9, 5, 0)  # 00:00 in New York

    # Compared in UTC: datetimes sharing one zone compare by wall clock, and 02:00 does not exist there.
    next_run = job.next_fire_after(now).astimezone(UTC)
    assert next_run == cron_next("0 2 * * *", "America/New_York", now).astimezone(UTC) == utc(2025, 3, 9, 7, 0)


def test_it_runs_a_fixed_time_skipped_by_a_change_off_the_hour_when_the_clocks_jump(make_cron_job):
    # Chatham's clocks jump from 02:45 to 03:45 on 2025-09-28 (UTC+12:45 to +13:45): 03:00 does not
    # exist that day, and the run happens at 03:45, the first real minute after it (14:00 UTC).
    job = make_cron_job("0 3 * * *", "Pacific/Chatham")
    now = utc(2025, 9, 27, 12, 0)  # 00:45 in Chatham

    assert job.next_fire_after(now).astimezone(UTC) == utc(2025, 9, 27, 14, 0)


@pytest.mark.parametrize(
    ("expression", "zone", "now", "first"),
    [
        # Santiago's clocks jump from 00:00 to 01:00 on 2025-09-07: 01:00 is that day's first hour.
        ("* 1 */2 * *", "America/Santiago", utc(2025, 9, 7, 2, 0), utc(2025, 9, 7, 4, 0)),
        # Chatham's jump from 02:45 to 03:45 leaves the minutes 03:45-03:59 of hour 3.
        ("* 3 * * *", "Pacific/Chatham", utc(2025, 9, 27, 13, 0), utc(2025, 9, 27, 14, 0)),
    ],
)
def test_it_runs_the_first_real_hour_after_the_clocks_jump(make_cron_job, expression, zone, now, first):
    job = make_cron_job(expression, zone)

    times = job.fire_times(now)

    assert [next(times).astimezone(UTC) for _ in range(3)] == [first, first + MINUTE, first + 2 * MINUTE]


def test_it_does_not_skip_a_half_hour_run_in_the_skipped_hour(make_cron_job):
    # Paris has no 02:00-03:00 on 2025-03-30; the 02:30 run still happens that day, after the jump.
    job = make_cron_job("30 2 * * *", "Europe/Paris")
    now = utc(2025, 3, 29, 23, 0)  # 00:00 in Paris

    next_run = job.next_fire_after(now)

    jump, next_midnight = utc(2025, 3, 30, 1, 0), utc(2025, 3, 30, 22, 0)
    assert jump <= next_run < next_midnight


def test_it_computes_the_next_interval_run_on_the_anchor_grid(api, workflow):
    post_interval(api, hours=1, minutes=30)
    job = CronJob.objects.select_related("periodic_task").get(job_id="hourly-video-check")
    every = timedelta(hours=1, minutes=30)
    anchor = job.anchor

    assert job.next_fire_after(anchor + timedelta(seconds=1)) == anchor + every
    assert job.next_fire_after(anchor + every * 2.5) == anchor + every * 3
    assert job.next_fire_after(anchor + every * 3) == anchor + every * 4  # at a slot: the following one
    assert job.next_fire_after(anchor + every * 1000 + timedelta(seconds=1)) == anchor + every * 1001


def test_it_shows_an_interval_run_in_the_jobs_zone(api, workflow):
    post_interval(api, timezone="America/New_York")
    job = CronJob.objects.select_related("periodic_task").get(job_id="hourly-video-check")

    next_run = job.next_fire_after(job.anchor)

    assert next_run == job.anchor + timedelta(hours=1, minutes=30)
    assert next_run.utcoffset() == next_run.astimezone(ZoneInfo("America/New_York")).utcoffset()
    assert next_run.tzinfo is not None and str(next_run.tzinfo) == "America/New_York"


def test_it_has_no_next_run_while_paused(api, cron_job):
    api.post("/api/cron/jobs/daily-video-generation/pause")
    cron_job.refresh_from_db()

    assert cron_job.next_run_time() is None
