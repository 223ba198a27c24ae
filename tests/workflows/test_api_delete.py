"""DELETE /api/workflows/{workflow_id}: the owner deletes it unless a job still uses it."""

from workflows.models import Workflow


def test_it_deletes_the_callers_workflow(api, workflow):
    response = api.delete(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "message": f"Workflow {workflow.workflow_id} deleted successfully",
        "workflow_id": workflow.workflow_id,
    }
    assert not Workflow.objects.filter(pk=workflow.pk).exists()


def test_it_answers_404_for_an_unknown_workflow(api):
    response = api.delete("/api/workflows/no-such-workflow")

    assert response.status_code == 404
    assert response.json() == {"detail": "Workflow no-such-workflow not found"}


def test_it_refuses_another_users_workflow(client_for, bob, workflow):
    response = client_for(bob).delete(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 403
    assert response.json() == {"detail": "You don't have permission to delete this workflow"}
    assert Workflow.objects.filter(pk=workflow.pk).exists()


def test_it_refuses_with_409_while_a_job_uses_the_workflow(api, workflow):
    created = api.post(
        "/api/cron/jobs/cron",
        {
            "job_id": "daily-video-generation",
            "workflow_id": workflow.workflow_id,
            "user_id": "alice-uuid",
            "input": "Generate video about tech news",
            "cron_expression": "0 9 * * *",
        },
        format="json",
    )
    assert created.status_code == 200, created.content

    response = api.delete(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "daily-video-generation" in detail
    assert Workflow.objects.filter(pk=workflow.pk).exists()


def test_it_deletes_once_the_job_is_gone(api, workflow):
    api.post(
        "/api/cron/jobs/interval",
        {"job_id": "hourly", "workflow_id": workflow.workflow_id, "input": "x", "hours": 1},
        format="json",
    )
    assert api.delete("/api/cron/jobs/hourly").status_code == 200

    response = api.delete(f"/api/workflows/{workflow.workflow_id}")

    assert response.status_code == 200
    assert not Workflow.objects.filter(pk=workflow.pk).exists()
