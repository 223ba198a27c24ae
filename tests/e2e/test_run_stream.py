"""The live run stream end to end: a real stream server (uvicorn), worker and beat; subscribers
read server-sent events over HTTP as a browser's EventSource would."""

import json
import queue
import threading
from collections.abc import Iterator

import httpx
import pytest
from django.conf import settings as django_settings

from streams import tokens
from streams.tokens import StreamScope
from workflows import events
from workflows.models import Run

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WAIT = 30.0  # seconds for an event to arrive; they take milliseconds


class Reader:
    """One open stream, read on a thread; its events (pings left out) wait in ``events``."""

    def __init__(self, url: str, *, last_event_id: str | None = None):
        self.url, self.headers = url, {"Last-Event-ID": last_event_id} if last_event_id else {}
        self.events: queue.Queue[dict] = queue.Queue()
        self.status: int | None = None
        self.body = ""
        self._opened, self._stop = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT), f"the stream at {url} did not answer"

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(10.0)) as response:
                self.status = response.status_code
                if response.status_code != 200:
                    self.body = response.read().decode()
                    return
                self._opened.set()
                event: dict[str, str] = {}
                for line in response.iter_lines():  # the server pings every second: the stop is seen
                    if self._stop.is_set():
                        return
                    if line == "":
                        if "data" in event:
                            self.events.put({**event, "data": json.loads(event["data"])})
                        event = {}
                    elif not line.startswith(":"):
                        name, _, value = line.partition(":")
                        event[name] = value.removeprefix(" ")
        finally:
            self._opened.set()

    def next(self) -> dict:
        try:
            return self.events.get(timeout=WAIT)
        except queue.Empty:
            pytest.fail(f"no event within {WAIT}s on {self.url}")

    def until(self, kind: str, run_id: str) -> list[dict]:
        """The events read until ``kind`` for run ``run_id`` arrives, that one included."""
        seen = []
        while True:
            event = self.next()
            seen.append(event)
            if event["event"] == kind and event["data"]["run"]["run_id"] == run_id:
                return seen

    def pending(self) -> list[dict]:
        found = []
        while not self.events.empty():
            found.append(self.events.get_nowait())
        return found

    def close(self) -> None:
        self._stop.set()
        self._thread.join(WAIT)


@pytest.fixture
def open_stream(stream_server, client_for) -> Iterator:
    readers: list[Reader] = []

    def open_(user, *, last_event_id: str | None = None, **scope: str) -> Reader:
        django_settings.STREAM_PUBLIC_URL = stream_server.url
        answer = client_for(user).post("/api/stream/token", scope, format="json")
        assert answer.status_code == 201, answer.content
        reader = Reader(answer.json()["url"], last_event_id=last_event_id)
        assert reader.status == 200, reader.body
        readers.append(reader)
        return reader

    yield open_
    for reader in readers:
        reader.close()


def trigger(client, workflow_id: str = "video-automation-workflow") -> str:
    answer = client.post(f"/api/workflows/{workflow_id}/run", {"input": "live"}, format="json")
    assert answer.status_code == 200, answer.content
    return answer.json()["run"]["run_id"]


def test_a_stream_shows_a_runs_life_as_it_happens(worker, open_stream, alice, api, workflow):
    stream = open_stream(alice)

    run_id = trigger(api)

    seen = stream.until("run.ended", run_id)
    assert [event["event"] for event in seen] == ["run.created", "run.started", "run.step", "run.step", "run.ended"]
    assert all(event["data"]["type"] == event["event"] for event in seen)
    assert [event["data"]["step"]["index"] for event in seen if event["event"] == "run.step"] == [0, 1]
    # The run as the API shows it.
    assert seen[-1]["data"]["run"] == api.get(f"/api/runs/{run_id}").json()["run"]
    assert seen[-1]["data"]["run"]["status"] == "succeeded"
    ids = [event["id"] for event in seen]
    assert len(set(ids)) == len(ids)


def test_a_stream_never_carries_another_users_runs(
    worker, open_stream, alice, bob, api, client_for, workflow, make_workflow
):
    bobs_stream, alices_stream = open_stream(bob), open_stream(alice)
    make_workflow(bob, "bobs-workflow")

    alices_run = trigger(api)
    alices_stream.until("run.ended", alices_run)
    bobs_run = trigger(client_for(bob), "bobs-workflow")
    seen_by_bob = bobs_stream.until("run.ended", bobs_run)

    assert {event["data"]["run"]["run_id"] for event in seen_by_bob} == {bobs_run}
    assert {event["data"]["run"]["user_id"] for event in seen_by_bob} == {bob.username}
    assert bobs_run not in {event["data"]["run"]["run_id"] for event in alices_stream.pending()}


def test_a_job_stream_carries_that_jobs_runs_made_by_beat(worker, beat, open_stream, alice, api, workflow):
    for job_id in ("watched", "other"):
        answer = api.post(
            "/api/cron/jobs/interval",
            {"job_id": job_id, "workflow_id": workflow.workflow_id, "input": job_id, "seconds": 1},
            format="json",
        )
        assert answer.status_code == 200, answer.content
    stream = open_stream(alice, job_id="watched")

    ended = []
    while len(ended) < 2:  # two of its runs, fired by beat on their own
        event = stream.next()
        assert event["data"]["run"]["job_id"] == "watched"
        if event["event"] == "run.ended":
            ended.append(event["data"]["run"])
    assert {run["trigger"] for run in ended} == {"schedule"}
    assert all(run["status"] == "succeeded" for run in ended)
    assert Run.objects.filter(job__job_id="other").exists(), "the other job ran too, unseen on this stream"


def test_a_run_stream_carries_that_run_only(worker, open_stream, alice, api, workflow):
    first = trigger(api)
    stream = open_stream(alice, run_id=first)

    second = trigger(api)
    wait_until(
        lambda: Run.objects.filter(id__in=[first, second], finished_at__isnull=False).count() == 2,
        timeout=WAIT,
        what="both runs to end",
    )
    seen = stream.until("run.ended", first) if stream.events.qsize() else []

    assert {event["data"]["run"]["run_id"] for event in seen + stream.pending()} <= {first}


def test_a_reconnect_with_last_event_id_gets_what_it_missed(worker, open_stream, alice, api, workflow):
    stream = open_stream(alice)
    first = trigger(api)
    last_seen = stream.until("run.ended", first)[-1]["id"]
    stream.close()

    missed = trigger(api)  # while disconnected
    wait_until(lambda: Run.objects.get(id=missed).finished_at, timeout=WAIT, what="the run to end")
    again = open_stream(alice, last_event_id=last_seen)

    caught_up = again.until("run.ended", missed)
    assert [event["event"] for event in caught_up] == [
        "run.created",
        "run.started",
        "run.step",
        "run.step",
        "run.ended",
    ]
    assert {event["data"]["run"]["run_id"] for event in caught_up} == {missed}


def test_a_reconnect_after_the_kept_window_is_told_to_read_the_runs_again(
    worker, open_stream, alice, api, workflow, settings
):
    stream = open_stream(alice)
    run_id = trigger(api)
    last_seen = stream.until("run.ended", run_id)[-1]["id"]
    stream.close()

    settings.RUN_EVENTS_KEPT = 1000  # then more events than that, of someone else's runs
    events.publish(events.RunEvent(events.CREATED, f"other-{n}", alice.pk + 1000, None) for n in range(3000))
    again = open_stream(alice, last_event_id=last_seen)

    reset = again.next()
    assert reset["event"] == "reset"
    assert "GET /api/runs" in reset["data"]["detail"]


def test_a_stream_needs_a_valid_token_of_an_active_user(stream_server, alice):
    url = f"{stream_server.url}/api/stream/runs"

    assert httpx.get(url).status_code == 401
    forged = httpx.get(url, params={"token": "x" * 40})
    assert (forged.status_code, forged.json()["detail"]) == (401, forged.json()["detail"])
    assert "not valid" in forged.json()["detail"]

    token, _ = tokens.issue(StreamScope(caller_id=alice.pk, owner_id=alice.pk))
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    refused = httpx.get(url, params={"token": token})
    assert (refused.status_code, refused.json()["detail"]) == (401, "The user of this stream token is no longer active")


def test_a_browser_page_on_another_origin_may_read_the_stream(stream_server):
    preflight = httpx.options(
        f"{stream_server.url}/api/stream/runs",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Headers": "last-event-id"},
    )

    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "last-event-id" in preflight.headers["access-control-allow-headers"]


def test_an_event_of_a_run_deleted_since_is_left_out(worker, open_stream, alice, api, workflow):
    stream = open_stream(alice)
    deleted = trigger(api)
    stream.until("run.ended", deleted)
    Run.objects.filter(id=deleted).delete()
    events.publish([events.RunEvent(events.ENDED, deleted, alice.pk, None)])  # e.g. told as its job was deleted

    later = trigger(api)

    seen = stream.until("run.ended", later)
    assert deleted not in {event["data"]["run"]["run_id"] for event in seen}
