"""The run filters select the same runs as the lists' SQL (``RunFilter.where``) and as a queryset
(``RunFilter.apply``, the admin's)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from cronjobs import schedules, services
from tests.conftest import ECHO_STEPS
from workflows.models import Run
from workflows.run_filters import RunFilter
from workflows.services import workflow_save

pytestmark = pytest.mark.django_db

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def runs(alice):
    tagged = workflow_save(owner=alice, workflow_id="tagged", name="", steps=ECHO_STEPS, tags=["adhoc", "video"])
    plain = workflow_save(owner=alice, workflow_id="plain", name="", steps=ECHO_STEPS)
    job = services.job_upsert(
        caller=alice,
        job_id="daily",
        workflow_id="plain",
        user_id=None,
        input_text="",
        spec=schedules.cron_spec(expression="0 9 * * *"),
        tags=["video", "daily"],
    )
    untagged_job = services.job_upsert(
        caller=alice,
        job_id="hourly",
        workflow_id="tagged",  # its runs have a job: the workflow's tags are not theirs
        user_id=None,
        input_text="",
        spec=schedules.interval_spec(hours=1),
    )
    made = []
    cases = [
        (job, plain, Run.Status.SUCCEEDED),
        (job, plain, Run.Status.FAILED),
        (untagged_job, tagged, Run.Status.QUEUED),
        (None, tagged, Run.Status.SUCCEEDED),
        (None, plain, Run.Status.CANCELLED),
    ]
    for index, (of_job, workflow, status) in enumerate(cases):
        run = Run.objects.create(job=of_job, workflow=workflow, owner=alice, trigger=Run.Trigger.MANUAL, status=status)
        Run.objects.filter(pk=run.pk).update(created_at=START + timedelta(hours=index))
        made.append(run.pk)
    return made


@pytest.mark.parametrize(
    ("run_filter", "selected"),
    [
        (RunFilter(), 5),
        (RunFilter(tags=("video",)), 3),  # the job's two, and the run of the tagged workflow without a job
        (RunFilter(tags=("adhoc",)), 1),
        (RunFilter(tags=("video", "daily")), 2),
        (RunFilter(tags=("nothing",)), 0),
        (RunFilter(statuses=(Run.Status.SUCCEEDED, Run.Status.QUEUED)), 3),
        (RunFilter(since=START + timedelta(hours=1)), 4),
        (RunFilter(until=START + timedelta(hours=3)), 3),
        (
            RunFilter(tags=("video",), statuses=(Run.Status.SUCCEEDED,), since=START, until=START + timedelta(hours=4)),
            2,
        ),
    ],
    ids=repr,
)
def test_the_lists_sql_and_the_queryset_select_the_same_runs(runs, run_filter, selected):
    conditions, params = run_filter.where("t0")
    table = connection.ops.quote_name(Run._meta.db_table)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t0.id FROM {table} t0{where}", params)
        by_sql = {Run._meta.pk.to_python(row[0]) for row in cursor.fetchall()}

    assert by_sql == set(run_filter.apply(Run.objects.all()).values_list("pk", flat=True))
    assert by_sql <= set(runs)
    assert len(by_sql) == selected
