from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from . import selectors, services
from .models import Run
from .serializers import RunInput, WorkflowInput


class WorkflowViewSet(viewsets.ViewSet):
    def list(self, request: Request) -> Response:
        workflows = [w.to_dict() for w in selectors.workflow_list(user=request.user)]
        return Response({"status": "success", "total_workflows": len(workflows), "workflows": workflows})

    def create(self, request: Request) -> Response:
        body = WorkflowInput(data=request.data)
        body.is_valid(raise_exception=True)
        workflow = services.workflow_save(owner=request.user, **body.validated_data)
        return Response(
            {
                "status": "success",
                "message": f"Workflow {workflow.workflow_id} saved successfully",
                "workflow": workflow.to_dict(),
            }
        )

    def retrieve(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get_for(user=request.user, workflow_id=workflow_id)
        return Response({"status": "success", "workflow": workflow.to_dict()})

    def destroy(self, request: Request, workflow_id: str) -> Response:
        services.workflow_delete(user=request.user, workflow_id=workflow_id)
        return Response(
            {
                "status": "success",
                "message": f"Workflow {workflow_id} deleted successfully",
                "workflow_id": workflow_id,
            }
        )

    def run(self, request: Request, workflow_id: str) -> Response:
        workflow = selectors.workflow_get_for(user=request.user, workflow_id=workflow_id, action="run")
        body = RunInput(data=request.data)
        body.is_valid(raise_exception=True)
        run = services.run_enqueue(
            workflow=workflow,
            owner=workflow.owner,
            trigger=Run.Trigger.MANUAL,
            input_text=body.validated_data["input"],
        )
        return Response({"status": "success", "run": run.to_dict()})


class RunViewSet(viewsets.ViewSet):
    def retrieve(self, request: Request, run_id: str) -> Response:
        run = selectors.run_get_for(user=request.user, run_id=run_id)
        return Response({"status": "success", "run": run.to_dict()})
