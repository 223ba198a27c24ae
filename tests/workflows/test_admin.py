"""Operators edit workflows in the admin with the same validation as the API."""

import pytest

from workflows.models import Workflow

pytestmark = pytest.mark.django_db


def test_the_admin_refuses_a_workflow_the_runner_could_not_run(admin_client, alice):
    response = admin_client.post(
        "/admin/workflows/workflow/add/",
        {"workflow_id": "broken", "owner": alice.pk, "name": "", "steps": '[{"type": "shell", "cmd": "ls"}]'},
    )

    assert response.status_code == 200  # the form comes back with its error
    assert "unknown step type" in response.content.decode()
    assert not Workflow.objects.filter(workflow_id="broken").exists()


def test_the_admin_saves_a_valid_workflow(admin_client, alice):
    response = admin_client.post(
        "/admin/workflows/workflow/add/",
        {"workflow_id": "ok", "owner": alice.pk, "name": "", "steps": '[{"type": "python", "callable": "echo"}]'},
    )

    assert response.status_code == 302
    assert Workflow.objects.get(workflow_id="ok").steps == [{"type": "python", "callable": "echo"}]
