from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from vingine.filters import id_from
from vingine.output import success
from vingine.pagination import page_from
from vingine.schema import error_responses, id_parameter, page_parameters

from . import idempotency, runs, selectors, services, signing
from .models import Run
from .run_filters import RunFilter
from .serializers import (
    RunCancelled,
    RunInput,
    RunList,
    RunOne,
    SigningSecretShown,
    WorkflowDeleted,
    WorkflowInput,
    WorkflowList,
    WorkflowOne,
    WorkflowSaved,
)

WORKFLOW_REQUEST = OpenApiExample(
    "Template then echo",
    request_only=True,
    value={
        "workflow_id": "video-automation-workflow",
        "name": "Video",
        "steps": [
            {"type": "template", "template": "Video about {{input}}"},
            {"type": "python", "callable": "echo"},
        ],
    },
)


def _workflow_errors(verb: str, *statuses: int) -> dict:
    return error_responses(
        *statuses,
        examples={
            403: [("Someone else's workflow", f"You don't have permission to {verb} this workflow")],
            404: [("No such workflow", "Workflow video-automation-workflow not found")],
            409: [
                (
                    "Used by a job",
                    "Workflow video-automation-workflow is used by jobs daily-video-generation; "
                    "delete or replace those jobs first",
                )
            ],
        },
    )


class WorkflowViewSet(viewsets.ViewSet):
    # Not named "list": drf-spectacular documents a "list" action as answering a bare array.
    @extend_schema(
        tags=["workflows"],
        summary="List the caller's workflows",
        operation_id="workflows_list",
        parameters=page_parameters(default=settings.WORKFLOWS_PAGE_DEFAULT, maximum=settings.LIST_PAGE_MAX),
        responses={200: WorkflowList, **error_responses(400, 401)},
    )
    def list_mine(self, request: Request) -> Response:
        page = page_from(request, default=settings.WORKFLOWS_PAGE_DEFAULT, maximum=settings.LIST_PAGE_MAX)
        workflows = selectors.workflow_list(user=request.user)
        shown = list(page.of(workflows))
        return success(WorkflowList, total_workflows=page.total(shown, workflows.count), workflows=shown)

    @extend_schema(
        tags=["workflows"],
        summary="Create or replace a workflow",
        operation_id="workflows_save",
        request=WorkflowInput,
        responses={
            200: WorkflowSaved,
            **error_responses(
                400,
                401,
                403,
                examples={
                    400: [("Unknown step type", "steps[0]: unknown step type 'shell' (expected one of: ...)")],
                    403: [
                        (
                            "Id taken",
                            "Workflow id video-automation-workflow belongs to another user; choose another workflow_id",
                        )
                    ],
                },
            ),
        },
        examples=[WORKFLOW_REQUEST],
    )
    def create(self, request: Request) -> Response:
        body = WorkflowInput(data=request.data)
        body.is_valid(raise_exception=True)
        workflow = services.workflow_save(owner=request.user, **body.validated_data)
        return success(WorkflowSaved, message=f"Workflow {workflow.workflow_id} saved successfully", workflow=workflow)

    @extend_schema(
        tags=["workflows"],
        summary="Get one workflow",
        operation_id="workflows_get",
        responses={200: WorkflowOne, **_workflow_errors("access", 401, 403, 404)},
    )
    def retrieve(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get_for(user=request.user, workflow_id=workflow_id)
        return success(WorkflowOne, workflow=workflow)

    @extend_schema(
        tags=["workflows"],
        summary="Delete a workflow (refused while a job uses it)",
        operation_id="workflows_delete",
        request=None,
        responses={200: WorkflowDeleted, **_workflow_errors("delete", 401, 403, 404, 409)},
    )
    def destroy(self, request: Request, workflow_id: str) -> Response:
        services.workflow_delete(user=request.user, workflow_id=workflow_id)
        return success(WorkflowDeleted, message=f"Workflow {workflow_id} deleted successfully", workflow_id=workflow_id)

    @extend_schema(
        tags=["runs"],
        summary="Run a workflow now",
        operation_id="workflows_run",
        request=RunInput,
        parameters=[idempotency.PARAMETER],
        responses={200: RunOne, **_workflow_errors("run", 400, 401, 403, 404), **error_responses(409, 503)},
    )
    @idempotency.idempotent
    def run(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get_for(user=request.user, workflow_id=workflow_id, action="run")
        body = RunInput(data=request.data)
        body.is_valid(raise_exception=True)
        run = runs.run_enqueue(
            workflow=workflow,
            owner=workflow.owner,
            trigger=Run.Trigger.MANUAL,
            input_text=body.validated_data["input"],
        )
        return success(RunOne, run=run)


def _run_errors(verb: str, *statuses: int, examples: dict | None = None) -> dict:
    return error_responses(
        *statuses,
        examples={
            403: [("Someone else's run", f"You don't have permission to {verb} this run")],
            404: [("No such run", "Run 6f1c1f9e-3c2a-4d0e-9a51-2f7c0d1b8e11 not found")],
            **(examples or {}),
        },
    )


class RunViewSet(viewsets.ViewSet):
    # Not named "list": drf-spectacular documents a "list" action as answering a bare array.
    @extend_schema(
        tags=["runs"],
        summary="List the caller's runs, newest first",
        operation_id="runs_list",
        description="The caller's own runs, of every job and workflow (an operator's too: their own). "
        "Filters combine: a run must pass each one given.",
        parameters=[
            *RunFilter.parameters(),
            id_parameter("job_id", description="Only the runs of the caller's job with this id."),
            *page_parameters(default=settings.RUNS_PAGE_DEFAULT, maximum=settings.RUNS_PAGE_MAX),
        ],
        responses={
            200: RunList,
            **error_responses(
                400,
                401,
                examples={
                    400: [
                        (
                            "Unknown status",
                            "status must be one of queued, running, succeeded, failed, skipped, "
                            'cancelled; "done" is not',
                        ),
                        (
                            "Time without offset",
                            "since must be an ISO 8601 time with its UTC offset, like "
                            "2025-06-01T09:00:00Z or 2025-06-01T11:00:00+02:00 (in a URL, write + as %2B); "
                            '"2025-06-01T09:00:00" is not',
                        ),
                    ]
                },
            ),
        },
    )
    def list_mine(self, request: Request) -> Response:
        run_filter = RunFilter.from_request(request)
        job_id = id_from(request, "job_id")
        page = page_from(request, default=settings.RUNS_PAGE_DEFAULT, maximum=settings.RUNS_PAGE_MAX)
        shown, total = selectors.run_page(user=request.user, run_filter=run_filter, page=page, job_id=job_id)
        return success(RunList, total_runs=total, runs=shown)

    @extend_schema(
        tags=["runs"],
        summary="Get one run",
        operation_id="runs_get",
        responses={200: RunOne, **_run_errors("access", 401, 403, 404)},
    )
    def retrieve(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for(user=request.user, run_id=run_id)
        return success(RunOne, run=run)

    @extend_schema(
        tags=["runs"],
        summary="Cancel a run",
        operation_id="runs_cancel",
        request=None,
        description="A queued run ends cancelled at once. A running run is stopped by its worker before its next "
        "step, and an http step in flight is abandoned within about a second (on the gevent pool); it then ends "
        "cancelled, its step log saying where it stopped. A run that has ended answers 409.",
        responses={
            200: RunCancelled,
            **_run_errors(
                "cancel",
                401,
                403,
                404,
                409,
                503,
                examples={
                    409: [("Already ended", "Run 6f1c1f9e-... already ended (succeeded); there is nothing to cancel")]
                },
            ),
        },
    )
    def cancel(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for(user=request.user, run_id=run_id, action="cancel")
        run = runs.run_cancel(run=run, by=request.user)
        if run.status == Run.Status.CANCELLED:
            message = f"Run {run.id} cancelled"
        else:
            message = f"Run {run.id} is being stopped: it ends cancelled within about a second"
        return success(RunCancelled, message=message, run=run)

    @extend_schema(
        tags=["runs"],
        summary="Run again: a new run of the same workflow with the same input",
        operation_id="runs_rerun",
        request=None,
        parameters=[idempotency.PARAMETER],
        description="The new run has trigger rerun and rerun_of set to this run, which is left as it is.",
        responses={200: RunOne, **_run_errors("rerun", 400, 401, 403, 404, 409, 503)},
    )
    @idempotency.idempotent
    def rerun(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for(user=request.user, run_id=run_id, action="rerun")
        return success(RunOne, run=runs.run_rerun(run=run))


class SigningSecretViewSet(viewsets.ViewSet):
    @extend_schema(
        tags=["signing"],
        summary="Your signing secret (made on first use)",
        operation_id="signing_secret_get",
        description="Every http request your runs send is signed with it, per Standard Webhooks: headers "
        "webhook-id (the same across retries of one step of one run), webhook-timestamp and webhook-signature.",
        responses={200: SigningSecretShown, **error_responses(401)},
    )
    def retrieve(self, request: Request) -> Response:
        shown = signing.secret_get(owner=request.user)
        return success(SigningSecretShown, **vars(shown))

    @extend_schema(
        tags=["signing"],
        summary="Make a new signing secret",
        operation_id="signing_secret_rotate",
        request=None,
        description="The previous secret keeps signing for 24 h: until previous_expires_at each request carries "
        "both signatures, so receivers can move to the new secret without refusing a call.",
        responses={200: SigningSecretShown, **error_responses(401)},
    )
    def rotate(self, request: Request) -> Response:
        shown = signing.secret_rotate(owner=request.user)
        return success(SigningSecretShown, message="A new signing secret was made", **vars(shown))
