"""The two statements a run's execution costs: the claim, which also reads what the run needs, and
the result, which also says whether the run's owner has runs held back by their concurrency limit;
and, when they have, the handover of held runs into the room the run leaves.

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
from vingine.sql import lock_keys_for_transaction, prepared_cursor

from .models import Run, RunLimit, SigningSecret, Workflow


@dataclass(frozen=True)
class Claimed:
    owner_id: int
    input_text: str
    trigger: str
    scheduled_for: datetime | None
    steps: list
    job_id: str | None  # the job's own id, as the API shows it
    job_pk: int | None
    # Whether the run's outcome is watched: its job pauses after failures or notifies someone.
    outcome_watched: bool
    signing_secret: str | None  # the owner's signing secret, encrypted (None: they have none yet)
    signing_previous: str | None  # the one before, encrypted, while it still signs


class _AnyAsText(json.JSONEncoder):
    """Step outputs are JSON already; anything else a python step returns is kept as its text."""

    def default(self, value: Any) -> str:
        return str(value)


_JSON = models.JSONField(encoder=_AnyAsText)


def _word(value: str) -> str:
    """One of our own enum values as an SQL literal. Written into the statements' text rather than
    sent as a value: a prepared statement's plan must see the value to use the partial indexes whose
    condition names it (wait_reason = 'concurrency_limit' in run_held)."""
    assert value.isidentifier(), value
    return f"'{value}'"


def _columns(model: type[models.Model]) -> dict[str, str]:
    return {field.name: connection.ops.quote_name(field.column) for field in model._meta.concrete_fields}


def _returned(expression: str, kind: str, vendor: str) -> str:
    """``expression`` as a prepared statement returns it: of a fixed type on PostgreSQL, so that a
    migration changing the column's type (a varchar's length) cannot fail the statement where it is
    already prepared ("cached plan must not change result type")."""
    return f"({expression})::{kind}" if vendor == "postgresql" else f"({expression})"


@functools.cache
def _claim_sql(vendor: str) -> str:
    run, workflow, job, secret = _columns(Run), _columns(Workflow), _columns(CronJob), _columns(SigningSecret)
    table, jobs = connection.ops.quote_name(Run._meta.db_table), connection.ops.quote_name(CronJob._meta.db_table)
    workflows = connection.ops.quote_name(Workflow._meta.db_table)
    secrets = connection.ops.quote_name(SigningSecret._meta.db_table)
    running, queued = _word(Run.Status.RUNNING), _word(Run.Status.QUEUED)
    of_job, of_owner = f"j.{job['id']} = {table}.{run['job']}", f"s.{secret['owner']} = {table}.{run['owner']}"
    returned = [
        (run["owner"], "bigint"),
        (run["input_text"], "text"),
        (run["trigger"], "text"),
        (run["scheduled_for"], "timestamptz"),
        (
            f"SELECT w.{workflow['steps']} FROM {workflows} AS w WHERE w.{workflow['id']} = {table}.{run['workflow']}",
            "jsonb",
        ),
        (f"SELECT j.{job['job_id']} FROM {jobs} AS j WHERE {of_job}", "text"),
        (run["job"], "bigint"),
        (
            f"SELECT j.{job['pause_after_failures']} > 0 OR j.{job['notify']} IS NOT NULL"
            f" FROM {jobs} AS j WHERE {of_job}",
            "boolean",
        ),
        (f"SELECT s.{secret['secret']} FROM {secrets} AS s WHERE {of_owner}", "text"),
        (
            f"SELECT s.{secret['previous']} FROM {secrets} AS s WHERE {of_owner} AND s.{secret['previous_until']} > %s",
            "text",
        ),
    ]
    return (
        f"UPDATE {table} SET {run['status']} = {running}, {run['started_at']} = %s, {run['worker']} = %s"
        f" WHERE {run['id']} = %s AND ({run['status']} = {queued}"
        f" OR ({run['status']} = {running} AND {run['started_at']} = %s AND {run['worker']} = %s))"
        f" RETURNING {', '.join(_returned(expression, kind, vendor) for expression, kind in returned)}"
    )


@functools.cache
def _finish_sql(vendor: str) -> str:
    run = _columns(Run)
    table = connection.ops.quote_name(Run._meta.db_table)
    assignments = ", ".join(
        f"{run[name]} = %s"
        for name in ("status", "reason", "error", "output", "output_truncated", "steps", "finished_at")
    )
    running, held = _word(Run.Status.RUNNING), _word(Run.WaitReason.CONCURRENCY_LIMIT)
    return (
        f"UPDATE {table} SET {assignments} WHERE {run['id']} = %s AND {run['status']} = {running}"
        f" RETURNING EXISTS (SELECT 1 FROM {table} AS held WHERE held.{run['owner']} = {table}.{run['owner']}"
        f" AND held.{run['wait_reason']} = {held})"
    )


def _id(run_id: uuid.UUID | str) -> Any:
    return Run._meta.pk.get_db_prep_value(run_id, connection)


def _time(value: datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


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
    params = [_time(started_at), worker, _id(run_id), _time(started_at), worker, _time(started_at)]
    with prepared_cursor() as cursor:
        cursor.execute(_claim_sql(connection.vendor), params)
        row = cursor.fetchone()
    if row is None:
        return None
    owner_id, input_text, trigger, scheduled_for, steps, job_id, job_pk, watched, secret, previous = row
    return Claimed(
        owner_id,
        input_text,
        trigger,
        _read_time(scheduled_for),
        _read_json(steps),
        job_id,
        job_pk,
        bool(watched),
        secret,
        previous,
    )


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
) -> bool | None:
    """Record the run's result if it is still running (the reaper may have ended it meanwhile):
    None if it was not; else whether its owner has runs held back by their concurrency limit."""
    params = [
        status,
        reason,
        error,
        _JSON.get_db_prep_save(output, connection),
        output_truncated,
        _JSON.get_db_prep_save(steps, connection),
        _time(finished_at),
        _id(run_id),
    ]
    with prepared_cursor() as cursor:
        cursor.execute(_finish_sql(connection.vendor), params)
        row = cursor.fetchone()
    return None if row is None else bool(row[0])


@functools.cache
def _room_sql(vendor: str) -> str:
    run, limit = _columns(Run), _columns(RunLimit)
    table, limits = connection.ops.quote_name(Run._meta.db_table), connection.ops.quote_name(RunLimit._meta.db_table)
    return (
        f"SELECT COALESCE((SELECT {limit['max_concurrent_runs']} FROM {limits}"
        f" WHERE {limit['owner']} = %s), %s) - (SELECT count(*) FROM {table} WHERE {run['owner']} = %s"
        f" AND {run['published_at']} IS NOT NULL AND {run['finished_at']} IS NULL)"
    )


@functools.cache
def _hand_over_sql(vendor: str) -> str:
    run = _columns(Run)
    table = connection.ops.quote_name(Run._meta.db_table)
    return (
        f"UPDATE {table} SET {run['published_at']} = %s, {run['wait_reason']} = '' WHERE {run['id']} IN"
        f" (SELECT {run['id']} FROM {table} WHERE {run['owner']} = %s"
        f" AND {run['wait_reason']} = {_word(Run.WaitReason.CONCURRENCY_LIMIT)}"
        f" AND ({run['scheduled_for']} IS NULL OR {run['scheduled_for']} <= %s)"
        f" ORDER BY {run['created_at']}, {run['id']} LIMIT %s) RETURNING {run['id']}"
    )


def room(owner_id: int, *, default_limit: int) -> int:
    """How many more runs of the owner their limit lets be handed over now (zero or less: none)."""
    with connection.cursor() as cursor:
        cursor.execute(_room_sql(connection.vendor), [owner_id, default_limit, owner_id])
        return cursor.fetchone()[0]


def hand_over_held(owner_id: int, *, default_limit: int, now: datetime) -> list[uuid.UUID]:
    """Mark the owner's oldest held runs handed over (those whose slot, if any, has come), as many as
    their limit has room for now; return their ids. Call inside a transaction: the owner's lock
    (which every dispatcher takes before it counts) is held until it ends, so the count stays true
    until the commit."""
    lock_keys_for_transaction([f"runs-of-user:{owner_id}"])
    free = room(owner_id, default_limit=default_limit)
    if free <= 0:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_hand_over_sql(connection.vendor), [_time(now), owner_id, _time(now), free])
        return [Run._meta.pk.to_python(row[0]) for row in cursor.fetchall()]
