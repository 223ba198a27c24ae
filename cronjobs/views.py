from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from vingine.filters import tags_from
from vingine.output import success
from vingine.pagination import page_from
from vingine.schema import error_responses, page_parameters, tag_parameter
from workflows import idempotency
from workflows.run_filters import RunFilter
from workflows.serializers import JobRunList, RunsCancelled

from . import examples, schedules, selectors, services
from .serializers import (
    AllJobList,
    BackfillInput,
    CronJobInput,
    IntervalJobInput,
    JobBackfilled,
    JobDone,
    JobHistory,
    JobList,
    JobNotificationList,
    JobOne,
    JobSaved,
    JobTriggered,
    Preview,
    PreviewInput,
)

ALL_JOBS_FORBIDDEN = "Only operators (staff users) can list all jobs"
JOB_TAG_PARAMETER = tag_parameter(description="Only jobs with this tag; repeated (tag=a&tag=b), every tag given.")


class StaffOnly(IsAdminUser):
    message = ALL_JOBS_FORBIDDEN


def _job_action(verb: str, ok, *, description: str, queue: bool = False):
    """The schema of POST /jobs/{job_id}/<verb> and DELETE /jobs/{job_id}: the spec's texts. An
    action that queues a run takes an Idempotency-Key."""
    # An action that queues a run also refuses a malformed Idempotency-Key (400).
    statuses = (400, 401, 403, 404, 409, 503) if queue else (401, 403, 404)
    return extend_schema(
        tags=["jobs"],
        operation_id=f"jobs_{verb}",
        request=None,
        parameters=[idempotency.PARAMETER] if queue else None,
        description=description,
        responses={200: ok, **error_responses(*statuses, examples=examples.job_errors(verb))},
        examples=[examples.done(verb)],
    )


class CronJobViewSet(viewsets.ViewSet):
    def get_permissions(self):
        if self.action == "list_all":
            return [IsAuthenticated(), StaffOnly()]
        return super().get_permissions()

    # Not named "list": drf-spectacular documents a "list" action as answering a bare array.
    @extend_schema(
        tags=["jobs"],
        summary="List the caller's jobs",
        operation_id="jobs_list",
        parameters=[
            JOB_TAG_PARAMETER,
            *page_parameters(default=settings.LIST_PAGE_MAX, maximum=settings.LIST_PAGE_MAX),
        ],
        responses={200: JobList, **error_responses(400, 401)},
        examples=[examples.JOB_LIST],
    )
    def list_mine(self, request: Request) -> Response:
        page = page_from(request, default=settings.LIST_PAGE_MAX, maximum=settings.LIST_PAGE_MAX)
        shown, total = selectors.job_page(user=request.user, tags=tags_from(request), page=page)
        return success(JobList, user_id=request.user.username, total_jobs=total, jobs=shown)

    @extend_schema(
        tags=["jobs"],
        summary="List every job (operators only)",
        operation_id="jobs_list_all",
        parameters=[
            JOB_TAG_PARAMETER,
            *page_parameters(default=settings.ALL_JOBS_PAGE_DEFAULT, maximum=settings.LIST_PAGE_MAX),
        ],
        responses={
            200: AllJobList,
            **error_responses(400, 401, 403, examples={403: [("Not an operator", ALL_JOBS_FORBIDDEN)]}),
        },
    )
    def list_all(self, request: Request) -> Response:
        page = page_from(request, default=settings.ALL_JOBS_PAGE_DEFAULT, maximum=settings.LIST_PAGE_MAX)
        shown, total = selectors.job_page(tags=tags_from(request), page=page)
        return success(AllJobList, total_jobs=total, jobs=shown)

    @extend_schema(
        tags=["jobs"],
        summary="Create or replace a cron job",
        operation_id="jobs_create_cron",
        request=CronJobInput,
        responses={200: JobSaved, **error_responses(400, 401, 403, 404, 409, examples=examples.CREATE_ERRORS)},
        examples=[examples.CRON_REQUEST, examples.TAGGED_REQUEST, examples.CRON_CREATED],
    )
    def create_cron(self, request: Request) -> Response:
        body = CronJobInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        spec = schedules.cron_spec(expression=data["cron_expression"], timezone_name=data["timezone"])
        job = self._upsert(request, data, spec)
        return success(JobSaved, message=f"Cron job {job.job_id} created successfully", job=job)

    @extend_schema(
        tags=["jobs"],
        summary="Create or replace an interval job",
        operation_id="jobs_create_interval",
        request=IntervalJobInput,
        responses={200: JobSaved, **error_responses(400, 401, 403, 404, 409, examples=examples.CREATE_ERRORS)},
        examples=[examples.INTERVAL_REQUEST, examples.INTERVAL_CREATED],
    )
    def create_interval(self, request: Request) -> Response:
        body = IntervalJobInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        spec = schedules.interval_spec(
            hours=data["hours"], minutes=data["minutes"], seconds=data["seconds"], timezone_name=data["timezone"]
        )
        job = self._upsert(request, data, spec)
        return success(JobSaved, message=f"Interval job {job.job_id} created successfully", job=job)

    def _upsert(self, request: Request, data: dict, spec: schedules.ScheduleSpec):
        return services.job_upsert(
            caller=request.user,
            job_id=data["job_id"],
            workflow_id=data["workflow_id"],
            user_id=data.get("user_id"),
            input_text=data["input"],
            spec=spec,
            misfire_grace_seconds=data["misfire_grace_seconds"],
            overlap=data["overlap"],
            pause_after_failures=data["pause_after_failures"],
            tags=data["tags"],
            metadata=data["metadata"],
            notify=data["notify"],
        )

    @extend_schema(
        tags=["jobs"],
        summary="Preview a schedule: its next fire times and a description",
        operation_id="schedule_preview",
        description="Nothing is saved. The times come from the evaluator the scheduler uses; an interval "
        "is anchored at now, as a job created now would be.",
        request=PreviewInput,
        responses={200: Preview, **error_responses(400, 401, examples=examples.PREVIEW_ERRORS)},
        examples=[examples.PREVIEW_REQUEST, examples.PREVIEW_INTERVAL_REQUEST, examples.PREVIEW],
    )
    def preview(self, request: Request) -> Response:
        body = PreviewInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        if "cron_expression" in data:
            spec = schedules.cron_spec(expression=data["cron_expression"], timezone_name=data["timezone"])
        else:
            spec = schedules.interval_spec(**data["interval"], timezone_name=data["timezone"])
        return success(
            Preview,
            timezone=spec.timezone,
            next_run_times=spec.preview(count=data["count"], now=timezone.now()),
            description=spec.description,
        )

    @extend_schema(
        tags=["jobs"],
        summary="Get one job",
        operation_id="jobs_get",
        responses={200: JobOne, **error_responses(401, 403, 404, examples=examples.job_errors("access"))},
        examples=[examples.JOB_ONE],
    )
    def retrieve(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get_for(user=request.user, job_id=job_id)
        return success(JobOne, job=job)

    @_job_action("delete", JobDone, description="Deletes the job and its run history.")
    def destroy(self, request: Request, job_id: str) -> Response:
        services.job_delete(user=request.user, job_id=job_id)
        return success(JobDone, message=f"Job {job_id} deleted successfully", job_id=job_id)

    @_job_action("trigger", JobTriggered, description="Runs the job's workflow now, outside its schedule.", queue=True)
    @idempotency.idempotent
    def trigger(self, request: Request, job_id: str) -> Response:
        run = services.job_trigger(user=request.user, job_id=job_id)
        return success(JobTriggered, message=f"Job {job_id} triggered successfully", job_id=job_id, run_id=run.id)

    @_job_action("pause", JobDone, description="Stops firing; next_run_time becomes null.")
    def pause(self, request: Request, job_id: str) -> Response:
        services.job_pause(user=request.user, job_id=job_id)
        return success(JobDone, message=f"Job {job_id} paused successfully", job_id=job_id)

    @_job_action(
        "resume",
        JobDone,
        description="Fires again from the next slot; missed slots are not replayed (backfill runs them). "
        "Clears pause_reason.",
    )
    def resume(self, request: Request, job_id: str) -> Response:
        services.job_resume(user=request.user, job_id=job_id)
        return success(JobDone, message=f"Job {job_id} resumed successfully", job_id=job_id)

    @extend_schema(
        tags=["runs"],
        summary="The job's runs, newest first",
        operation_id="jobs_runs",
        parameters=[
            *RunFilter.parameters(),
            *page_parameters(default=settings.RUNS_PAGE_DEFAULT, maximum=settings.RUNS_PAGE_MAX),
        ],
        responses={200: JobRunList, **error_responses(400, 401, 403, 404, examples=examples.job_errors("access"))},
    )
    def runs(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get_for(user=request.user, job_id=job_id, last_run=False)
        page = page_from(request, default=settings.RUNS_PAGE_DEFAULT, maximum=settings.RUNS_PAGE_MAX)
        runs, total = selectors.run_page_for_job(job=job, page=page, run_filter=RunFilter.from_request(request))
        return success(JobRunList, job_id=job.job_id, total_runs=total, runs=runs)

    @extend_schema(
        tags=["jobs"],
        summary="The job's history: every change to it, newest first",
        operation_id="jobs_history",
        description="Who changed the job, when, through what (api, admin, or the system itself), and what "
        "changed: created, replaced, paused, resumed, triggered, backfilled, runs_cancelled, "
        "paused_after_failures.",
        parameters=page_parameters(default=settings.HISTORY_PAGE_DEFAULT, maximum=settings.HISTORY_PAGE_MAX),
        responses={200: JobHistory, **error_responses(400, 401, 403, 404, examples=examples.job_errors("access"))},
        examples=[examples.JOB_HISTORY],
    )
    def history(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get_for(user=request.user, job_id=job_id, last_run=False)
        page = page_from(request, default=settings.HISTORY_PAGE_DEFAULT, maximum=settings.HISTORY_PAGE_MAX)
        events, total = selectors.history_page_for_job(job=job, page=page)
        return success(JobHistory, job_id=job.job_id, total_events=total, events=events)

    @extend_schema(
        tags=["runs"],
        summary="Run the job's past slots in a time range",
        operation_id="jobs_backfill",
        request=BackfillInput,
        parameters=[idempotency.PARAMETER],
        description="One run (trigger backfill) per slot of the job's schedule from start to end, both included, "
        "evaluated in the job's zone; a slot that already has a run (other than a skipped one) is left out. "
        "The runs wait their turn and run oldest first: one at a time when the job's overlap is skip, a few "
        "at a time when it is allow. end must not be in the future; at most 1000 slots per request.",
        responses={
            200: JobBackfilled,
            **error_responses(
                400,
                401,
                403,
                404,
                409,
                examples={
                    **examples.job_errors("backfill"),
                    400: [("Too many slots", "start to end holds more than 1000 slots of this job's schedule; ...")],
                },
            ),
        },
    )
    @idempotency.idempotent
    def backfill(self, request: Request, job_id: str) -> Response:
        # The job is looked up first: another user's job is a 403 whatever the body says.
        selectors.job_get_for(user=request.user, job_id=job_id, action="backfill", last_run=False)
        body = BackfillInput(data=request.data)
        body.is_valid(raise_exception=True)
        runs, already = services.job_backfill(user=request.user, job_id=job_id, **body.validated_data)
        return success(
            JobBackfilled,
            message=f"Backfill of job {job_id}: {len(runs)} runs created, {already} slots already had a run",
            job_id=job_id,
            runs_created=len(runs),
            slots_already_run=already,
            run_ids=[run.id for run in runs],
        )

    @extend_schema(
        tags=["runs"],
        summary="Cancel every queued or running run of the job",
        operation_id="jobs_cancel_runs",
        request=None,
        description="Queued runs end cancelled at once; running ones are stopped by their workers (as "
        "POST /api/runs/{run_id}/cancel). The job itself keeps its schedule: pause it to stop new runs.",
        responses={
            200: RunsCancelled,
            **error_responses(401, 403, 404, 503, examples=examples.job_errors("cancel the runs of")),
        },
    )
    def cancel_runs(self, request: Request, job_id: str) -> Response:
        cancelled, stopping = services.job_cancel_runs(user=request.user, job_id=job_id)
        return success(
            RunsCancelled,
            message=f"Job {job_id}: {cancelled} queued runs cancelled, {stopping} running runs being stopped",
            job_id=job_id,
            cancelled=cancelled,
            stopping=stopping,
        )

    @extend_schema(
        tags=["jobs"],
        summary="The job's notifications, newest first",
        operation_id="jobs_notifications",
        responses={200: JobNotificationList, **error_responses(401, 403, 404, examples=examples.job_errors("access"))},
    )
    def notifications(self, request: Request, job_id: str) -> Response:
        job = selectors.job_get_for(user=request.user, job_id=job_id, last_run=False)
        return success(JobNotificationList, job_id=job.job_id, notifications=selectors.notification_list(job=job))
