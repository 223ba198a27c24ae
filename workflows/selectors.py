"""Reads for workflows and runs, each scoped to what the asking user may see."""

import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet

from cronjobs.models import CronJob
from vingine.errors import Forbidden, NotFound
from vingine.pagination import Page
from vingine.rows import Joined

from .models import Run, Workflow
from .run_filters import RunFilter

RUN_RELATED = ("job", "workflow", "owner", "cancelled_by")  # what a run's answer shows
_runs = Joined(Run, RUN_RELATED)
_workflows = Joined(Workflow)


def _column(name: str) -> str:
    return connection.ops.quote_name(Run._meta.get_field(name).column)


def workflow_list(*, user: AbstractBaseUser) -> QuerySet[Workflow]:
    return Workflow.objects.filter(owner=user).select_related("owner").order_by("workflow_id")


def workflow_get_for(
    *, user: AbstractBaseUser, workflow_id: str, action: str = "access", lock: bool = False
) -> Workflow:
    """The workflow, if ``user`` may act on it (its owner or staff): 404 if missing, 403 if not theirs."""
    if "\x00" in workflow_id:
        # PostgreSQL refuses NUL in a query parameter; no id can contain one anyway.
        raise NotFound(f"Workflow {workflow_id} not found")
    workflows = Workflow.objects.select_related("owner")
    if lock:
        workflows = workflows.select_for_update(of=("self",))
    workflow = workflows.filter(workflow_id=workflow_id).first()
    if workflow is None:
        raise NotFound(f"Workflow {workflow_id} not found")
    if workflow.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this workflow")
    return workflow


def workflow_locked(workflow_id: str) -> Workflow | None:
    """The workflow with this id, if any, locked for the caller's transaction so that it cannot be
    deleted before it commits. NO KEY: the foreign-key checks of rows pointing at it (KEY SHARE, as
    the scheduler commits new runs) neither wait for the caller nor make it wait."""
    found = _workflows.fetch(
        f"SELECT {_workflows.columns} FROM {_workflows.tables}"
        f" WHERE t0.{connection.ops.quote_name(Workflow._meta.get_field('workflow_id').column)} = %s"
        f" {_workflows.lock('t0', no_key=True)}",
        [workflow_id],
    )
    return found[0] if found else None


def run_get_for(*, user: AbstractBaseUser, run_id: str, action: str = "access") -> Run:
    try:
        key = uuid.UUID(run_id)
    except ValueError:
        raise NotFound(f"Run {run_id} not found") from None
    found = _runs.fetch(
        f"SELECT {_runs.columns} FROM {_runs.tables} WHERE t0.{_column('id')} = %s",
        [Run._meta.pk.get_db_prep_value(key, connection)],
    )
    if not found:
        raise NotFound(f"Run {run_id} not found")
    run = found[0]
    if run.owner_id != user.pk and not user.is_staff:
        raise Forbidden(f"You don't have permission to {action} this run")
    return run


def runs_page_where(conditions: list[str], params: list, *, page: Page) -> tuple[list[Run], int]:
    """One page of the runs (``t0``) that meet every SQL condition, newest first, and how many do in all."""
    where = " AND ".join(conditions)
    shown = _runs.fetch(
        f"SELECT {_runs.columns} FROM {_runs.tables} WHERE {where}"
        f" ORDER BY t0.{_column('created_at')} DESC, t0.{_column('id')} DESC LIMIT %s OFFSET %s",
        [*params, page.limit, page.offset],
    )

    def count() -> int:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {connection.ops.quote_name(Run._meta.db_table)} t0 WHERE {where}", params
            )
            return cursor.fetchone()[0]

    return shown, page.total(shown, count)


def run_page(
    *, user: AbstractBaseUser, run_filter: RunFilter, page: Page, job_id: str | None = None
) -> tuple[list[Run], int]:
    """One page of the user's own runs (staff too: this is not the operators' view), newest first,
    and how many the filter lets through in all; only those of their job ``job_id`` if given."""
    conditions, params = [f"t0.{_column('owner')} = %s"], [user.pk]
    if job_id is not None:
        # By the job's key (its row found once), so the list reads down the (job, -created_at) index.
        quote, jobs = connection.ops.quote_name, CronJob._meta
        owner, key = quote(jobs.get_field("owner").column), quote(jobs.get_field("job_id").column)
        conditions.append(
            f"t0.{_column('job')} = (SELECT j.{quote(jobs.pk.column)} FROM {quote(jobs.db_table)} j"
            f" WHERE j.{owner} = %s AND j.{key} = %s)"
        )
        params += [user.pk, job_id]
    filtered, filter_params = run_filter.where("t0")
    return runs_page_where([*conditions, *filtered], [*params, *filter_params], page=page)
