"""Real ``celery worker`` and ``celery beat`` processes against the test database and Redis.

The processes are separate programs, so they only see committed rows: tests here use
``transactional_db``. They get the test database's URL and the same REDIS_URL through their
environment, exactly as a deployment configures them.

Beat is started per test: ``transactional_db`` truncates every table after a test, and a beat
that outlived the truncation would keep firing the schedule entries it holds in memory. The
worker is shared by the module; every test uses its own job ids, so a stale message left by an
earlier test finds nothing to run.
"""

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from vingine import heartbeat
from vingine.celery import app

CELERY = Path(sys.executable).parent / "celery"  # the celery of this environment
GUNICORN = Path(sys.executable).parent / "gunicorn"
UVICORN = Path(sys.executable).parent / "uvicorn"
START_TIMEOUT = 30.0  # seconds for a process to become ready
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
LOG_TAIL_LINES = 300

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


class CeleryProcess:
    """One ``celery -A vingine ...`` subprocess, its output kept in a log file."""

    program = (str(CELERY), "-A", "vingine")
    started: list["CeleryProcess"] = []  # every process of the session, for the failure report

    def __init__(self, name: str, args: list[str], *, env: dict[str, str], log_path: Path):
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None

    def start(self) -> "CeleryProcess":
        with open(self.log_path, "wb") as log:
            self.popen = subprocess.Popen(
                [*self.program, *self.args],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so a kill also reaches the worker's pool children; in the
                # test session's session, so whatever ends that session ends it too.
                process_group=0,
            )
        CeleryProcess.started.append(self)
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()  # warm shutdown: finish the task in hand, then exit
        try:
            self.popen.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(STOP_TIMEOUT)

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_text(self, offset: int = 0) -> str:
        if not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def describe(self, offset: int = 0) -> str:
        state = "running" if self.running else f"exited with {self.popen.returncode if self.popen else None}"
        lines = self.log_text(offset).splitlines()[-LOG_TAIL_LINES:]
        return f"----- {self.name} ({state}), {self.log_path} -----\n" + "\n".join(lines)


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a worker's pool processes), read from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                # "pid (command) state ppid ...": the command may hold spaces and parentheses.
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if ppid == pid:
            children.append(int(entry))
    return children


class WebProcess(CeleryProcess):
    """``gunicorn vingine.wsgi`` on a port the system picks, so parallel sessions never collide."""

    program = (str(GUNICORN), "vingine.wsgi")
    url: str | None = None  # set by the ``web`` fixture once gunicorn listens

    def __init__(self, *, env: dict[str, str], log_path: Path):
        super().__init__(
            "web",
            ["--bind", "127.0.0.1:0", "--workers", "2", "--worker-class", "gthread", "--threads", "4"]
            + ["--access-logfile", "-"],
            env=env,
            log_path=log_path,
        )

    def base_url(self) -> str | None:
        """``http://127.0.0.1:<port>`` once gunicorn says where it listens."""
        match = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", self.log_text())
        return match.group(1) if match else None


class StreamProcess(CeleryProcess):
    """The stream server, ``uvicorn streams.asgi:application``, on a port the system picks."""

    program = (str(UVICORN), "streams.asgi:application")
    url: str | None = None

    def __init__(self, *, env: dict[str, str], log_path: Path):
        super().__init__(
            "stream", ["--host", "127.0.0.1", "--port", "0", "--no-access-log"], env=env, log_path=log_path
        )

    def base_url(self) -> str | None:
        match = re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", self.log_text())
        return match.group(1) if match else None


def wait_until(
    condition: Callable[[], Any],
    *,
    timeout: float,
    what: str,
    watch: tuple[CeleryProcess, ...] = (),
    interval: float = 0.2,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds.

    A process in ``watch`` that exits meanwhile fails the wait at once, with its log.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        for process in watch:
            if not process.running:
                pytest.fail(f"{process.name} exited while waiting for {what}\n{process.describe()}")
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def database_url() -> str:
    """The URL of the database this test session uses (the test database, once it is set up)."""
    db = connection.settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError(
            "e2e tests share their database with celery processes and need PostgreSQL: "
            f"set DATABASE_URL to a postgres:// URL (engine is {db['ENGINE']})"
        )
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    port = f":{db['PORT']}" if db["PORT"] else ""
    at = "@" if credentials else ""
    return f"postgres://{credentials}{at}{host}{port}/{quote(db['NAME'], safe='')}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture(autouse=True)
def _process_logs_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print what each celery process logged during a failed test."""
    offsets = {process: process.log_size() for process in CeleryProcess.started}
    yield
    reports = request.node.stash.get(REPORTS, {})
    if not any(report.failed for report in reports.values()):
        return
    for process in CeleryProcess.started:
        if process in offsets and not process.running and offsets[process] == process.log_size():
            continue  # a process from an earlier test that did nothing during this one
        print(process.describe(offsets.get(process, 0)))


@pytest.fixture(autouse=True)
def _one_second_intervals(settings) -> None:
    # The same floor the celery processes get through their environment.
    settings.CRON_MIN_INTERVAL_SECONDS = 1


@pytest.fixture(scope="session")
def celery_env(django_db_setup) -> dict[str, str]:
    """The environment of the celery processes; flushes the broker's Redis db once per session."""
    # Messages and heartbeats left by an earlier session must not reach this one.
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="vingine.settings",
        DATABASE_URL=database_url(),
        REDIS_URL=settings.REDIS_URL,
        CRON_MIN_INTERVAL_SECONDS="1",
        BEAT_MAX_LOOP_INTERVAL="1",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_worker(
    celery_env: dict[str, str],
    directory: Path,
    *,
    pool: str = "gevent",
    concurrency: int = 20,
    include: tuple[str, ...] = (),
    **env: str,
) -> CeleryProcess:
    """A worker answering pings, on the gevent pool as `make run` starts it unless ``pool`` says
    otherwise; ``include`` names modules of tasks for tests it loads too (``tests.e2e.tasks``);
    ``env`` adds to or overrides the celery processes' environment."""
    hostname = f"e2e-{uuid.uuid4().hex[:8]}@localhost"
    process = CeleryProcess(
        "worker",
        [
            "worker",
            "--loglevel=INFO",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--hostname={hostname}",
            f"--pidfile={directory / 'worker.pid'}",
            # Nothing to synchronise with in a one-worker test; skipping these saves seconds at start.
            "--without-mingle",
            "--without-gossip",
            *(f"--include={module}" for module in include),
        ],
        env={**celery_env, **env},
        log_path=directory / "worker.log",
    )
    try:
        process.start()
        wait_until(
            lambda: app.control.ping(destination=[hostname], timeout=0.5),
            timeout=START_TIMEOUT,
            what="the worker to answer a ping",
            watch=(process,),
        )
    except BaseException:
        process.stop()
        raise
    return process


@pytest.fixture(scope="module")
def worker(celery_env, tmp_path_factory) -> Iterator[CeleryProcess]:
    process = start_worker(celery_env, tmp_path_factory.mktemp("worker"))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def start_beat(celery_env, transactional_db, tmp_path) -> Iterator[Callable[[], CeleryProcess]]:
    """Starts beat for one test; it is stopped before the test's rows are truncated."""
    processes: list[CeleryProcess] = []

    def start(**env: str) -> CeleryProcess:
        """``env`` adds to or overrides the celery processes' environment."""
        # A heartbeat from an earlier test's beat would make this one look alive before it is.
        heartbeat.client().delete(heartbeat.KEY)
        directory = tmp_path / f"beat{len(processes)}"
        directory.mkdir()
        process = CeleryProcess(
            "beat",
            [
                "beat",
                "--loglevel=INFO",
                f"--schedule={directory / 'celerybeat-schedule'}",
                f"--pidfile={directory / 'beat.pid'}",
            ],
            env={**celery_env, **env},
            log_path=directory / "beat.log",
        )
        processes.append(process)
        return process.start()

    try:
        yield start
    finally:
        for process in processes:
            process.stop()


@pytest.fixture
def beat(start_beat) -> CeleryProcess:
    """A running beat, past its first tick."""
    process = start_beat()
    wait_until(
        lambda: heartbeat.age_seconds(heartbeat.client()) is not None,
        timeout=START_TIMEOUT,
        what="beat's first heartbeat",
        watch=(process,),
    )
    return process


@pytest.fixture(scope="module")
def web(celery_env, tmp_path_factory) -> Iterator[WebProcess]:
    """The API served by gunicorn from the test database; its base URL is ``web.url``."""
    process = WebProcess(env=celery_env, log_path=tmp_path_factory.mktemp("web") / "web.log")
    try:
        process.start()
        process.url = wait_until(process.base_url, timeout=START_TIMEOUT, what="gunicorn to listen", watch=(process,))
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def stream_server(celery_env, tmp_path_factory) -> Iterator[StreamProcess]:
    """The stream server on the test database and Redis, pinging every second so that readers
    notice quickly when a test is done with them; its base URL is ``stream_server.url``."""
    process = StreamProcess(
        env={**celery_env, "STREAM_PING_SECONDS": "1"}, log_path=tmp_path_factory.mktemp("stream") / "stream.log"
    )
    try:
        process.start()
        process.url = wait_until(process.base_url, timeout=START_TIMEOUT, what="uvicorn to listen", watch=(process,))
        yield process
    finally:
        process.stop()
