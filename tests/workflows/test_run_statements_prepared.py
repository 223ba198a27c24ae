"""A run's two statements are parsed and planned once per database connection, not at every run,
and stay usable when a migration changes the type of a column they return."""

import psycopg
from django.conf import settings
from django.db import connection

from workflows.models import Run
from workflows.runs import run_execute


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements ORDER BY name")
        return [row[0] for row in cursor.fetchall()]


def queued_run(workflow) -> Run:
    return Run.objects.create(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text="x")


def test_the_claim_and_the_result_are_prepared_once_per_connection(db, workflow):
    run_execute(run_id=queued_run(workflow).id)
    first = prepared_statements()

    run_execute(run_id=queued_run(workflow).id)

    assert len(first) == 2, first
    assert all(statement.startswith('UPDATE "workflows_run"') for statement in first)
    assert prepared_statements() == first  # the second run prepared nothing new


def test_a_prepared_claim_still_runs_after_a_migration_widens_a_column_it_returns(transactional_db, workflow):
    run_execute(run_id=queued_run(workflow).id)  # the claim is prepared on this connection
    name = settings.DATABASES["default"]["NAME"]
    with psycopg.connect(dbname=name, **_server(), autocommit=True) as migration:
        migration.execute('ALTER TABLE "workflows_run" ALTER COLUMN "trigger" TYPE varchar(17)')
        try:
            run = queued_run(workflow)
            result = run_execute(run_id=run.id)
        finally:
            migration.execute('ALTER TABLE "workflows_run" ALTER COLUMN "trigger" TYPE varchar(16)')

    assert result is not None and result.succeeded
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED


def _server() -> dict:
    database = settings.DATABASES["default"]
    params = {"host": database["HOST"], "user": database["USER"], "password": database["PASSWORD"]}
    if database["PORT"]:
        params["port"] = database["PORT"]
    return {key: value for key, value in params.items() if value}
