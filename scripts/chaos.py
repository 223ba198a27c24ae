"""make chaos: the whole system under faults, and the promises checked afterwards.

    make chaos                                   # 500 jobs, 6 phases of 40 s (about 7 minutes)
    make chaos CHAOS_ARGS="--jobs 100"           # within what a 2-core machine runs on time
    .venv/bin/python scripts/chaos.py --jobs 40 --phase-seconds 14   # make test's subset

Everything runs on loopback, in processes this script starts and stops: a PostgreSQL cluster and a
redis-server of its own (so restarting them disturbs nothing else on the machine), web (gunicorn),
two celery workers (gevent pool, as `make run` starts them), two celery beats, and a webhook
receiver in this process. N users schedule
"steady" interval jobs of 1 to 5 s that nothing touches, whose single http step calls the
receiver; a stream of API calls meanwhile creates, replaces, pauses, resumes, triggers, lists and
deletes a few other jobs per user (3 to 6 each, every 5 to 30 s or every minute). Then one phase
per fault, each PHASE seconds with the fault injected after a few seconds:

    none                       (the baseline: nothing injected)
    kill -9 of a beat          (restarted 10 s later)
    kill -9 of a worker        (the whole worker, mid-run; restarted 10 s later)
    kill -9 of a worker with webhooks in flight
                               (IN_FLIGHT_RUNS runs started at once whose webhook answers after
                               SLOW_SECONDS; the worker holding most of them killed; restarted 10 s
                               later: each webhook called at most once, no run left running)
    Redis restart              (killed; a fresh one 3 s later: Redis keeps nothing on disk)
    PostgreSQL restart         (immediate shutdown, a crash for the clients; started 3 s later)
    web restart under load     (as a deploy restarts it: SIGHUP, gunicorn's graceful reload)
    kill -9 of web under load  (started again 3 s later)

Recovery is how long after the fault runs started again at RECOVERED of the rate of the phase
without a fault, averaged over RECOVERY_WINDOW seconds, until the end of the phase.

Once the processes are quiet again, every slot of the steady jobs in each phase is accounted for
from the database and the receiver (scripts/consistency.py): ran (and how those that failed
failed), skipped and why, duplicates (two runs for a slot, or two deliveries of one), silent
losses (a slot without a run, a success the receiver never got), stuck runs, and slots started
more than LATE seconds late.

The exit status is non-zero when a promise is broken: a duplicate, a stuck run, a silent loss, a
5xx other than a 503 (unavailable: retry) while a part restarts, a refusal of a request that
should have succeeded, a process that exited on its own (it is restarted, as docker compose
would, and named), or a job and its PeriodicTask out of step.
"""

import argparse
import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from processes import Process  # scripts/, this script's folder

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LATE = 2.0  # seconds: a slot started later than this after its time was late
RECOVERED = 0.8  # of the baseline phase's rate of run starts: recovered
RECOVERY_WINDOW = 5  # seconds the rate is averaged over
CHURN_JOBS = 3  # jobs each caller of the API stream keeps, at least (at most twice as many)
IN_FLIGHT_RUNS = 150  # runs started at once on the slow endpoint, in the in-flight kill phase
SLOW_SECONDS = 4.0  # how long the slow endpoint takes to answer
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {what}")


class Postgres:
    """A throwaway cluster: initdb into a temporary folder, run as the postgres user under root."""

    def __init__(self, folder: Path, port: int):
        self.folder, self.port = folder, port
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
        if not versions:
            raise SystemExit("make chaos needs PostgreSQL's server programs (/usr/lib/postgresql/*/bin)")
        self.bin = Path(versions[-1])
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.data = folder / "pgdata"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_owner, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.as_owner:
            shutil.chown(self.folder, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        log = str(self.folder / "pg.log")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", log, "-w", "-t", "60", "start", "-o", options)

    def crash(self) -> None:
        """Immediate shutdown: every backend killed, recovery from the WAL at the next start."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")

    def stop(self) -> None:
        subprocess.run(
            [*self.as_owner, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/vingine_chaos"


class Receiver:
    """The webhook the steady jobs call: counts deliveries per (job, slot) from the run headers;
    ``/slow`` answers after SLOW_SECONDS and counts deliveries per run."""

    def __init__(self) -> None:
        self.deliveries: Counter = Counter()
        self.slow_deliveries: Counter = Counter()  # run id -> requests received on /slow
        self.by_run: Counter = Counter()  # run id -> requests received, on any path
        self.total = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                job, slot = self.headers.get("X-Vingine-Job-Id"), self.headers.get("X-Vingine-Scheduled-For")
                with lock:
                    receiver.total += 1
                    receiver.by_run[self.headers.get("X-Vingine-Run-Id")] += 1
                    if job and slot:
                        receiver.deliveries[(job, slot)] += 1
                    if self.path.startswith("/slow"):
                        receiver.slow_deliveries[self.headers.get("X-Vingine-Run-Id")] += 1
                if self.path.startswith("/slow"):
                    time.sleep(SLOW_SECONDS)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Hundreds of runs call at once: socketserver's default backlog of 5 would reset them.
            request_queue_size = 1024

            def handle_error(self, request, client_address) -> None:
                pass  # a worker killed mid-request resets its connection: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.slow_url = f"http://127.0.0.1:{self.server.server_address[1]}/slow"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclass
class ApiStats:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)  # "2xx", "4xx", "5xx", "refused"
    unexpected: list = field(default_factory=list)  # (method, path, status, body) of 4xx/5xx

    def record(self, method: str, path: str, status: int | str, body: str = "") -> None:
        self.requests += 1
        # A 503 says "unavailable, retry" (with Retry-After) while a part is restarting; any other
        # 5xx is a defect.
        key = status if isinstance(status, str) else "503" if status == 503 else f"{status // 100}xx"
        self.by_status[key] += 1
        if key in ("4xx", "5xx", "503") and len(self.unexpected) < 20:
            self.unexpected.append((method, path, status, body[:200]))


class ApiStream:
    """Callers changing their own jobs all along: create, replace, pause, resume, trigger, list,
    read runs, cancel a run just triggered or all of a job's runs, delete. Every request is one that
    should succeed (a cancel may also find its run ended: 409); anything else is counted."""

    def __init__(self, base: str, users: list[tuple[str, str]], workflow_of: dict[str, str]):
        self.base, self.users, self.workflow_of = base, users, workflow_of
        self.stats = ApiStats()
        # Run ids by what their cancel answered: ended cancelled at once (queued), being stopped
        # (running), or already ended (409).
        self.cancels: dict[str, list[str]] = {"queued": [], "running": [], "ended": []}
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self, user: str, token: str) -> None:
        client = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        mine: list[str] = []
        rng = random.Random(user)
        n = 0
        while not self.stop.is_set():
            n += 1
            # Between CHURN_JOBS and twice that many jobs per caller: the stream changes jobs, it
            # does not pile them up (their runs would add to the load phase after phase).
            if len(mine) < CHURN_JOBS or (len(mine) < 2 * CHURN_JOBS and rng.random() < 0.1):
                job_id = f"churn-{user}-{n}"
                body = {"job_id": job_id, "workflow_id": self.workflow_of[user], "seconds": rng.randint(5, 30)}
                if self.call(client, "POST", "/api/cron/jobs/interval", json=body) == 200:
                    mine.append(job_id)
                continue
            job_id = rng.choice(mine)
            actions = ["replace", "pause", "resume", "trigger", "cancel", "cancel-runs", "get", "runs", "list"]
            actions.append("delete")
            action = "delete" if len(mine) >= 2 * CHURN_JOBS else rng.choice(actions)
            if action == "replace":
                body = {"job_id": job_id, "workflow_id": self.workflow_of[user], "cron_expression": "* * * * *"}
                status = self.call(client, "POST", "/api/cron/jobs/cron", json=body)
            elif action in ("pause", "resume", "trigger"):
                status = self.call(client, "POST", f"/api/cron/jobs/{job_id}/{action}")
            elif action == "cancel":
                status = self.trigger_and_cancel(client, job_id)
            elif action == "cancel-runs":
                status = self.call(client, "POST", f"/api/cron/jobs/{job_id}/runs/cancel")
            elif action == "get":
                status = self.call(client, "GET", f"/api/cron/jobs/{job_id}")
            elif action == "runs":
                status = self.call(client, "GET", f"/api/cron/jobs/{job_id}/runs")
            elif action == "list":
                status = self.call(client, "GET", "/api/cron/jobs")
            else:
                status = self.call(client, "DELETE", f"/api/cron/jobs/{job_id}")
                if status in (200, 204):
                    mine.remove(job_id)
            if status in (None, 503) and job_id in mine:
                # No answer (web went down), or the database went away mid-request, possibly while
                # the change was being committed: whether it happened is unknown, so the job may be
                # gone. Leave it alone rather than count its next answer (a 404) as a refusal.
                mine.remove(job_id)
            time.sleep(0.05)
        client.close()

    def trigger_and_cancel(self, client: httpx.Client, job_id: str) -> int | None:
        triggered = self.request(client, "POST", f"/api/cron/jobs/{job_id}/trigger")
        if triggered is None or triggered.status_code != 200:
            return None if triggered is None else triggered.status_code
        run_id = triggered.json()["run_id"]
        answer = self.request(client, "POST", f"/api/runs/{run_id}/cancel", ended_ok=True)
        if answer is not None and answer.status_code in (200, 409):
            outcome = "ended" if answer.status_code == 409 else answer.json()["run"]["status"]
            with self.lock:
                self.cancels["queued" if outcome == "cancelled" else outcome].append(run_id)
        return None if answer is None else answer.status_code

    def call(self, client: httpx.Client, method: str, path: str, **kwargs) -> int | None:
        response = self.request(client, method, path, **kwargs)
        return None if response is None else response.status_code

    def request(
        self, client: httpx.Client, method: str, path: str, *, ended_ok: bool = False, **kwargs
    ) -> httpx.Response | None:
        """The answer, recorded; None when web did not answer. ``ended_ok``: a 409 (the run had
        already ended) is an answer the request may get."""
        try:
            response = client.request(method, path, **kwargs)
        except httpx.TransportError:
            with self.lock:
                self.stats.record(method, path, "refused")
            time.sleep(0.2)  # web is down (restarting): try again shortly
            return None
        status = 200 if ended_ok and response.status_code == 409 else response.status_code
        with self.lock:
            self.stats.record(method, path, status, response.text)
        return response

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.run, args=user, daemon=True) for user in self.users]
        for thread in threads:
            thread.start()
        return threads


@dataclass
class Phase:
    name: str
    start: datetime
    end: datetime | None = None
    fault_at: datetime | None = None
    api_before: ApiStats | None = None
    api: dict = field(default_factory=dict)


class Chaos:
    def __init__(self, args):
        self.args = args
        self.folder = Path(tempfile.mkdtemp(prefix="vingine-chaos-"))
        self.folder.chmod(0o755)  # the cluster's owner (postgres) must reach its folder inside
        self.logs = self.folder / "logs"
        self.logs.mkdir()
        self.pg = Postgres(self.folder / "pg", free_port())
        self.redis_port = free_port()
        self.redis: Process | None = None
        self.processes: dict[str, Process] = {}
        self.web_port = free_port()
        self.lock = threading.Lock()  # held while a fault kills and restarts a process on purpose
        self.crashes: list[tuple[str, str]] = []  # (phase, what exited on its own and how)
        self.phase = "setup"
        self.in_flight_runs: list = []  # the runs of the in-flight kill phase
        self.in_flight_at_kill = 0

    # --- the stack ------------------------------------------------------------------------------

    def env(self) -> dict:
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="vingine.settings",
            DATABASE_URL=self.pg.url,
            REDIS_URL=f"redis://127.0.0.1:{self.redis_port}/0",
            SECRET_KEY="chaos-" + "x" * 50,
            JWT_SECRET="chaos-jwt-" + "y" * 40,
            CRON_MIN_INTERVAL_SECONDS="1",
            CRON_MAX_JOBS_PER_USER="100000",
            RUN_HISTORY_LIMIT="100000",
            WORKFLOW_HTTP_ALLOWED_HOSTS="127.0.0.1",
            # The API stream's callers each send about 20 requests a second: the per-user rate
            # limit would refuse them, which is not the fault being tested.
            API_RATE_LIMIT_PER_MINUTE="0",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            PORT=str(self.web_port),
        )
        return env

    def start_redis(self) -> None:
        args = ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        self.redis = Process("redis", [*args, "no"], env=dict(os.environ), logs=self.logs).start()
        wait_for(lambda: socket.create_connection(("127.0.0.1", self.redis_port), 0.5).close() or True, 20, "redis")

    def process(self, name: str) -> Process:
        celery = [str(BIN / "celery"), "-A", "vingine"]
        args = {
            "web": [str(BIN / "gunicorn"), "vingine.wsgi", "--bind", f"127.0.0.1:{self.web_port}", "--workers", "2"]
            + ["--worker-class", "gthread", "--threads", "4"],
            "beat-1": [*celery, "beat", "--schedule", str(self.folder / "beat-1.db")],
            "beat-2": [*celery, "beat", "--schedule", str(self.folder / "beat-2.db")],
            "worker-1": [*celery, "worker", "-n", "chaos-1@localhost", *self.pool],
            "worker-2": [*celery, "worker", "-n", "chaos-2@localhost", *self.pool],
        }[name]
        return Process(name, args, env=self.env(), logs=self.logs)

    @property
    def pool(self) -> list[str]:
        return ["--pool", "gevent", "--concurrency", str(self.args.concurrency)]

    def start(self, name: str) -> None:
        self.processes[name] = self.process(name).start()
        if name == "web":
            wait_for(lambda: httpx.get(f"{self.base}/api/schema", timeout=2).status_code == 200, START_TIMEOUT, "web")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def up(self) -> None:
        print(f"# stack in {self.folder}", flush=True)
        self.pg.init()
        self.pg.start()
        psql = ["psql", "-h", "127.0.0.1", "-p", str(self.pg.port), "-U", "postgres", "-q"]
        subprocess.run([*psql, "-c", "CREATE DATABASE vingine_chaos"], check=True)
        self.start_redis()
        os.environ.update(self.env())  # this process reads the same database, for the report
        subprocess.run([str(BIN / "python"), "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=self.env(), check=True)
        for name in ("worker-1", "worker-2", "beat-1", "beat-2", "web"):
            self.start(name)

    def supervise(self, stop: threading.Event) -> None:
        """Restart a process that exits on its own, as docker compose's restart policy does, and
        note it: a crash is a finding even when nothing is lost."""
        while not stop.wait(0.5):
            with self.lock:
                for name, process in list(self.processes.items()):
                    if process.popen.poll() is None:
                        continue
                    log = process.log().splitlines()
                    lines = [line for line in log if "CRITICAL" in line]
                    code = process.popen.returncode
                    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
                    why = lines[-1].split("]", 1)[-1].strip()[:160] if lines else how
                    self.crashes.append((self.phase, f"{name}: {why}"))
                    # The log's last lines tell a crash from a stop asked by a signal from outside
                    # (a warm shutdown ends with exit 0 too).
                    written = [line.strip() for line in log if line.strip()]
                    tail = "".join(f"\n#   {line[:200]}" for line in written[-3:])
                    print(f"# {name} exited on its own ({why}); restarting it; its log ended:{tail}", flush=True)
                    self.start(name)

    def down(self) -> None:
        for process in self.processes.values():
            process.stop()
        if self.redis:
            self.redis.kill()
        self.pg.stop()

    # --- faults -----------------------------------------------------------------------------------

    def kill_and_restart(self, name: str, down: float) -> None:
        with self.lock:
            self.processes[name].kill()
            time.sleep(down)
            self.start(name)

    def restart_web_gracefully(self) -> None:
        """SIGHUP: gunicorn starts new workers, which load the code again, and stops the old ones
        once their requests are answered; its listening socket stays open throughout."""
        with self.lock:
            os.kill(self.processes["web"].popen.pid, signal.SIGHUP)

    def kill_worker_mid_run(self) -> None:
        from workflows.models import Run

        # Mid-run: wait until the worker has a run in hand.
        wait_for(
            lambda: Run.objects.filter(status=Run.Status.RUNNING, worker__startswith="chaos-1@").exists(),
            10,
            "a run on worker-1",
        )
        self.kill_and_restart("worker-1", 10)

    def kill_worker_with_webhooks_in_flight(self) -> None:
        """Start IN_FLIGHT_RUNS runs of the slow webhook at once, kill the worker running most of
        them while their requests wait for answers, restart it 10 s later."""
        from workflows.models import Run, Workflow
        from workflows.runs import run_enqueue

        workflows = list(Workflow.objects.filter(workflow_id__startswith="slow-").select_related("owner"))
        for index in range(IN_FLIGHT_RUNS):
            workflow = workflows[index % len(workflows)]
            run = run_enqueue(workflow=workflow, owner=workflow.owner, trigger=Run.Trigger.MANUAL, input_text="")
            self.in_flight_runs.append(run.id)
        on_worker_1 = Run.objects.filter(
            id__in=self.in_flight_runs, status=Run.Status.RUNNING, worker__startswith="chaos-1@"
        )
        wait_for(lambda: on_worker_1.count() >= IN_FLIGHT_RUNS // 4, 20, "webhooks in flight on worker-1")
        self.in_flight_at_kill = on_worker_1.count()
        self.kill_and_restart("worker-1", 10)

    def restart_redis(self) -> None:
        self.redis.kill()
        time.sleep(3)
        self.start_redis()

    def restart_postgres(self) -> None:
        from django.db import connections

        self.pg.crash()
        connections.close_all()
        time.sleep(3)
        self.pg.start()

    # --- the run ------------------------------------------------------------------------------------

    def setup_jobs(self) -> tuple[list[str], list[tuple[str, str]], dict[str, str]]:
        from django.contrib.auth import get_user_model
        from rest_framework_simplejwt.tokens import AccessToken

        users = [get_user_model().objects.create_user(username=f"chaos-{n}") for n in range(self.args.users)]
        tokens = {user.username: str(AccessToken.for_user(user)) for user in users}
        workflow_of = {}
        step = {"type": "http", "url": self.receiver.url, "body": {"topic": "{{input}}"}, "timeout": 10}
        slow = {"type": "http", "url": self.receiver.slow_url, "body": {"run": "slow"}, "timeout": 30}
        for name, token in tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            body = {"workflow_id": f"hook-{name}", "name": "Call the receiver", "steps": [step]}
            response = httpx.post(f"{self.base}/api/workflows", json=body, headers=headers, timeout=30)
            response.raise_for_status()
            workflow_of[name] = body["workflow_id"]
            body = {"workflow_id": f"slow-{name}", "name": "Call the slow endpoint", "steps": [slow]}
            httpx.post(f"{self.base}/api/workflows", json=body, headers=headers, timeout=30).raise_for_status()
        steady = []
        rng = random.Random(20261203)
        names = list(tokens)
        with httpx.Client(base_url=self.base, timeout=30) as client:
            for n in range(self.args.jobs):
                name = names[n % len(names)]
                job_id = f"steady-{n:04d}"
                body = {"job_id": job_id, "workflow_id": workflow_of[name], "seconds": rng.randint(1, 5)}
                response = client.post(
                    "/api/cron/jobs/interval", json=body, headers={"Authorization": f"Bearer {tokens[name]}"}
                )
                response.raise_for_status()
                steady.append(job_id)
        return steady, list(tokens.items()), workflow_of

    def run(self) -> int:
        self.receiver = Receiver()
        self.up()
        import django

        django.setup()
        try:
            return self.run_phases()
        finally:
            self.down()

    def run_phases(self) -> int:
        from django.db import connections

        steady, users, workflow_of = self.setup_jobs()
        stop_supervising = threading.Event()
        threading.Thread(target=self.supervise, args=(stop_supervising,), daemon=True).start()
        stream = ApiStream(self.base, users, workflow_of)
        stream.start()
        print(f"# {len(steady)} steady jobs, {len(users)} users changing jobs through the API", flush=True)
        time.sleep(3)
        faults = [
            ("none", None),
            ("kill -9 of a beat", lambda: self.kill_and_restart("beat-1", 10)),
            ("kill -9 of a worker mid-run", self.kill_worker_mid_run),
            ("kill -9 of a worker with webhooks in flight", self.kill_worker_with_webhooks_in_flight),
            ("Redis restart", self.restart_redis),
            ("PostgreSQL restart", self.restart_postgres),
            ("web restart under load", self.restart_web_gracefully),
            ("kill -9 of web under load", lambda: self.kill_and_restart("web", 3)),
        ]
        if self.args.faults:
            chosen = set(self.args.faults.split(","))
            faults = [fault for fault in faults if fault[0] == "none" or fault[0].split()[0].lower() in chosen]
        phases = []
        for name, inject in faults:
            phase = Phase(name, datetime.now(UTC))
            self.phase = name
            before = dict(stream.stats.by_status)
            print(f"# phase: {name}", flush=True)
            if inject is not None:
                time.sleep(5)
                phase.fault_at = datetime.now(UTC)
                inject()
            time.sleep(max(0.0, self.args.phase_seconds - (datetime.now(UTC) - phase.start).total_seconds()))
            phase.end = datetime.now(UTC)
            phase.api = {k: v - before.get(k, 0) for k, v in stream.stats.by_status.items()}
            phases.append(phase)
        stream.stop.set()
        self.phase = "settling"
        connections.close_all()
        print("# settling: waiting for every slot of the last phase to end", flush=True)
        self.settle(phases[-1].end)
        stop_supervising.set()
        return self.report(steady, phases, stream)

    def settle(self, until: datetime) -> None:
        from workflows.models import Run

        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            unfinished = Run.objects.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])
            open_runs = unfinished.filter(scheduled_for__lte=until).count()
            open_runs += unfinished.filter(id__in=self.in_flight_runs).count()
            if not open_runs:
                return
            time.sleep(2)

    def report(self, steady: list[str], phases: list[Phase], stream: ApiStream) -> int:
        sys.path.insert(0, str(ROOT / "scripts"))
        from consistency import invariants, slots

        from workflows.models import Run

        broken: list[str] = []  # the promises broken, named
        rows = []
        first = phases[0]
        settled_from = first.start + (first.end - first.start) / 4  # past the start-up of the first phase
        rates = self.starts_per_second(steady, settled_from, first.end)
        baseline = sum(rates) / len(rates)
        for phase in phases:
            account = slots(job_ids=steady, since=phase.start, until=phase.end, deliveries=self.receiver.deliveries)
            late = self.late_slots(steady, phase)
            recovery = None if phase.fault_at is None else self.recovery(steady, phase, baseline)
            if phase.fault_at is None:
                shown_recovery = f"n/a ({baseline:.0f} runs started/s)"
            elif recovery is None:
                shown_recovery = "not within the phase"
            else:
                shown_recovery = f"{recovery} s"
            api = phase.api
            duplicates = account.delivered_twice
            rows.append(
                [
                    phase.name,
                    f"{account.expected:,}",
                    f"{account.ran:,}" + (f" ({fmt_counter(account.failed)})" if account.failed else ""),
                    fmt_counter(account.skipped) or "0",
                    str(duplicates),
                    str(account.pending),
                    str(account.lost),
                    str(late),
                    shown_recovery,
                    f"{sum(api.values())} / {api.get('5xx', 0)} / {api.get('503', 0)} / {api.get('refused', 0)}",
                ]
            )
            for count, what in [
                (duplicates, "duplicates"),
                (account.lost, "silent losses"),
                (account.pending, "stuck runs"),
                (api.get("5xx", 0), "5xx answers other than 503"),
                (api.get("4xx", 0), "refusals of requests that should have succeeded"),
            ]:
                if count:
                    broken.append(f"{phase.name}: {count} {what}")
        header = [
            "fault",
            "slots expected",
            "ran (failed: reason)",
            "skipped (reason)",
            "duplicates",
            "stuck",
            "silent losses",
            f"late > {LATE:.0f} s or missed",
            "recovery",
            "API calls / 5xx / 503 / refused",
        ]
        print()
        print(markdown(header, rows))
        state = invariants()
        print()
        print(
            markdown(
                ["after the run", "count"],
                [
                    ["slots with two runs", str(state.duplicate_slots)],
                    ["runs stuck running", str(state.stuck_running)],
                    ["runs stuck queued", str(state.stuck_queued)],
                    ["jobs without their PeriodicTask", str(state.jobs_without_task)],
                    ["PeriodicTasks without their job", str(state.tasks_without_job)],
                    ["webhook deliveries", f"{self.receiver.total:,}"],
                    ["runs recorded", f"{Run.objects.count():,}"],
                ],
            )
        )
        if self.in_flight_runs:
            broken += self.report_in_flight()
        broken += self.report_cancels(stream)
        if stream.stats.unexpected:
            print("\nRefused or failed API calls (first 20):")
            for method, path, status, body in stream.stats.unexpected:
                print(f"  {method} {path} -> {status} {body}")
        if self.crashes:
            print("\nProcesses that exited on their own (restarted):")
            for phase, what in self.crashes:
                print(f"  during {phase}: {what}")
        broken += [f"during {phase}: {what} exited on its own" for phase, what in self.crashes]
        if not state.ok:
            broken.append("after the run: the invariants above do not hold")
        if broken:
            print("\nBroken promises:")
            for line in broken:
                print(f"  {line}")
        print(f"\nlogs: {self.logs}")
        return 1 if broken else 0

    def report_cancels(self, stream: ApiStream) -> list[str]:
        """The runs the API stream cancelled: a run cancelled while queued never ran, none was
        delivered twice, none was left unfinished."""
        from workflows.models import Run

        queued, running, ended = (stream.cancels[key] for key in ("queued", "running", "ended"))
        every = queued + running + ended
        ran_anyway = Run.objects.filter(id__in=queued, started_at__isnull=False).count()
        ran_anyway += sum(1 for run_id in queued if self.receiver.by_run[run_id])
        twice = sum(1 for run_id in every if self.receiver.by_run[run_id] > 1)
        unfinished = Run.objects.filter(id__in=every, finished_at__isnull=True).count()
        stopped = Run.objects.filter(id__in=running, status=Run.Status.CANCELLED).count()
        print()
        print(
            markdown(
                ["runs cancelled through the API", "count"],
                [
                    ["queued: ended cancelled at once", str(len(queued))],
                    ["of them started or delivered anyway", str(ran_anyway)],
                    ["running: stopped by their worker", f"{len(running)} ({stopped} ended cancelled, the rest first)"],
                    ["already ended (409)", str(len(ended))],
                    ["delivered more than once", str(twice)],
                    ["cancelled runs left queued or running", str(unfinished)],
                ],
            )
        )
        broken = []
        if ran_anyway:
            broken.append(f"cancels: {ran_anyway} runs cancelled while queued ran anyway")
        if twice:
            broken.append(f"cancels: {twice} cancelled runs were delivered more than once")
        if unfinished:
            broken.append(f"cancels: {unfinished} cancelled runs were left queued or running")
        return broken

    def report_in_flight(self) -> list[str]:
        """The runs of the in-flight kill: each webhook called at most once, none left unfinished."""
        from workflows.models import Run

        runs = Run.objects.filter(id__in=self.in_flight_runs)
        outcomes = Counter(
            f"{status} ({reason})" if reason else status for status, reason in runs.values_list("status", "reason")
        )
        calls = [self.receiver.slow_deliveries.get(str(run_id), 0) for run_id in self.in_flight_runs]
        twice = sum(1 for count in calls if count > 1)
        unfinished = runs.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).count()
        print()
        print(
            markdown(
                ["webhooks in flight when a worker was killed", "count"],
                [
                    ["runs started at once", str(len(self.in_flight_runs))],
                    ["of them running on the killed worker", str(self.in_flight_at_kill)],
                    ["outcomes", fmt_counter(outcomes)],
                    ["webhook called once / never / more than once", f"{calls.count(1)} / {calls.count(0)} / {twice}"],
                    ["left queued or running", str(unfinished)],
                ],
            )
        )
        broken = []
        if twice:
            broken.append(f"in-flight kill: {twice} webhooks called more than once")
        if unfinished:
            broken.append(f"in-flight kill: {unfinished} runs left queued or running")
        return broken

    def late_slots(self, steady: list[str], phase: Phase) -> int:
        """Slots of the phase that started more than LATE seconds after their time or were recorded
        as missed. (A slot skipped because the job's previous run was still going is the overlap
        policy at work, counted under skipped, not here.)"""
        from workflows.models import Run

        runs = Run.objects.filter(
            job__job_id__in=steady,
            trigger=Run.Trigger.SCHEDULE,
            scheduled_for__gte=phase.start,
            scheduled_for__lte=phase.end,
        ).values_list("scheduled_for", "started_at", "reason")
        return sum(
            1
            for slot, started, reason in runs
            if reason == Run.Reason.MISSED or (started is not None and (started - slot).total_seconds() > LATE)
        )

    def starts_per_second(self, steady: list[str], start: datetime, end: datetime) -> list[int]:
        """How many runs of the steady jobs started in each second from ``start`` to ``end``."""
        from workflows.models import Run

        seconds = [0] * max(1, int((end - start).total_seconds()))
        for started in Run.objects.filter(
            job__job_id__in=steady, started_at__gte=start, started_at__lt=end
        ).values_list("started_at", flat=True):
            seconds[min(len(seconds) - 1, int((started - start).total_seconds()))] += 1
        return seconds

    def recovery(self, steady: list[str], phase: Phase, baseline: float) -> float | None:
        """Seconds from the fault until runs start at RECOVERED of the baseline rate again, for good
        (a moving average over RECOVERY_WINDOW seconds, to the end of the phase); None if they never
        did within the phase."""
        rates = self.starts_per_second(steady, phase.fault_at, phase.end)
        windows = [
            sum(rates[i : i + RECOVERY_WINDOW]) / RECOVERY_WINDOW for i in range(len(rates) - RECOVERY_WINDOW + 1)
        ]
        recovered = None
        for second in range(len(windows) - 1, -1, -1):
            if windows[second] < RECOVERED * baseline:
                break
            recovered = second
        return recovered


def fmt_counter(counter: Counter) -> str:
    return ", ".join(f"{reason} {count:,}" for reason, count in counter.most_common())


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500, help="steady jobs (interval 1-5 s)")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--phase-seconds", type=float, default=40.0)
    parser.add_argument("--concurrency", type=int, default=100, help="runs at once per worker (gevent pool)")
    parser.add_argument("--faults", help="comma-separated subset: kill,redis,postgresql,web (none always runs)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    chaos = Chaos(args)
    status = 1
    try:
        status = chaos.run()
    finally:
        if status == 0 and not os.environ.get("CHAOS_KEEP"):
            shutil.rmtree(chaos.folder, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
