"""Many API clients at once against a real stack: latency per endpoint, errors, and the promises
that must still hold afterwards.

    make load                                               # 50 clients for 60 s
    .venv/bin/python scripts/load.py --clients 20 --seconds 30 --baseline-seconds 10

Starts the stack as production runs it, on loopback: gunicorn ``vingine.wsgi`` (WEB_CONCURRENCY
workers, default 3) on a free port, two celery workers (gevent pool, as `make run`) and one celery
beat, against a database
(LOAD_DATABASE_URL) dropped, created and migrated afresh, and a Redis db (LOAD_REDIS_URL) flushed
at start. Every process it started is stopped on the way out, also on Ctrl-C or an error.

Each client is a user of its own with a workflow of its own, and loops over a weighted mix of
requests without pause: create a job (cron or interval), list its jobs, get one, pause, resume,
trigger (run now), read a run, list a job's runs, replace a job and delete one. Each request is
one the client expects to succeed, given the jobs it knows it has: any 4xx is unexpected. An
operator (staff) lists every job once a second meanwhile.

The same mix from one client is measured first, on the idle stack, as the baseline; the table
shows both and the ratio loaded/baseline. After the load the script waits for the runs whose time
has come to finish (bounded), then checks scripts/consistency.py's invariants.

Exit status 1 if any request got a 5xx or no answer, or an invariant is broken.
"""

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from processes import Process  # scripts/, this script's folder

ROOT = Path(__file__).resolve().parent.parent
# The web tier's CPU per request measured by this script before the API's statements were built
# once per process (8,427 requests, docs/performance.md), shown beside each run's own figure; and
# before the API's read and write paths were first cut (66 CPU-s for 5,762 requests).
WEB_CPU_BEFORE_MS = 9.2
WEB_CPU_FIRST_MS = 11.5
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("LOAD_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vingine_load")
REDIS_URL = os.environ.get("LOAD_REDIS_URL", "redis://127.0.0.1:6379/5")

# The stack's environment; this process sets up Django with the same settings (users, tokens,
# the consistency check). A secret of the run's own: the tokens minted here must verify there.
STACK_ENV = {
    "DJANGO_SETTINGS_MODULE": "vingine.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
    "DEBUG": "false",
    # Interval jobs of a few seconds, so that scheduled runs fire all through the load.
    "CRON_MIN_INTERVAL_SECONDS": "1",
    # Each client is one user sending as fast as it is answered: the per-user rate limit would
    # measure itself, not the API.
    "API_RATE_LIMIT_PER_MINUTE": "0",
    "PYTHONUNBUFFERED": "1",
}
os.environ.update(STACK_ENV)
os.environ.pop("JWT_SECRET", None)  # tokens are signed with SECRET_KEY, here and in the stack

import django  # noqa: E402

django.setup()

import psycopg  # noqa: E402
import redis  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Q  # noqa: E402
from django.db.models.functions import Coalesce  # noqa: E402
from django.utils import timezone  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

from scripts.consistency import invariants  # noqa: E402
from vingine import heartbeat  # noqa: E402
from vingine.celery import app  # noqa: E402
from workflows.models import Run  # noqa: E402

START_TIMEOUT = 60.0  # seconds for the stack to come up
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
REQUEST_TIMEOUT = 30.0
MAX_JOBS_PER_CLIENT = 6  # well under CRON_MAX_JOBS_PER_USER
OPERATOR_EVERY = 1.0  # seconds between the operator's lists
STEPS = [{"type": "template", "template": "Video about {{input}}"}, {"type": "python", "callable": "echo"}]
CRONS = ["* * * * *", "*/2 * * * *", "0 9 * * 1-5", "30 */6 * * *"]

# The rows of the table, in this order: (method, route template).
ENDPOINTS = [
    ("POST", "/api/cron/jobs/cron"),
    ("POST", "/api/cron/jobs/interval"),
    ("POST", "/api/cron/jobs/cron (replace)"),
    ("GET", "/api/cron/jobs"),
    ("GET", "/api/cron/jobs/{job_id}"),
    ("POST", "/api/cron/jobs/{job_id}/pause"),
    ("POST", "/api/cron/jobs/{job_id}/resume"),
    ("POST", "/api/cron/jobs/{job_id}/trigger"),
    ("GET", "/api/runs/{run_id}"),
    ("GET", "/api/cron/jobs/{job_id}/runs"),
    ("DELETE", "/api/cron/jobs/{job_id}"),
    ("GET", "/api/cron/jobs/all"),
]


# --- the stack -------------------------------------------------------------------------------


class Stack:
    def __init__(self, logs: Path, web_workers: int, log_level: str):
        self.logs = logs
        self.web_workers = web_workers
        self.log_level = log_level
        self.processes: list[Process] = []
        self.url = ""
        self.deadline = 0.0

    def start(self) -> None:
        env = {**os.environ, **STACK_ENV, "LOG_LEVEL": self.log_level}
        self.processes.append(
            Process(
                "web",
                [str(BIN / "gunicorn"), "vingine.wsgi", "--bind", "127.0.0.1:0", "--workers", str(self.web_workers)]
                + ["--worker-class", "gthread", "--threads", "4"],
                env=env,
                logs=self.logs,
            ).start()
        )
        hostnames = [f"load{i}-{os.getpid()}@localhost" for i in (1, 2)]
        for i, hostname in enumerate(hostnames, 1):
            self.processes.append(
                Process(
                    f"worker{i}",
                    [str(BIN / "celery"), "-A", "vingine", "worker", "-n", hostname, "--pool", "gevent"]
                    + ["--concurrency", "100"]
                    + ["--loglevel", self.log_level, "--pidfile", str(self.logs / f"worker{i}.pid")],
                    env=env,
                    logs=self.logs,
                ).start()
            )
        self.processes.append(
            Process(
                "beat",
                [str(BIN / "celery"), "-A", "vingine", "beat", "--loglevel", self.log_level]
                + ["--schedule", str(self.logs / "celerybeat-schedule"), "--pidfile", str(self.logs / "beat.pid")],
                env=env,
                logs=self.logs,
            ).start()
        )
        self.deadline = time.monotonic() + START_TIMEOUT  # for the whole start, not each step
        web = self.processes[0]
        self.url = self._wait(lambda: _listening_at(web.log()), "gunicorn to listen")
        for hostname in hostnames:
            self._wait(lambda h=hostname: app.control.ping(destination=[h], timeout=0.5), f"worker {hostname}")
        self._wait(lambda: heartbeat.age_seconds(heartbeat.client()) is not None, "beat's first heartbeat")

    def _wait(self, condition: Callable, what: str):
        while True:
            result = condition()
            if result:
                return result
            self.check()
            if time.monotonic() > self.deadline:
                raise RuntimeError(f"timed out after {START_TIMEOUT:.0f} s waiting for {what}")
            time.sleep(0.2)

    def check(self) -> None:
        for process in self.processes:
            if not process.running:
                tail = "\n".join(process.log().splitlines()[-40:])
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{tail}")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes:
            if not process.wait_or_kill(deadline):
                print(f"{process.name} did not stop within {STOP_TIMEOUT:.0f} s; killed it", file=sys.stderr)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by each program (all of its process group), by this process
        (the clients), and by the whole machine (PostgreSQL and anything else running)."""
        ticks = os.sysconf("SC_CLK_TCK")
        groups: dict[int, float] = defaultdict(float)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            # After the command: state ppid pgrp ... utime(12) stime cutime cstime.
            groups[int(fields[2])] += sum(int(value) for value in fields[11:15]) / ticks
        used = {process.name: groups.get(process.popen.pid, 0.0) for process in self.processes}
        times = os.times()
        used["clients (this process)"] = times.user + times.system
        with open("/proc/stat") as stat:
            cpu = [int(value) for value in stat.readline().split()[1:]]
        used["machine"] = (sum(cpu[:8]) - cpu[3] - cpu[4]) / ticks  # all but idle and iowait
        return used

    def log_problems(self) -> dict[str, int]:
        """Tracebacks and ERROR lines per process log: a 2xx can still hide a failure in a worker."""
        problems = {}
        for process in self.processes:
            text = process.log()
            count = text.count("Traceback") + len(re.findall(r"\bERROR\b", text))
            if count:
                problems[process.name] = count
        return problems


def _listening_at(log: str) -> str | None:
    match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", log)
    return match.group(1) if match else None


def fresh_database() -> None:
    """Drop and create the load database, then migrate it: every run starts from nothing."""
    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    if not name or not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"LOAD_DATABASE_URL must name a database of letters, digits and _: {DATABASE_URL}")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    connection.close()
    with psycopg.connect(maintenance, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, **STACK_ENV},
        check=True,
    )


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    unexpected: list[str] = field(default_factory=list)  # the first few unexpected answers, for the report
    lock: threading.Lock = field(default_factory=threading.Lock)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds used meanwhile, by whom

    def record(self, endpoint: str, seconds: float, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.latencies[endpoint].append(seconds)
            self.status[endpoint][outcome] += 1
            if outcome != "2xx" and len(self.unexpected) < 20:
                self.unexpected.append(f"{endpoint}: {outcome} {detail}"[:300])


class Failed(Exception):
    """A request did not get the 2xx the client expected; already recorded."""


class Client:
    """One user: a workflow of its own and up to MAX_JOBS_PER_CLIENT jobs it keeps track of."""

    def __init__(self, base_url: str, token: str, name: str, stats: Stats, seed: int):
        self.http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT
        )
        self.name = name
        self.stats = stats
        self.rng = random.Random(seed)
        self.jobs: dict[str, bool] = {}  # job id -> paused
        self.runs: list[str] = []  # run ids from triggers, newest last
        self.made = 0
        self.workflow_id = f"{name}-workflow"

    def request(self, method: str, endpoint: str, url: str, **kwargs) -> dict:
        started = time.perf_counter()
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            self.stats.record(endpoint, time.perf_counter() - started, "conn", repr(exc))
            raise Failed from exc
        elapsed = time.perf_counter() - started
        outcome = f"{response.status_code // 100}xx"
        self.stats.record(endpoint, elapsed, outcome, response.text if outcome != "2xx" else "")
        if outcome != "2xx":
            raise Failed
        return response.json()

    def setup(self) -> None:
        """Not measured: the workflow every job of this client runs."""
        response = self.http.post(
            "/api/workflows", json={"workflow_id": self.workflow_id, "name": self.name, "steps": STEPS}
        )
        response.raise_for_status()

    def _job_body(self, job_id: str) -> dict:
        return {"job_id": job_id, "workflow_id": self.workflow_id, "input": f"load {job_id}"}

    def create(self) -> None:
        self.made += 1
        job_id = f"{self.name}-job{self.made}"
        if self.rng.random() < 0.5:
            body = {**self._job_body(job_id), "cron_expression": self.rng.choice(CRONS)}
            self.request("POST", "POST /api/cron/jobs/cron", "/api/cron/jobs/cron", json=body)
        else:
            body = {**self._job_body(job_id), "seconds": self.rng.randint(3, 30)}
            self.request("POST", "POST /api/cron/jobs/interval", "/api/cron/jobs/interval", json=body)
        self.jobs[job_id] = False

    def replace(self, job_id: str) -> None:
        body = {**self._job_body(job_id), "cron_expression": self.rng.choice(CRONS)}
        self.request("POST", "POST /api/cron/jobs/cron (replace)", "/api/cron/jobs/cron", json=body)
        self.jobs[job_id] = False  # a replaced job runs

    def step(self) -> None:
        if not self.jobs:
            self.create()
            return
        job_id = self.rng.choice(list(self.jobs))
        paused = self.jobs[job_id]
        actions: list[tuple[int, Callable[[], None]]] = [
            (12 if len(self.jobs) < MAX_JOBS_PER_CLIENT else 0, self.create),
            (5, lambda: self.replace(job_id)),
            (15, lambda: self.request("GET", "GET /api/cron/jobs", "/api/cron/jobs")),
            (15, lambda: self.request("GET", "GET /api/cron/jobs/{job_id}", f"/api/cron/jobs/{job_id}")),
            (8 if not paused else 0, lambda: self._set_paused(job_id, True)),
            (8 if paused else 0, lambda: self._set_paused(job_id, False)),
            (10, lambda: self._trigger(job_id)),
            (
                6 if self.runs else 0,
                lambda: self.request("GET", "GET /api/runs/{run_id}", f"/api/runs/{self.runs[-1]}"),
            ),
            (10, lambda: self.request("GET", "GET /api/cron/jobs/{job_id}/runs", f"/api/cron/jobs/{job_id}/runs")),
            (8 if len(self.jobs) > 1 else 0, lambda: self._delete(job_id)),
        ]
        weights = [weight for weight, _ in actions]
        self.rng.choices([action for _, action in actions], weights)[0]()

    def _set_paused(self, job_id: str, paused: bool) -> None:
        verb = "pause" if paused else "resume"
        self.request("POST", f"POST /api/cron/jobs/{{job_id}}/{verb}", f"/api/cron/jobs/{job_id}/{verb}")
        self.jobs[job_id] = paused

    def _trigger(self, job_id: str) -> None:
        answer = self.request("POST", "POST /api/cron/jobs/{job_id}/trigger", f"/api/cron/jobs/{job_id}/trigger")
        self.runs = [*self.runs[-9:], answer["run_id"]]

    def _delete(self, job_id: str) -> None:
        self.request("DELETE", "DELETE /api/cron/jobs/{job_id}", f"/api/cron/jobs/{job_id}")
        del self.jobs[job_id]
        # A deleted job's runs go with it: a later GET of one would rightly be a 404.
        self.runs = []

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Failed:
                # The client no longer knows its jobs' state for sure: read it back.
                self.resync()

    def resync(self) -> None:
        try:
            answer = self.http.get("/api/cron/jobs").json()
            self.jobs = {job["job_id"]: job["paused"] for job in answer["jobs"]}
        except (httpx.HTTPError, ValueError, KeyError):
            time.sleep(0.5)


def operator_loop(base_url: str, token: str, stats: Stats, stop: threading.Event) -> None:
    http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT)
    while not stop.wait(OPERATOR_EVERY):
        started = time.perf_counter()
        try:
            response = http.get("/api/cron/jobs/all")
            outcome = f"{response.status_code // 100}xx"
            detail = response.text if outcome != "2xx" else ""
        except httpx.HTTPError as exc:
            outcome, detail = "conn", repr(exc)
        stats.record("GET /api/cron/jobs/all", time.perf_counter() - started, outcome, detail)
    http.close()


def warm_up(base_url: str, token: str, web_workers: int) -> None:
    """Not measured: a few requests per web worker, so that the baseline does not include each
    worker's first request (its database connection, lazy imports)."""

    def hit() -> None:
        with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as http:
            for _ in range(10):
                http.get("/api/cron/jobs/all").raise_for_status()

    threads = [threading.Thread(target=hit) for _ in range(2 * web_workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def make_users(prefix: str, count: int) -> list[str]:
    """Users (and an operator) as sign-up would make them; their tokens as POST /api/auth/token
    issues them."""
    users = get_user_model().objects.bulk_create([get_user_model()(username=f"{prefix}-user{i}") for i in range(count)])
    return [str(AccessToken.for_user(user)) for user in users]


def phase(stack: Stack, prefix: str, clients: int, seconds: float, operator_token: str) -> Stats:
    """``clients`` clients and the operator for ``seconds``; each client's setup is not measured."""
    stats = Stats()
    base_url = stack.url
    tokens = make_users(prefix, clients)
    workers = [Client(base_url, token, f"{prefix}-c{i}", stats, seed=i) for i, token in enumerate(tokens)]
    for client in workers:
        client.setup()
    stop = threading.Event()
    threads = [threading.Thread(target=client.loop, args=(stop,), daemon=True) for client in workers]
    threads.append(threading.Thread(target=operator_loop, args=(base_url, operator_token, stats, stop), daemon=True))
    started, cpu_before = time.monotonic(), stack.cpu_seconds()
    for thread in threads:
        thread.start()
    try:
        stop.wait(seconds)
    finally:
        stop.set()
        # One bound for all: a client stuck in a request is left behind (a daemon thread).
        deadline = time.monotonic() + REQUEST_TIMEOUT + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stats.seconds = time.monotonic() - started
        stats.cpu = {name: used - cpu_before[name] for name, used in stack.cpu_seconds().items()}
        for client in workers:
            client.http.close()
    return stats


# --- afterwards ------------------------------------------------------------------------------


def backlog(now=None) -> int:
    """Runs queued or running whose time has come (their slot, or their creation for a manual run)
    at least a second ago."""
    now = now or timezone.now()
    due = now - timedelta(seconds=1)
    return (
        Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
        .annotate(due=Coalesce("scheduled_for", "created_at"))
        .filter(due__lte=due)
        .count()
    )


def drain(limit: float, stack: Stack) -> tuple[int, float | None]:
    """Wait until no run whose time has come is still queued or running; (backlog at the start,
    seconds it took or None if it did not within ``limit``)."""
    started = time.monotonic()
    first = backlog()
    while time.monotonic() - started < limit:
        stack.check()
        if backlog() == 0:
            return first, time.monotonic() - started
        time.sleep(0.5)
    return first, None


# --- the report ------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ms(seconds: float) -> str:
    return "–" if seconds != seconds else f"{seconds * 1000:.1f}"


def ratio(loaded: float, base: float) -> str:
    if loaded != loaded or base != base or base == 0:
        return "–"
    return f"{loaded / base:.1f}×"


def report(base: Stats, load: Stats, clients: int) -> tuple[int, int, int]:
    """Print the table; (5xx, no answer, unexpected 4xx) over both phases."""
    endpoints = [f"{method} {route}" for method, route in ENDPOINTS]
    endpoints += sorted(set(load.latencies) - set(endpoints))
    print(f"\n### {clients} clients for {load.seconds:.0f} s; baseline: 1 client for {base.seconds:.0f} s\n")
    print(
        "| endpoint | requests | req/s | p50 ms base | p50 ms load | p50 ×"
        " | p99 ms base | p99 ms load | p99 × | max ms load | 4xx | 5xx | no answer |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    totals = {"4xx": 0, "5xx": 0, "conn": 0}
    for endpoint in endpoints:
        loaded, baseline = load.latencies.get(endpoint, []), base.latencies.get(endpoint, [])
        counts = {key: load.status[endpoint][key] + base.status[endpoint][key] for key in totals}
        for key in totals:
            totals[key] += counts[key]
        b50, l50, b99, l99 = pct(baseline, 50), pct(loaded, 50), pct(baseline, 99), pct(loaded, 99)
        print(
            f"| `{endpoint}` | {len(loaded)} | {len(loaded) / load.seconds:.1f} | {ms(b50)} | {ms(l50)}"
            f" | {ratio(l50, b50)} | {ms(b99)} | {ms(l99)} | {ratio(l99, b99)}"
            f" | {ms(max(loaded, default=float('nan')))} | {counts['4xx']} | {counts['5xx']} | {counts['conn']} |"
        )
    every_load = [v for values in load.latencies.values() for v in values]
    every_base = [v for values in base.latencies.values() for v in values]
    b50, l50, b99, l99 = pct(every_base, 50), pct(every_load, 50), pct(every_base, 99), pct(every_load, 99)
    print(
        f"| **all** | {len(every_load)} | {len(every_load) / load.seconds:.1f} | {ms(b50)} | {ms(l50)}"
        f" | {ratio(l50, b50)} | {ms(b99)} | {ms(l99)} | {ratio(l99, b99)}"
        f" | {ms(max(every_load, default=float('nan')))} | {totals['4xx']} | {totals['5xx']} | {totals['conn']} |"
    )
    print(
        f"\nBaseline throughput: {len(every_base) / base.seconds:.1f} req/s from 1 client;"
        f" loaded: {len(every_load) / load.seconds:.1f} req/s from {clients}."
        " 4xx, 5xx and no answer count both phases; every request was one its client expected to succeed."
    )
    machine = load.cpu.pop("machine", 0.0)
    ours = ", ".join(f"{name} {used:.1f}" for name, used in load.cpu.items())
    print(
        f"CPU seconds used during the load ({load.seconds:.0f} s on {os.cpu_count()} cores): {ours};"
        f" the whole machine {machine:.0f} (PostgreSQL and any other work included)."
    )
    if every_load:
        per_request = 1000 * load.cpu.get("web", 0.0) / len(every_load)
        print(
            f"Web CPU per request: {per_request:.1f} ms ({len(every_load)} requests);"
            f" before the API's statements were built once per process (2026-12): {WEB_CPU_BEFORE_MS} ms"
            f" (before its paths were first cut: {WEB_CPU_FIRST_MS} ms)."
        )
    for line in base.unexpected + load.unexpected:
        print(f"  unexpected: {line}")
    return totals["5xx"], totals["conn"], totals["4xx"]


def print_consistency(first_backlog: int, drained: float | None, limit: float, problems: dict[str, int]) -> bool:
    checks = invariants()
    runs = dict(Run.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    skipped = dict(
        Run.objects.filter(status=Run.Status.SKIPPED)
        .values_list("reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    )
    failed = Run.objects.filter(Q(status=Run.Status.FAILED)).values_list("reason", "error")[:5]
    print("\n### Consistency after the load\n")
    print("| check | value | |")
    print("|---|--:|---|")
    waited = f"{drained:.1f} s" if drained is not None else f"not within {limit:.0f} s"
    print(f"| due runs queued/running when the load stopped | {first_backlog} | drained in {waited} |")
    for name, value in vars(checks).items():
        print(f"| {name.replace('_', ' ')} | {value} | {'ok' if value == 0 else 'BROKEN'} |")
    print(f"| runs by status | {sum(runs.values())} | {', '.join(f'{k} {v}' for k, v in sorted(runs.items()))} |")
    if skipped:
        reasons = ", ".join(f"{k} {v}" for k, v in skipped.items())
        print(f"| skipped runs by reason | {sum(skipped.values())} | {reasons} |")
    print(
        f"| errors in process logs | {sum(problems.values())} | {', '.join(f'{k} {v}' for k, v in problems.items())} |"
    )
    for reason, error in failed:
        print(f"  failed run: {reason}: {error[:200]}")
    return checks.ok and drained is not None


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0, help="of load")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="of one client, before the load")
    parser.add_argument("--drain-seconds", type=float, default=60.0, help="most to wait for the runs afterwards")
    parser.add_argument("--log-level", default="WARNING", help="of the stack's processes")
    args = parser.parse_args()
    web_workers = int(os.environ.get("WEB_CONCURRENCY", "3"))

    # SIGTERM (a CI timeout, `kill`) ends the run like Ctrl-C: the stack is stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    # And Ctrl-C, even when a shell started this in the background with SIGINT ignored.
    signal.signal(signal.SIGINT, _interrupt)
    started = time.monotonic()
    print(f"Fresh database {urlsplit(DATABASE_URL).path.lstrip('/')}, Redis {REDIS_URL} flushed", flush=True)
    fresh_database()
    redis.Redis.from_url(REDIS_URL).flushdb()
    logs = Path(tempfile.mkdtemp(prefix="vingine-load-"))
    stack = Stack(logs, web_workers, args.log_level)
    try:
        stack.start()
        print(
            f"Stack up in {time.monotonic() - started:.0f} s at {stack.url}: gunicorn ({web_workers} workers),"
            f" 2 celery workers, beat; logs in {logs} (removed if the run passes)",
            flush=True,
        )
        operator = get_user_model().objects.create_user(username="load-operator", is_staff=True)
        operator_token = str(AccessToken.for_user(operator))
        warm_up(stack.url, operator_token, web_workers)
        print(f"Baseline: 1 client for {args.baseline_seconds:.0f} s", flush=True)
        base = phase(stack, "base", 1, args.baseline_seconds, operator_token)
        stack.check()
        print(f"Load: {args.clients} clients for {args.seconds:.0f} s", flush=True)
        load = phase(stack, "load", args.clients, args.seconds, operator_token)
        stack.check()
        print("Waiting for the runs whose time has come to finish", flush=True)
        first_backlog, drained = drain(args.drain_seconds, stack)
        five_xx, no_answer, four_xx = report(base, load, args.clients)
        consistent = print_consistency(first_backlog, drained, args.drain_seconds, stack.log_problems())
    finally:
        stack.stop()
    print(f"\nWhole run: {time.monotonic() - started:.0f} s.")
    failures = []
    if five_xx:
        failures.append(f"{five_xx} 5xx")
    if no_answer:
        failures.append(f"{no_answer} requests without an answer")
    if not consistent:
        failures.append("the consistency check failed")
    if four_xx:
        print(f"Note: {four_xx} unexpected 4xx (listed above).")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("OK: no 5xx, every request answered, consistency holds.")
    shutil.rmtree(logs, ignore_errors=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("Interrupted; every process this run started has been stopped.", file=sys.stderr)
        sys.exit(130)
