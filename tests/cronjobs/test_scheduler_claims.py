"""The scheduler's claim: due slots become runs, next_fire_at moves on, in one transaction.

Time is pinned: each test hands the claim the "now" it is about. The real PostgreSQL decides what
is locked and what is due.
"""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from cronjobs import schedules, services
from cronjobs.claims import MISSED_ROWS_MAX
from cronjobs.models import CronJob
from tests.cronjobs.helpers import fire_due_jobs
from workflows.models import Run

pytestmark = pytest.mark.django_db


def schedule_runs(job: CronJob) -> list[Run]:
    return list(Run.objects.filter(job=job, trigger=Run.Trigger.SCHEDULE).order_by("scheduled_for"))


def test_it_records_a_queued_run_for_a_due_slot_and_moves_to_the_next(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30))
    slot = job.next_fire_at

    claimed, to_publish = fire_due_jobs(slot + timedelta(milliseconds=200))

    [run] = schedule_runs(job)
    assert (claimed, to_publish) == (1, [run.id])
    assert (run.status, run.scheduled_for, run.input_text) == (Run.Status.QUEUED, slot, job.input_text)
    job.refresh_from_db()
    assert job.next_fire_at == slot + timedelta(seconds=30)


def test_the_runs_of_a_slot_carry_the_jobs_tags(alice, workflow):
    job = services.job_upsert(
        caller=alice,
        job_id="tagged",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="",
        spec=schedules.interval_spec(seconds=10),
        tags=["video", "team:growth"],
    )
    untagged = services.job_upsert(
        caller=alice,
        job_id="untagged",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="",
        spec=schedules.interval_spec(seconds=10),
    )
    first = job.next_fire_at

    fire_due_jobs(max(first, untagged.next_fire_at) + timedelta(seconds=15))  # a missed slot and one to run

    runs = schedule_runs(job)
    assert [(run.status, run.tags) for run in runs] == [
        (Run.Status.SKIPPED, ["video", "team:growth"]),
        (Run.Status.QUEUED, ["video", "team:growth"]),
    ]
    assert {tuple(run.tags) for run in schedule_runs(untagged)} == {()}


def test_it_claims_nothing_before_the_slot(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30))

    assert fire_due_jobs(job.next_fire_at - timedelta(microseconds=1)) == (0, [])
    assert not Run.objects.exists()


def test_a_second_claim_of_the_same_moment_records_nothing_more(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30))
    now = job.next_fire_at + timedelta(seconds=1)

    fire_due_jobs(now)
    assert fire_due_jobs(now) == (0, [])
    assert len(schedule_runs(job)) == 1


def test_it_never_claims_a_paused_job(alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=30))
    slot = job.next_fire_at
    services.job_pause(user=alice, job_id=job.job_id)

    assert fire_due_jobs(slot + timedelta(hours=1)) == (0, [])
    job.refresh_from_db()
    assert job.next_fire_at is None


def test_it_fires_a_cron_slot_in_the_jobs_zone(workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="30 9 * * *", timezone_name="America/New_York"))
    slot = job.next_fire_at
    assert slot.astimezone(ZoneInfo(job.timezone)).strftime("%H:%M") == "09:30"

    fire_due_jobs(slot)

    [run] = schedule_runs(job)
    assert run.scheduled_for == slot
    job.refresh_from_db()
    assert job.next_fire_at - slot in (timedelta(hours=23), timedelta(hours=24), timedelta(hours=25))


# --- missed slots ----------------------------------------------------------------------------


def test_after_a_short_outage_the_newest_slot_runs_and_the_older_ones_are_recorded_missed(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))  # grace: the default 60 s
    first = job.next_fire_at

    fire_due_jobs(first + timedelta(seconds=35))  # beat was down for four slots

    runs = schedule_runs(job)
    assert [run.scheduled_for for run in runs] == [first + timedelta(seconds=10 * k) for k in range(4)]
    assert [(run.status, run.reason) for run in runs] == [(Run.Status.SKIPPED, Run.Reason.MISSED)] * 3 + [
        (Run.Status.QUEUED, "")
    ]
    assert all("Missed" in run.error and run.finished_at for run in runs[:3])
    job.refresh_from_db()
    assert job.next_fire_at == first + timedelta(seconds=40)


def test_a_slot_older_than_the_grace_period_is_not_run_late(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    CronJob.objects.filter(pk=job.pk).update(misfire_grace_seconds=5)
    first = job.next_fire_at

    _, to_publish = fire_due_jobs(first + timedelta(seconds=18))  # the newest slot is 8 s old

    assert to_publish == []
    runs = schedule_runs(job)
    assert [run.scheduled_for for run in runs] == [first, first + timedelta(seconds=10)]
    assert {(run.status, run.reason) for run in runs} == {(Run.Status.SKIPPED, Run.Reason.MISSED)}


def test_a_long_outage_records_a_bounded_number_of_missed_slots(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    first = job.next_fire_at
    now = first + timedelta(seconds=10 * 5000 + 3)

    fire_due_jobs(now)

    runs = schedule_runs(job)
    newest = first + timedelta(seconds=10 * 5000)
    assert len(runs) == MISSED_ROWS_MAX
    assert [run.scheduled_for for run in runs] == [
        newest - timedelta(seconds=10 * k) for k in reversed(range(MISSED_ROWS_MAX))
    ]
    assert runs[-1].status == Run.Status.QUEUED
    assert "not listed" in runs[0].error and first.isoformat() in runs[0].error
    job.refresh_from_db()
    assert job.next_fire_at == newest + timedelta(seconds=10)


def test_a_cron_job_catches_up_on_its_own_slots_in_its_zone(workflow, make_job):
    job = make_job(workflow, schedules.cron_spec(expression="*/5 * * * *", timezone_name="Asia/Kolkata"))
    first = job.next_fire_at

    fire_due_jobs(first + timedelta(minutes=30, seconds=1))

    runs = schedule_runs(job)
    assert [run.scheduled_for for run in runs] == [first + timedelta(minutes=5 * k) for k in range(7)]
    assert [run.status for run in runs].count(Run.Status.QUEUED) == 1


# --- overlap ---------------------------------------------------------------------------------


@pytest.mark.parametrize("previous", [Run.Status.QUEUED, Run.Status.RUNNING])
def test_a_slot_due_while_the_previous_run_is_unfinished_is_skipped_for_overlap(workflow, make_job, previous):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    first = job.next_fire_at
    fire_due_jobs(first)
    Run.objects.filter(job=job).update(status=previous)

    _, to_publish = fire_due_jobs(first + timedelta(seconds=10))

    assert to_publish == []
    second = schedule_runs(job)[1]
    assert (second.status, second.reason) == (Run.Status.SKIPPED, Run.Reason.OVERLAP)
    assert second.scheduled_for == first + timedelta(seconds=10)


def test_a_slot_runs_after_the_previous_run_finished(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    first = job.next_fire_at
    fire_due_jobs(first)
    Run.objects.filter(job=job).update(status=Run.Status.SUCCEEDED)

    _, to_publish = fire_due_jobs(first + timedelta(seconds=10))

    assert len(to_publish) == 1


def test_overlap_allow_runs_every_slot(workflow, alice):
    job = services.job_upsert(
        caller=alice,
        job_id="overlapping",
        workflow_id=workflow.workflow_id,
        user_id=None,
        input_text="",
        spec=schedules.interval_spec(seconds=10),
        overlap=CronJob.Overlap.ALLOW,
    )
    first = job.next_fire_at
    fire_due_jobs(first)
    Run.objects.filter(job=job).update(status=Run.Status.RUNNING)

    _, to_publish = fire_due_jobs(first + timedelta(seconds=10))

    assert len(to_publish) == 1


# --- resume ----------------------------------------------------------------------------------


def test_resume_does_not_replay_the_slots_missed_while_paused(alice, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=10))
    services.job_pause(user=alice, job_id=job.job_id)
    # As if created and paused an hour ago: 360 slots passed while it was paused.
    CronJob.objects.filter(pk=job.pk).update(anchor=job.anchor - timedelta(hours=1))

    before = timezone.now()
    resumed = services.job_resume(user=alice, job_id=job.job_id)

    # The first slot after the resume, on the job's grid.
    assert before < resumed.next_fire_at <= before + timedelta(seconds=10)
    assert (resumed.next_fire_at - (job.anchor - timedelta(hours=1))) % timedelta(seconds=10) == timedelta(0)
    assert fire_due_jobs(resumed.next_fire_at - timedelta(microseconds=1)) == (0, [])
    assert not Run.objects.exists()
