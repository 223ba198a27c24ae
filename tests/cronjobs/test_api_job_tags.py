"""Jobs take tags and metadata: kept and shown as given, replaced with the job, refused with a 400
that says what to fix and changes nothing."""

import json

import pytest

from cronjobs.models import CronJob, JobTag

from .helpers import assert_refused, db_snapshot, post_cron, post_interval

pytestmark = pytest.mark.django_db

METADATA = {"team": "growth", "budget": {"monthly": 120.5, "alerts": [50, 90]}, "draft": False, "note": None}


def job_tag_rows(job_id: str) -> set[str]:
    return set(JobTag.objects.filter(job__job_id=job_id).values_list("tag", flat=True))


def test_a_job_keeps_its_tags_and_metadata_and_shows_them_everywhere(api, workflow):
    response = post_cron(api, tags=["video", "team:growth", "v1.2_beta-3"], metadata=METADATA)

    assert response.status_code == 200, response.json()
    saved = response.json()["job"]
    assert (saved["tags"], saved["metadata"]) == (["video", "team:growth", "v1.2_beta-3"], METADATA)
    (listed,) = api.get("/api/cron/jobs").json()["jobs"]
    one = api.get("/api/cron/jobs/daily-video-generation").json()["job"]
    for job in (listed, one):
        assert (job["tags"], job["metadata"]) == (saved["tags"], METADATA)
    assert job_tag_rows("daily-video-generation") == {"video", "team:growth", "v1.2_beta-3"}


def test_an_interval_job_takes_them_too(api, workflow):
    response = post_interval(api, tags=["hourly"], metadata={"owner": "ops"})

    assert response.status_code == 200, response.json()
    assert (response.json()["job"]["tags"], response.json()["job"]["metadata"]) == (["hourly"], {"owner": "ops"})


def test_a_job_without_them_has_none(api, workflow):
    job = post_cron(api).json()["job"]

    assert (job["tags"], job["metadata"]) == ([], {})
    assert job_tag_rows("daily-video-generation") == set()


def test_repeated_tags_are_kept_once_in_the_order_first_given(api, workflow):
    job = post_cron(api, tags=["b", "a", "b", "c", "a"]).json()["job"]

    assert job["tags"] == ["b", "a", "c"]
    assert job_tag_rows("daily-video-generation") == {"a", "b", "c"}


def test_ten_tags_of_forty_characters_are_accepted(api, workflow):
    tags = [f"{n}" * 40 for n in range(10)]

    response = post_cron(api, tags=tags)

    assert response.status_code == 200, response.json()
    assert response.json()["job"]["tags"] == tags


def test_replacing_a_job_replaces_its_tags_and_metadata(api, workflow):
    post_cron(api, tags=["video", "daily"], metadata={"team": "growth"})

    changed = post_cron(api, tags=["daily", "weekly"], metadata={"team": "ops"}).json()["job"]
    assert (changed["tags"], changed["metadata"]) == (["daily", "weekly"], {"team": "ops"})
    assert job_tag_rows("daily-video-generation") == {"daily", "weekly"}
    assert [job["job_id"] for job in api.get("/api/cron/jobs?tag=video").json()["jobs"]] == []

    cleared = post_cron(api).json()["job"]
    assert (cleared["tags"], cleared["metadata"]) == ([], {})
    assert job_tag_rows("daily-video-generation") == set()
    assert api.get("/api/cron/jobs?tag=daily").json()["total_jobs"] == 0


def test_deleting_a_job_deletes_its_tag_rows(api, workflow):
    post_cron(api, tags=["video"])

    assert api.delete("/api/cron/jobs/daily-video-generation").status_code == 200

    assert not JobTag.objects.exists()


def deep(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"next": value}
    return value


def test_metadata_nested_five_levels_deep_is_accepted(api, workflow):
    response = post_cron(api, metadata=deep(5))

    assert response.status_code == 200, response.json()
    assert response.json()["job"]["metadata"] == deep(5)


def test_metadata_of_exactly_the_limit_is_accepted(api, workflow):
    padding = 4096 - len(json.dumps({"a": ""}, separators=(",", ":")))

    response = post_cron(api, metadata={"a": "x" * padding})

    assert response.status_code == 200, response.json()


REFUSED = {
    "eleven tags": (
        {"tags": [f"t{n}" for n in range(11)]},
        "tags: 11 tags given; at most 10 are allowed",
    ),
    "a tag with a space": (
        {"tags": ["ok", "not ok"]},
        "tags: \"not ok\" is not a valid tag: each tag is 1-40 characters of letters, digits, '_', '-', '.' or ':'",
    ),
    "a tag of 41 characters": (
        {"tags": ["x" * 41]},
        f"tags: \"{'x' * 41}\" is not a valid tag: each tag is 1-40 characters of letters, digits, '_', '-', "
        "'.' or ':'",
    ),
    "an empty tag": (
        {"tags": [""]},
        "tags: \"\" is not a valid tag: each tag is 1-40 characters of letters, digits, '_', '-', '.' or ':'",
    ),
    "a tag that is not a string": (
        {"tags": ["ok", 7]},
        'tags: must be a list of strings, like ["video", "team:growth"]; 7 is not one',
    ),
    "tags as one string": ({"tags": "video"}, 'tags: must be a list of strings, like ["video", "team:growth"]'),
    "null tags": ({"tags": None}, 'tags: must be a list of strings, like ["video", "team:growth"]'),
    "metadata that is a list": ({"metadata": ["a"]}, 'metadata: must be a JSON object, like {"team": "growth"}'),
    "null metadata": ({"metadata": None}, 'metadata: must be a JSON object, like {"team": "growth"}'),
    "metadata over 4096 bytes": (
        {"metadata": {"a": "x" * 4090}},
        "metadata: is 4098 bytes as JSON; the limit is 4096 bytes",
    ),
    "metadata over 4096 bytes in UTF-8": (
        {"metadata": {"a": "é" * 2045}},  # 2045 characters, 4090 bytes
        "metadata: is 4098 bytes as JSON; the limit is 4096 bytes",
    ),
    "metadata six levels deep": (
        {"metadata": deep(6)},
        "metadata: is nested more than 5 levels deep (the object itself is level 1); flatten it",
    ),
    "metadata six levels deep through a list": (
        {"metadata": {"a": [[[[{"b": 1}]]]]}},
        "metadata: is nested more than 5 levels deep (the object itself is level 1); flatten it",
    ),
    "metadata with a NUL character": (
        {"metadata": {"a": "x\x00y"}},
        "metadata: contains a NUL character (\\u0000), which cannot be stored",
    ),
}


@pytest.mark.parametrize("fields, detail", REFUSED.values(), ids=REFUSED.keys())
def test_a_new_job_with_bad_tags_or_metadata_is_refused_and_nothing_is_written(api, workflow, fields, detail):
    before = db_snapshot()

    assert_refused(post_cron(api, **fields), 400, detail)
    assert_refused(post_interval(api, **fields), 400, detail)

    assert db_snapshot() == before


@pytest.mark.parametrize("fields, detail", REFUSED.values(), ids=REFUSED.keys())
def test_a_refused_replace_leaves_the_job_and_its_tags_as_they_were(api, workflow, fields, detail):
    post_cron(api, tags=["video"], metadata={"team": "growth"})
    before = db_snapshot()

    assert_refused(post_cron(api, **fields), 400, detail)

    assert db_snapshot() == before
    job = CronJob.objects.get(job_id="daily-video-generation")
    assert (job.tags, job.metadata) == (["video"], {"team": "growth"})


def test_a_refusal_quotes_a_long_bad_tag_cut_short(api, workflow):
    response = post_cron(api, tags=["y" * 100_000])

    assert_refused(response, 400)
    detail = response.json()["detail"]
    assert detail.startswith('tags: "' + "y" * 50) and '..." is not a valid tag' in detail
    assert len(detail) < 200
