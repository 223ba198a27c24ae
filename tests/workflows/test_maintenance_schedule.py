"""Beat sends the reaper and the history trim through CELERY_BEAT_SCHEDULE, whatever its scheduler."""

from django.conf import settings

from vingine.celery import app


def test_beat_schedules_the_reaper_and_the_trim_with_registered_tasks():
    app.loader.import_default_modules()
    tasks = {entry["task"]: entry["schedule"] for entry in app.conf.beat_schedule.values()}

    assert set(tasks) == {"workflows.tasks.reap_lost_runs", "workflows.tasks.trim_run_history"}
    assert set(tasks) <= set(app.tasks)
    # Often enough that a run whose worker died is not left running for long past its grace.
    assert tasks["workflows.tasks.reap_lost_runs"] <= settings.WORKER_LOST_AFTER_SECONDS


def test_the_broker_hands_a_message_out_again_only_after_the_longest_run():
    execute_run = app.tasks["workflows.tasks.execute_run"]
    visibility = app.conf.broker_transport_options["visibility_timeout"]

    assert execute_run.acks_late
    # A run whose pool process died is recorded as lost, never handed out to run a second time.
    assert not execute_run.reject_on_worker_lost
    assert execute_run.soft_time_limit == settings.WORKFLOW_RUN_TIME_LIMIT
    assert execute_run.soft_time_limit < execute_run.time_limit < visibility
