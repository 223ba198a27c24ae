"""fire_job records the run of the slot that is due, and never a second run for the same slot."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim

from cronjobs import periodic_tasks, schedules, services
from workflows.models import Run


def test_it_records_the_interval_slot_the_fire_belongs_to(alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30), "fire-me")
    late = job.anchor + timedelta(seconds=30 * 4 + 7)  # fired 7 s into the 4th slot
    assert job.slot_at(late) == job.anchor + timedelta(seconds=120)
    assert job.slot_at(job.anchor + timedelta(seconds=60)) == job.anchor + timedelta(seconds=60)


def test_a_fire_before_the_first_interval_slot_belongs_to_no_slot(alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30), "fire-me")
    # What a beat still holding the replaced schedule would send just after the replace.
    assert job.slot_at(job.anchor + timedelta(seconds=3)) is None
    assert periodic_tasks.job_fire(job_id=job.job_id, now=job.anchor + timedelta(seconds=3)) is None
    assert not Run.objects.exists()


def test_a_cron_slot_before_the_schedule_began_belongs_to_no_slot(alice, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="*/5 * * * *"), "fire-me")
    earlier_slot = _a_five_minute_slot_after(job.anchor) - timedelta(minutes=15)
    assert earlier_slot < job.anchor
    assert job.slot_at(earlier_slot + timedelta(seconds=20)) is None


def test_it_records_the_cron_slot_in_the_jobs_time_zone(alice, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="30 9 * * *", timezone_name="America/New_York"), "fire-me")
    job.anchor = datetime(2026, 1, 1, tzinfo=UTC)  # as if created then
    # 2026-03-08 is the day New York moves to daylight time; 09:30 EDT is 13:30 UTC.
    fired = datetime(2026, 3, 8, 13, 30, 2, tzinfo=UTC)
    slot = job.slot_at(fired)
    assert slot == datetime(2026, 3, 8, 9, 30, tzinfo=ZoneInfo("America/New_York"))
    expected = next(CronSim("30 9 * * *", fired.astimezone(ZoneInfo("America/New_York")), reverse=True))
    assert slot == expected


def test_it_counts_a_fire_exactly_on_the_slot_as_that_slot(alice, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="*/5 * * * *"), "fire-me")
    job.anchor = datetime(2026, 1, 1, tzinfo=UTC)  # as if created then
    on_time = datetime(2026, 1, 1, 10, 5, tzinfo=UTC)
    assert job.slot_at(on_time) == on_time


def _a_five_minute_slot_after(moment: datetime) -> datetime:
    moment = moment.replace(second=0, microsecond=0)
    return moment + timedelta(minutes=10 - moment.minute % 5)


def test_a_second_fire_of_the_same_slot_records_no_second_run(alice, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="*/5 * * * *"), "fire-me")
    slot = _a_five_minute_slot_after(job.anchor)

    first = periodic_tasks.job_fire(job_id="fire-me", now=slot + timedelta(microseconds=300))
    again = periodic_tasks.job_fire(job_id="fire-me", now=slot + timedelta(minutes=1, seconds=59))

    assert first.scheduled_for == slot
    assert again is None
    assert Run.objects.filter(job__job_id="fire-me", trigger=Run.Trigger.SCHEDULE).count() == 1


def test_the_next_slot_gets_its_own_run(alice, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="*/5 * * * *"), "fire-me")
    slot = _a_five_minute_slot_after(job.anchor)

    periodic_tasks.job_fire(job_id="fire-me", now=slot)
    periodic_tasks.job_fire(job_id="fire-me", now=slot + timedelta(minutes=5))

    slots = Run.objects.filter(job__job_id="fire-me").order_by("scheduled_for").values_list("scheduled_for", flat=True)
    assert list(slots) == [slot, slot + timedelta(minutes=5)]


def test_it_does_not_fire_a_paused_job(alice, workflow, make_job):
    make_job(workflow, schedules.interval_spec(seconds=30), "fire-me")
    services.job_pause(user=alice, job_id="fire-me")
    assert periodic_tasks.job_fire(job_id="fire-me") is None
    assert not Run.objects.exists()


def test_a_fire_sent_before_the_schedule_was_replaced_records_nothing(alice, workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="* * * * *"), "fire-me")
    replaced = make_job(workflow, schedules.cron_spec(expression="0 9 * * *"), "fire-me")
    fired_for_the_old_schedule = replaced.anchor - timedelta(seconds=1)

    assert periodic_tasks.job_fire(job_id=job.job_id, now=fired_for_the_old_schedule) is None
    assert not Run.objects.exists()
