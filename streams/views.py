from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from vingine.schema import error_responses

from .serializers import StreamTokenInput, StreamTokenIssued
from .services import stream_token_issue


class StreamTokenView(APIView):
    @extend_schema(
        tags=["stream"],
        summary="A short-lived URL for a live stream of your runs' events",
        operation_id="stream_token",
        request=StreamTokenInput,
        description="Server-sent events from the stream server: run.created, run.started, run.step and "
        "run.ended, each with the run as GET /api/runs/{run_id} shows it. Scoped to one job or one run "
        "when asked. The token opens a stream for 300 s; EventSource can use the url as it is.",
        examples=[OpenApiExample("One job's runs", request_only=True, value={"job_id": "daily-report"})],
        responses={201: StreamTokenIssued, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request) -> Response:
        body = StreamTokenInput(data=request.data)
        body.is_valid(raise_exception=True)
        run_id = body.validated_data.get("run_id")
        issued = stream_token_issue(
            user=request.user,
            request=request,
            job_id=body.validated_data.get("job_id"),
            run_id=None if run_id is None else str(run_id),
        )
        return Response(StreamTokenIssued(vars(issued)).data, status=201)
