"""Operators' own periodic tasks (PeriodicTask rows that are not a job's) run under our beat as
django-celery-beat's DatabaseScheduler runs them. The cases follow django-celery-beat's own tests
of ModelEntry and DatabaseScheduler (t/unit/test_schedulers.py), on the real database and broker:
due and not due for each schedule type, start_time, expires, one-off, the send options,
last_run_at and total_run_count, edits seen on the next tick; and what is ours: job rows left out,
each due time claimed by one beat, a tick waking for the next task due."""

import base64
import json
import math
import threading
from datetime import datetime, timedelta

import pytest
import redis
from celery.schedules import crontab, schedule
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.clockedschedule import clocked
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.utils import NEVER_CHECK_TIMEOUT

from cronjobs import schedules
from cronjobs.beat import JobScheduler
from cronjobs.operator_tasks import OperatorEntry, claim_due_tasks, operator_tasks
from vingine.celery import app

pytestmark = pytest.mark.django_db

TASK = "vingine.tests.operator_task"
QUEUE = "operator-tests"


@pytest.fixture
def queue():
    """The Redis lists of QUEUE (one per priority step on the Redis transport), emptied around the test."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def clear():
        for key in client.keys(f"{QUEUE}*"):
            client.delete(key)

    clear()
    yield client
    clear()


def sent(client) -> list[dict]:
    """The messages sent to QUEUE: headers, properties and the decoded [args, kwargs, embed] body."""
    messages = []
    for key in client.keys(f"{QUEUE}*"):
        for raw in client.lrange(key, 0, -1):
            message = json.loads(raw)
            message["body"] = json.loads(base64.b64decode(message["body"]))
            messages.append(message)
    return messages


def make(schedule_row: dict, *, name: str = "cleanup", **fields) -> PeriodicTask:
    """An operator's task as the admin saves it (PeriodicTask.save: validated), sent to QUEUE."""
    fields = {"task": TASK, "queue": QUEUE, **schedule_row, **fields}
    task = PeriodicTask(name=name, **fields)
    task.save()
    return task


def every(seconds: int) -> dict:
    interval = IntervalSchedule.from_schedule(schedule(timedelta(seconds=seconds)))
    interval.save()
    return {"interval": interval}


def cron(**fields) -> dict:
    row = CrontabSchedule.from_schedule(crontab(**fields))
    row.save()
    return {"crontab": row}


def at(when: datetime) -> dict:
    return {"clocked": ClockedSchedule.objects.create(clocked_time=when), "one_off": True}


def ago(**delta) -> datetime:
    return timezone.now() - timedelta(**delta)


def look_and_send():
    """One beat's look at the operators' tasks, sending what it claimed, as the tick does."""
    look = claim_due_tasks(app)
    scheduler = JobScheduler(app=app)
    for entry in look.due:
        scheduler.apply_entry(entry, producer=scheduler.producer)
    return look


def test_a_due_interval_task_is_sent_with_its_arguments_and_options(queue):
    task = make(
        every(10),
        last_run_at=ago(seconds=11),
        args="[2, 2]",
        kwargs='{"callback": "foo"}',
        priority=1,
        headers='{"_schema_name": "foobar"}',
        expire_seconds=30,
    )

    look_and_send()

    [message] = sent(queue)
    assert message["headers"]["task"] == TASK
    assert message["body"][:2] == [[2, 2], {"callback": "foo"}]
    assert message["headers"]["_schema_name"] == "foobar"
    assert message["headers"]["periodic_task_name"] == "cleanup"
    assert message["headers"]["expires"] is not None  # expire_seconds from the send
    assert message["properties"]["priority"] == 1
    task.refresh_from_db()
    assert task.total_run_count == 1
    assert abs(task.last_run_at - timezone.now()) < timedelta(seconds=5)


def test_the_entry_carries_every_send_option(queue):
    task = make(every(10), exchange="foo", routing_key="cpu", priority=1, headers='{"_schema_name": "foobar"}')

    entry = OperatorEntry(task, app=app)

    assert entry.options == {
        "queue": QUEUE,
        "exchange": "foo",
        "routing_key": "cpu",
        "priority": 1,
        "headers": {"_schema_name": "foobar", "periodic_task_name": "cleanup"},
    }


def test_an_interval_task_is_not_sent_before_its_interval_has_passed(queue):
    make(every(10), last_run_at=ago(seconds=4))

    look = look_and_send()

    assert sent(queue) == []
    assert 5 <= look.next_in <= 6


def test_a_new_task_counts_its_first_interval_from_when_it_was_saved(queue):
    make(every(10))  # no last_run_at: DatabaseScheduler starts from date_changed

    look = look_and_send()

    assert sent(queue) == [] and 9 <= look.next_in <= 10


def test_it_runs_again_after_each_interval_counting_its_runs(queue):
    task = make(every(10), last_run_at=ago(seconds=11))
    look_and_send()
    look_and_send()  # the same moment: already sent
    assert len(sent(queue)) == 1

    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=ago(seconds=10))
    look_and_send()

    assert len(sent(queue)) == 2
    task.refresh_from_db()
    assert task.total_run_count == 2


def test_a_crontab_task_is_sent_when_its_minute_has_come(queue):
    make(cron(minute="*"), last_run_at=ago(minutes=2))

    look_and_send()

    assert len(sent(queue)) == 1


def test_a_crontab_task_is_not_sent_before_its_time(queue):
    later = timezone.now() + timedelta(hours=3)
    make(cron(minute=str(later.minute), hour=str(later.hour)), last_run_at=ago(seconds=1))

    look = look_and_send()

    assert sent(queue) == []
    assert look.next_in > 3600


def test_a_clocked_task_runs_once_at_its_time_then_disables_itself(queue):
    task = make(at(ago(seconds=1)))

    look_and_send()
    look_and_send()  # the next look finds it spent: it disables itself, as DatabaseScheduler's does
    look_and_send()

    assert len(sent(queue)) == 1
    task.refresh_from_db()
    assert (task.enabled, task.total_run_count, task.last_run_at) == (False, 0, None)


def test_a_clocked_task_waits_for_its_time(queue):
    make(at(timezone.now() + timedelta(minutes=2)))

    look = look_and_send()

    assert sent(queue) == []
    assert 110 <= look.next_in <= 120


def test_the_clocked_schedule_is_django_celery_beats_own():
    when = timezone.now() + timedelta(minutes=2)
    task = make(at(when))

    assert OperatorEntry(task, app=app).schedule == clocked(when)


def test_a_one_off_interval_task_runs_once(queue):
    task = make(every(10), one_off=True, last_run_at=ago(seconds=11))

    look_and_send()
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=ago(seconds=11))
    look_and_send()

    assert len(sent(queue)) == 1
    task.refresh_from_db()
    assert not task.enabled


def test_a_task_whose_start_time_is_ahead_waits_for_it(queue):
    tomorrow = timezone.now() + timedelta(days=1)
    make(every(10), start_time=tomorrow, last_run_at=ago(seconds=10))

    entry = OperatorEntry(operator_tasks().get(), app=app)
    is_due, delay = entry.is_due()

    assert not is_due
    assert delay == pytest.approx(math.ceil((tomorrow - timezone.now()).total_seconds()), abs=2)
    look_and_send()
    assert sent(queue) == []


def test_a_task_whose_start_time_has_come_is_sent(queue):
    make(every(10), start_time=timezone.now(), last_run_at=ago(seconds=10))

    look_and_send()

    assert len(sent(queue)) == 1


def test_a_task_never_run_with_a_start_time_runs_at_its_start(queue):
    make(every(3600), start_time=ago(seconds=1))  # no last_run_at: it runs at start_time, not an hour later

    look_and_send()

    assert len(sent(queue)) == 1


def test_an_expired_task_is_not_sent_and_disables_itself(queue):
    task = make(every(10), last_run_at=ago(seconds=11), expires=ago(seconds=1))

    look_and_send()

    assert sent(queue) == []
    task.refresh_from_db()
    assert not task.enabled and task.last_run_at is None


def test_a_task_before_its_expiry_is_sent_with_it(queue):
    expires = timezone.now() + timedelta(seconds=30)
    make(every(10), last_run_at=ago(seconds=11), expires=expires)

    look_and_send()

    [message] = sent(queue)
    assert datetime.fromisoformat(message["headers"]["expires"]) == expires


def test_a_disabled_task_is_not_sent(queue):
    make(every(1), last_run_at=ago(seconds=11), enabled=False)

    look = look_and_send()

    assert sent(queue) == [] and look.next_in is None


def test_an_edit_is_seen_on_the_next_look(queue):
    task = make(every(10), last_run_at=ago(seconds=11), args="[1]")
    look_and_send()

    task.refresh_from_db()
    task.args, task.last_run_at = "[2]", ago(seconds=11)
    task.save()
    look_and_send()
    task.enabled = False
    task.save()
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=ago(seconds=11))
    look_and_send()

    assert sorted(message["body"][0] for message in sent(queue)) == [[1], [2]]


def test_a_task_that_cannot_be_read_is_disabled_and_the_others_still_run(queue, caplog):
    broken = make(every(10), name="broken", last_run_at=ago(seconds=11))
    PeriodicTask.objects.filter(pk=broken.pk).update(args="not json")  # the admin would refuse it
    make(every(10), name="fine", last_run_at=ago(seconds=11))

    look_and_send()

    assert [message["headers"]["periodic_task_name"] for message in sent(queue)] == ["fine"]
    broken.refresh_from_db()
    assert not broken.enabled
    assert "periodic task broken disabled" in caplog.text


def test_job_rows_are_left_out_and_never_loaded(queue, broker, workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    PeriodicTask.objects.filter(pk=job.periodic_task_id).update(last_run_at=ago(hours=1))
    make(every(10), last_run_at=ago(seconds=4))

    with CaptureQueriesContext(connection) as queries:
        look = look_and_send()

    assert look.due == [] and broker.messages() == [] and sent(queue) == []
    assert len(queries) == 1  # nothing due: one read, whatever the number of jobs
    assert list(operator_tasks().values_list("name", flat=True)) == ["cleanup"]


def test_a_job_row_renamed_to_another_task_is_still_left_out(workflow, make_job):
    job = make_job(workflow, schedules.interval_spec(seconds=60))
    PeriodicTask.objects.filter(pk=job.periodic_task_id).update(task=TASK, last_run_at=ago(hours=1))

    assert not operator_tasks().exists()


def test_a_due_time_is_sent_by_one_beat_only(queue, broker):
    task = make(every(10), last_run_at=ago(seconds=11))
    first, second = JobScheduler(app=app), JobScheduler(app=app)

    first.tick()
    second.tick()

    assert len(sent(queue)) == 1
    task.refresh_from_db()
    assert task.total_run_count == 1


def test_the_tick_wakes_for_the_next_operator_task(queue, broker):
    make(every(10), last_run_at=ago(seconds=9.7))
    scheduler = JobScheduler(app=app)

    assert 0 < scheduler.tick() <= 0.3


def test_never_check_timeout_is_the_delay_of_a_spent_task():
    task = make(every(10), one_off=True, total_run_count=1)

    assert OperatorEntry(task, app=app).is_due() == (False, NEVER_CHECK_TIMEOUT)


def at_once(count: int, call) -> list:
    """``call()`` in ``count`` threads released together, each on its own connection; their results."""
    barrier = threading.Barrier(count)
    results = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_beats_claiming_at_the_same_moment_send_each_due_time_once(queue):
    task = make(every(10))
    for _ in range(5):
        PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=ago(seconds=11))

        claimed = at_once(4, lambda: len(claim_due_tasks(app).due))

        assert sorted(claimed) == [0, 0, 0, 1]
    task.refresh_from_db()
    assert task.total_run_count == 5
