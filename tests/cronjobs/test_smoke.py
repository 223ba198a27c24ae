def test_it_creates_a_cron_job_with_the_spec_body(api, workflow):
    response = api.post(
        "/api/cron/jobs/cron",
        {
            "job_id": "daily-video-generation",
            "workflow_id": "video-automation-workflow",
            "user_id": "alice-uuid",
            "input": "Generate video about tech news",
            "cron_expression": "0 9 * * *",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["message"] == "Cron job daily-video-generation created successfully"
