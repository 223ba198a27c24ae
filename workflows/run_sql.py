"""The two statements a run's execution costs: the claim, which also reads what the run needs, and
the result, which also says whether the run's owner has runs held back by their concurrency limit.

Plain SQL that PostgreSQL and SQLite (3.35 and later) both run, through Django's connection:
Django has no UPDATE ... RETURNING, and an ORM update followed by a SELECT costs a round trip and
most of a millisecond of Python more per run. Values go in through the model fields' own
``get_db_prep_*`` and come out as the fields would read them, so both databases see what the ORM
would have written.
"""

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models
from django.utils.dateparse import parse_datetime

from cronjobs.models import CronJob

from .models import Run, Workflow


@dataclass(frozen=True)
class Claimed:
    owner_id: int
    input_text: str
    trigger: str
    scheduled_for: datetime | None
    steps: list
    job_id: str | None


class _AnyAsText(json.JSONEncoder):
    """Step outputs are JSON already; anything else a python step returns is kept as its text."""

    def default(self, value: Any) -> str:
        return str(value)


_JSON = models.JSONField(encoder=_AnyAsText)


def _columns(model: type[models.Model]) -> dict[str, str]:
    return {field.name: connection.ops.quote_name(field.column) for field in model._meta.concrete_fields}


@functools.cache
def _claim_sql(vendor: str) -> str:
    run, workflow, job = _columns(Run), _columns(Workflow), _columns(CronJob)
    table = connection.ops.quote_name(Run._meta.db_table)
    return (
        f"UPDATE {table} SET {run['status']} = %s, {run['started_at']} = %s, {run['worker']} = %s"
        f" WHERE {run['id']} = %s AND ({run['status']} = %s"
        f" OR ({run['status']} = %s AND {run['started_at']} = %s AND {run['worker']} = %s))"
        f" RETURNING {run['owner']}, {run['input_text']}, {run['trigger']}, {run['scheduled_for']},"
        f" (SELECT w.{workflow['steps']} FROM {connection.ops.quote_name(Workflow._meta.db_table)} AS w"
        f" WHERE w.{workflow['id']} = {table}.{run['workflow']}),"
        f" (SELECT j.{job['job_id']} FROM {connection.ops.quote_name(CronJob._meta.db_table)} AS j"
        f" WHERE j.{job['id']} = {table}.{run['job']})"
    )


@functools.cache
def _finish_sql(vendor: str) -> str:
    run = _columns(Run)
    table = connection.ops.quote_name(Run._meta.db_table)
    assignments = ", ".join(
        f"{run[name]} = %s"
        for name in ("status", "reason", "error", "output", "output_truncated", "steps", "finished_at")
    )
    return (
        f"UPDATE {table} SET {assignments} WHERE {run['id']} = %s AND {run['status']} = %s"
        f" RETURNING EXISTS (SELECT 1 FROM {table} AS held WHERE held.{run['owner']} = {table}.{run['owner']}"
        f" AND held.{run['status']} = %s AND held.{run['published_at']} IS NULL AND held.{run['wait_reason']} = %s)"
    )


def _id(run_id: uuid.UUID | str) -> Any:
    return Run._meta.pk.get_db_prep_value(run_id, connection)


def _time(value: datetime | None) -> Any:
    return Run._meta.get_field("started_at").get_db_prep_value(value, connection)


def _read_time(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # SQLite keeps times as text, in UTC
        value = parse_datetime(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _read_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def claim(run_id: uuid.UUID | str, *, started_at: datetime, worker: str) -> Claimed | None:
    """Mark the run running, if it is still queued, and return what running it needs; None if it
    is not there to claim.

    An earlier try of this very claim counts as ours (the same start time and worker): its commit
    may have gone through although the database went away before saying so.
    """
    running, queued = Run.Status.RUNNING, Run.Status.QUEUED
    params = [running, _time(started_at), worker, _id(run_id), queued, running, _time(started_at), worker]
    with connection.cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    owner_id, input_text, trigger, scheduled_for, steps, job_id = row
    return Claimed(owner_id, input_text, trigger, _read_time(scheduled_for), _read_json(steps), job_id)


def finish(
    run_id: uuid.UUID | str,
    *,
    status: str,
    reason: str,
    error: str,
    output: Any,
    output_truncated: bool,
    steps: list,
    finished_at: datetime,
) -> bool:
    """Record the run's result if it is still running (the reaper may have ended it meanwhile);
    return whether its owner has runs held back by their concurrency limit."""
    params = [
        status,
        reason,
        error,
        _JSON.get_db_prep_save(output, connection),
        output_truncated,
        _JSON.get_db_prep_save(steps, connection),
        _time(finished_at),
        _id(run_id),
        Run.Status.RUNNING,
        Run.Status.QUEUED,
        Run.WaitReason.CONCURRENCY_LIMIT,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_finish_sql(connection.vendor), params)
        row = cursor.fetchone()
    return bool(row and row[0])
