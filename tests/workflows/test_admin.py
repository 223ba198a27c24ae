"""Operators edit workflows in the admin with the same validation as the API."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import ECHO_STEPS
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


def test_an_existing_workflow_keeps_its_owner_and_id(admin_client, workflow, alice, bob):
    url = f"/admin/workflows/workflow/{workflow.pk}/change/"
    assert 'name="owner"' not in admin_client.get(url).content.decode()

    response = admin_client.post(
        url, {"workflow_id": "renamed", "owner": bob.pk, "name": "renamed", "steps": json.dumps(ECHO_STEPS)}
    )

    assert response.status_code == 302
    saved = Workflow.objects.get(pk=workflow.pk)
    assert (saved.workflow_id, saved.owner, saved.name) == (workflow.workflow_id, alice, "renamed")


def test_the_workflow_list_costs_the_same_queries_for_one_workflow_or_many(admin_client, make_workflow, alice, bob):
    make_workflow(alice, "first")
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get("/admin/workflows/workflow/").status_code == 200

    for n in range(5):
        make_workflow(bob, f"more-{n}")
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get("/admin/workflows/workflow/").status_code == 200

    assert len(many) == len(few)
