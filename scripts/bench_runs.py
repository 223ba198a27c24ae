"""Runs executed at scale: ours against bare Celery doing a run's minimum, side by side in one run.

    make bench                                    # the scheduler's table, then this one
    .venv/bin/python scripts/bench_runs.py        # this one alone
    .venv/bin/python scripts/bench_runs.py --runs 500 --cases echo,http

Every case starts its worker processes fresh: `make run`'s engine (WORKER_PROCESSES processes of
`celery -A vingine worker -P gevent -c WORKER_CONCURRENCY`) for ours, the same pool, processes and
concurrency of `celery -A bare_celery worker` for the baseline, on the same Redis and PostgreSQL.

- ours: N jobs of `--users` users (as many jobs each as CRON_MAX_JOBS_PER_USER allows by default)
  are due at one slot T; one `celery beat` (our JobScheduler) fires them. Times come from the runs'
  own rows: start lag = started_at − scheduled_for, all finished = last finished_at − T.
- bare: N rows of a table and N messages of `bare.run`, sent by this process in one Redis pipeline
  at T; each claims its row (UPDATE), calls the receiver in the http case, records its result (UPDATE).

Cases:
- echo: one-step `echo` runs.
- http: one http step, answered by a local receiver after 200 ms.
- fairness: user A has 5,000 runs at T whose webhook answers after 2 s, user B one run at T + 5 s:
  B's start lag, and how many of A's runs were still waiting then. Bare Celery's single FIFO queue
  is measured the same way (B's message behind A's 5,000).
- memory: one worker process (-c 200) with 200 runs in flight on an endpoint that answers after
  10 s: its RSS once all 200 are waiting.

Not a timed test: the machine is shared, so each number is one measurement; the ratios are what
to read. The bench has its own database and Redis db (BENCH_DATABASE_URL, BENCH_REDIS_URL).
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vingine_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")
os.environ.setdefault("LOG_LEVEL", "INFO")  # make run's
os.environ.setdefault("WORKFLOW_HTTP_ALLOWED_HOSTS", "127.0.0.1")
os.environ.setdefault("CRON_MAX_JOBS_PER_USER", "10000000")

import django  # noqa: E402

from scripts.databases import ensure_database  # noqa: E402

ensure_database(os.environ["DATABASE_URL"])
django.setup()

import redis  # noqa: E402
from celery import Celery  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_celery_beat.models import IntervalSchedule, PeriodicTask  # noqa: E402

from cronjobs.models import CronJob  # noqa: E402
from cronjobs.periodic_tasks import FIRE_TASK  # noqa: E402
from scripts.processes import Process  # noqa: E402
from vingine import broker  # noqa: E402
from workflows.models import Run, RunLimit, Workflow  # noqa: E402

BIN = Path(sys.executable).parent
BARE = Celery("bare-publisher", broker=os.environ["REDIS_URL"])  # sends bare_celery's messages
LOGS = ROOT / ".bench-logs"
SLOT_AHEAD = 14.0  # seconds from seeding to the slot: beat claims 10 s ahead
HOUR = 3600


# --- the receiver: answers every request after a delay, many at once ----------------------------


def receiver(port: int) -> None:
    """An HTTP server on 127.0.0.1:port answering each request after ?delay= seconds (asyncio)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                if length:
                    await reader.readexactly(length)
                target = head.split(b" ", 2)[1].decode()
                delay = float(target.partition("delay=")[2] or 0)
                await asyncio.sleep(delay)
                body = b'{"ok": true}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, "127.0.0.1", port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes ----------------------------------------------------------------------------------


def env(**extra: str) -> dict[str, str]:
    base = dict(os.environ)
    base.update(
        DATABASE_URL=os.environ["DATABASE_URL"],
        REDIS_URL=os.environ["REDIS_URL"],
        BARE_DATABASE_URL=os.environ["DATABASE_URL"],
        BARE_REDIS_URL=os.environ["REDIS_URL"],
        PYTHONUNBUFFERED="1",
    )
    base.update(extra)
    return base


def start_workers(kind: str, processes: int, concurrency: int, **extra: str) -> list[Process]:
    """``processes`` worker processes on the gevent pool, ready to take messages."""
    app = "vingine" if kind == "ours" else "scripts.bare_celery"
    started = []
    for index in range(processes):
        args = [str(BIN / "celery"), "-A", app, "worker", "-P", "gevent", "-c", str(concurrency)]
        args += ["-n", f"bench-{kind}-{index}@localhost", "--without-mingle", "--without-gossip"]
        args += ["--loglevel", os.environ["LOG_LEVEL"]]
        started.append(Process(f"{kind}-worker-{index}", args, env=env(**extra), logs=LOGS).start())
    deadline = time.monotonic() + 60
    while not all("ready." in process.log() for process in started):
        if time.monotonic() > deadline or not all(process.running for process in started):
            stop(started)
            raise SystemExit(f"{kind} workers did not start; see {LOGS}")
        time.sleep(0.2)
    return started


def start_beat() -> Process:
    beat = Process(
        "beat",
        [
            str(BIN / "celery"),
            "-A",
            "vingine",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(LOGS / "beat-schedule"),
        ],
        env=env(),
        logs=LOGS,
    ).start()
    time.sleep(2)
    return beat


def stop(processes: list[Process]) -> None:
    for process in processes:
        process.kill()  # nothing to finish: what they held is thrown away with the case


def cpu_seconds(processes: list[Process], which: tuple[int, ...] = (11, 12)) -> float:
    """User + system CPU of the processes (and their children), from /proc."""
    total = 0.0
    for process in processes:
        for pid in [process.popen.pid, *children(process.popen.pid)]:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += sum(int(fields[index]) for index in which) / os.sysconf("SC_CLK_TCK")
    return total


def postgres_cpu() -> dict[int, float]:
    """User + system CPU of each PostgreSQL backend serving the bench's database (they do the runs'
    statements), from /proc; PostgreSQL's shared processes and other databases' backends, busy with
    whatever else this machine runs, are left out, and so is this script's own backend."""
    database = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = cursor.fetchone()[0]
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace").split()
            if title[:1] != ["postgres:"] or database not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def postgres_cpu_since(before: dict[int, float]) -> float:
    """CPU seconds the bench database's backends used since ``before`` (``postgres_cpu()``): backends
    started since count whole; those that ended meanwhile are lost (the workers' pooled connections
    stay open, so little is)."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in postgres_cpu().items())


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return found


def rss_mb(process: Process) -> float:
    for line in Path(f"/proc/{process.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --- ours: jobs due at one slot, fired by beat, run by our workers ------------------------------


def reset() -> None:
    with connection.cursor() as cursor:
        # Signing secrets too: one made by another checkout (another SECRETS_ENCRYPTION_KEY) could
        # not be decrypted here, and every http run would fail.
        cursor.execute(
            "TRUNCATE workflows_run, cronjobs_cronjob, django_celery_beat_periodictask,"
            " django_celery_beat_intervalschedule, workflows_signingsecret CASCADE"
        )
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(
            f"CREATE TABLE {TABLE} (id uuid PRIMARY KEY, status text NOT NULL, started_at timestamptz,"
            " finished_at timestamptz, output jsonb)"
        )
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()


TABLE = "bench_bare_run"


def user(name: str):
    return get_user_model().objects.get_or_create(username=name)[0]


def workflow_of(owner, steps: list[dict]) -> Workflow:
    workflow, _ = Workflow.objects.update_or_create(
        workflow_id=f"bench-{owner.username}", defaults={"owner": owner, "steps": steps}
    )
    return workflow


def seed_jobs(workflow: Workflow, count: int, slot, prefix: str) -> None:
    """``count`` jobs of the workflow's owner whose next slot is ``slot``, rows as the services write
    them (an hourly interval anchored an hour before the slot)."""
    every = IntervalSchedule.objects.get_or_create(every=HOUR, period=IntervalSchedule.SECONDS)[0]
    names = [f"{prefix}-{index:05d}" for index in range(count)]
    PeriodicTask.objects.bulk_create(
        [PeriodicTask(name=name, task=FIRE_TASK, interval=every, kwargs=json.dumps({"job_id": name})) for name in names]
    )
    tasks = dict(PeriodicTask.objects.filter(name__in=names).values_list("name", "id"))
    CronJob.objects.bulk_create(
        [
            CronJob(
                job_id=name,
                owner=workflow.owner,
                workflow=workflow,
                schedule_type="interval",
                interval_seconds=HOUR,
                anchor=slot - timedelta(seconds=HOUR),
                next_fire_at=slot,
                overlap="allow",
                periodic_task_id=tasks[name],
            )
            for name in names
        ],
        batch_size=2000,
    )


def wait_for(condition, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            print(f"  (gave up waiting for {what} after {timeout:.0f} s)", flush=True)
            return None
        time.sleep(interval)


FINISHED = (Run.Status.SUCCEEDED, Run.Status.FAILED)


def ours_burst(runs: int, users: int, steps: list[dict], processes: int, concurrency: int) -> dict:
    reset()
    workers = start_workers("ours", processes, concurrency)
    beat = start_beat()
    try:
        slot = timezone.now().replace(microsecond=0) + timedelta(seconds=SLOT_AHEAD)
        for index in range(users):
            share = runs // users + (1 if index < runs % users else 0)
            seed_jobs(workflow_of(user(f"bench-user-{index}"), steps), share, slot, f"burst-{index}")
        # CPU from the slot on: claiming ahead (beat writing the runs) is done by then, as the bare
        # baseline's rows exist before its messages are sent.
        time.sleep(max(0.0, (slot - timezone.now()).total_seconds()))
        cpu_before, pg_before, beat_before = cpu_seconds(workers), postgres_cpu(), cpu_seconds([beat])
        mine = Run.objects.filter(scheduled_for=slot)
        done = wait_for(lambda: mine.filter(status__in=FINISHED).count() >= runs, SLOT_AHEAD + 180, "our runs")
        cpu = cpu_seconds(workers) - cpu_before
        pg, beat_cpu = postgres_cpu_since(pg_before), cpu_seconds([beat]) - beat_before
        rows = list(mine.values_list("started_at", "finished_at", "status"))
    finally:
        stop([*workers, beat])
    return {**summary(rows, slot, runs, done is not None, cpu), **per_run(pg=pg, beat=beat_cpu, runs=runs)}


def per_run(*, runs: int, **cpu: float) -> dict:
    return {f"{name}_ms_per_run": 1000 * seconds / runs for name, seconds in cpu.items()}


def summary(rows: list[tuple], slot, expected: int, complete: bool, cpu: float | None) -> dict:
    started = sorted((row[0] - slot).total_seconds() for row in rows if row[0])
    finished = [(row[1] - slot).total_seconds() for row in rows if row[1]]
    last = max(finished) if finished else None
    return {
        "runs": expected,
        "finished": len(finished),
        "failed": sum(1 for row in rows if row[2] == Run.Status.FAILED),
        "complete": complete,
        "all_finished": last,
        "rate": len(finished) / last if last else None,
        "lag50": pct(started, 0.5),
        "lag99": pct(started, 0.99),
        "cpu_ms_per_run": 1000 * cpu / len(finished) if cpu is not None and finished else None,
    }


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return sorted(values)[min(len(values) - 1, int(p * len(values)))]


# --- bare Celery: the same number of messages, sent at the slot -----------------------------------


def bare_rows(ids: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (id, status) SELECT unnest(%s::uuid[]), 'queued'", [ids])


def bare_send_at(moment, ids: list[str]):
    """Send ``bare.run(id)`` for every id in one pipeline at ``moment`` (messages built before, as
    our beat builds its ahead of the slot); returns when they were sent."""
    messages = broker.build_messages(BARE, "bare.run", {task_id: (task_id,) for task_id in ids})
    time.sleep(max(0.0, (moment - timezone.now()).total_seconds()))
    sent = timezone.now()
    broker.send(BARE, messages)
    return sent


def bare_burst(runs: int, url: str | None, processes: int, concurrency: int) -> dict:
    reset()
    workers = start_workers("bare", processes, concurrency, **({"BARE_URL": url} if url else {}))
    try:
        ids = [str(uuid.uuid4()) for _ in range(runs)]
        bare_rows(ids)
        slot = bare_send_at(timezone.now() + timedelta(seconds=2), ids)
        cpu_before, pg_before = cpu_seconds(workers), postgres_cpu()  # from the slot on
        done = wait_for(lambda: bare_count("status = 'succeeded'") >= runs, 180, "bare runs")
        cpu, pg = cpu_seconds(workers) - cpu_before, postgres_cpu_since(pg_before)
        rows = bare_table()
    finally:
        stop(workers)
    return {**summary(rows, slot, runs, done is not None, cpu), **per_run(pg=pg, beat=0.0, runs=runs)}


def bare_count(where: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE {where}")
        return cursor.fetchone()[0]


def bare_table() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT started_at, finished_at, CASE WHEN status = 'succeeded' THEN 'succeeded' END FROM {TABLE}"
        )
        return cursor.fetchall()


# --- fairness: A's 5,000 slow runs at T, B's one run at T + 5 s -------------------------------------


def ours_fairness(backlog: int, url: str, processes: int, concurrency: int) -> dict:
    reset()
    workers = start_workers("ours", processes, concurrency)
    beat = start_beat()
    try:
        steps = [{"type": "http", "method": "GET", "url": url, "timeout": 60}]
        slot = timezone.now().replace(microsecond=0) + timedelta(seconds=SLOT_AHEAD)
        a, b = user("bench-user-a"), user("bench-user-b")
        seed_jobs(workflow_of(a, steps), backlog, slot, "fair-a")
        seed_jobs(workflow_of(b, steps), 1, slot + timedelta(seconds=5), "fair-b")
        b_run = Run.objects.filter(owner=b)
        started = wait_for(
            lambda: b_run.filter(started_at__isnull=False).values_list("started_at", "scheduled_for").first(),
            SLOT_AHEAD + 60,
            "B's run to start",
        )
        if started is None:
            return {"lag": None, "waiting": None, "limit": settings.RUN_MAX_CONCURRENT_PER_USER}
        b_started, b_slot = started
        # A's runs not yet started when B's did: every one of them is waiting behind A's limit.
        waiting = Run.objects.filter(owner=a).exclude(started_at__lte=b_started).count()
        held = Run.objects.filter(owner=a, wait_reason=Run.WaitReason.CONCURRENCY_LIMIT).count()
    finally:
        stop([*workers, beat])
    return {"lag": (b_started - b_slot).total_seconds(), "waiting": waiting, "held": held}


def bare_fairness(backlog: int, url: str, processes: int, concurrency: int) -> dict:
    reset()
    workers = start_workers("bare", processes, concurrency, BARE_URL=url)
    try:
        a_ids, b_id = [str(uuid.uuid4()) for _ in range(backlog)], str(uuid.uuid4())
        bare_rows([*a_ids, b_id])
        bare_send_at(timezone.now() + timedelta(seconds=2), a_ids)
        b_slot = bare_send_at(timezone.now() + timedelta(seconds=5), [b_id])
        with connection.cursor() as cursor:

            def b_started():
                cursor.execute(f"SELECT started_at FROM {TABLE} WHERE id = %s", [b_id])
                return cursor.fetchone()[0]

            started = wait_for(b_started, 60, "bare B to start")
        waiting = bare_count("started_at IS NULL") if started is None else None
        if started is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT count(*) FROM {TABLE} WHERE started_at IS NULL OR started_at > %s", [started])
                waiting = cursor.fetchone()[0]
    finally:
        stop(workers)
    return {"lag": (started - b_slot).total_seconds() if started else None, "waiting": waiting}


# --- memory: 200 runs in flight on a slow endpoint, one worker process --------------------------


def ours_memory(in_flight: int, url: str) -> dict:
    reset()
    [worker] = start_workers("ours", 1, in_flight)
    beat = start_beat()
    try:
        owner = user("bench-user-memory")
        RunLimit.objects.update_or_create(owner=owner, defaults={"max_concurrent_runs": in_flight})
        steps = [{"type": "http", "method": "GET", "url": url, "timeout": 60}]
        slot = timezone.now().replace(microsecond=0) + timedelta(seconds=SLOT_AHEAD)
        seed_jobs(workflow_of(owner, steps), in_flight, slot, "memory")
        running = Run.objects.filter(owner=owner, status=Run.Status.RUNNING)
        full = wait_for(lambda: running.count() >= in_flight, SLOT_AHEAD + 30, "every run in flight")
        rss = rss_mb(worker)
    finally:
        stop([worker, beat])
    return {"rss": rss, "all_in_flight": full is not None}


def bare_memory(in_flight: int, url: str) -> dict:
    reset()
    [worker] = start_workers("bare", 1, in_flight, BARE_URL=url)
    try:
        ids = [str(uuid.uuid4()) for _ in range(in_flight)]
        bare_rows(ids)
        bare_send_at(timezone.now(), ids)
        full = wait_for(lambda: bare_count("status = 'running'") >= in_flight, 30, "every bare run in flight")
        rss = rss_mb(worker)
    finally:
        stop([worker])
    return {"rss": rss, "all_in_flight": full is not None}


# --- the table ----------------------------------------------------------------------------------


def seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} s"


def ratio(ours: float | None, bare: float | None) -> str:
    return f"{ours / bare:.2f}" if ours is not None and bare else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs due at one slot (echo and http cases)")
    parser.add_argument("--users", type=int, default=20, help="their owners (100 jobs each by default)")
    parser.add_argument("--backlog", type=int, default=5000, help="user A's runs in the fairness case")
    parser.add_argument("--in-flight", type=int, default=200, help="runs in flight in the memory case")
    parser.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES") or os.cpu_count()))
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKER_CONCURRENCY") or 100))
    parser.add_argument("--cases", default="echo,http,fairness,memory")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        receiver(args.receiver)
        return
    cases = set(args.cases.split(","))
    LOGS.mkdir(exist_ok=True)
    call_command("migrate", verbosity=0)
    port = free_port()
    serving = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}/hook"
    pool = (args.processes, args.concurrency)
    results: dict[str, tuple] = {}
    try:
        time.sleep(1)
        if "echo" in cases:
            print(f"echo: {args.runs:,} runs ...", flush=True)
            steps = [{"type": "python", "callable": "echo"}]
            results["echo"] = (ours_burst(args.runs, args.users, steps, *pool), bare_burst(args.runs, None, *pool))
        if "http" in cases:
            print(f"http: {args.runs:,} runs, answered after 200 ms ...", flush=True)
            url = f"{base}?delay=0.2"
            steps = [{"type": "http", "method": "GET", "url": url, "timeout": 60}]
            results["http"] = (ours_burst(args.runs, args.users, steps, *pool), bare_burst(args.runs, url, *pool))
        if "fairness" in cases:
            print(f"fairness: A {args.backlog:,} runs answered after 2 s, B one run 5 s later ...", flush=True)
            url = f"{base}?delay=2"
            results["fairness"] = (
                ours_fairness(args.backlog, url, *pool),
                bare_fairness(args.backlog, url, *pool),
            )
        if "memory" in cases:
            print(f"memory: {args.in_flight} runs in flight in one worker process ...", flush=True)
            url = f"{base}?delay=10"
            results["memory"] = (ours_memory(args.in_flight, url), bare_memory(args.in_flight, url))
    finally:
        serving.kill()
        reset()
    print_table(args, results)


def print_table(args, results: dict) -> None:
    processes, concurrency = args.processes, args.concurrency
    print()
    print(
        f"{processes} worker processes × {concurrency} (gevent) for both; PostgreSQL and Redis on this machine; "
        f"runs per user limit {settings.RUN_MAX_CONCURRENT_PER_USER}"
    )
    print()
    print("| case | measure | ours | bare Celery | ours / bare |")
    print("| --- | --- | --- | --- | --- |")
    labels = {"echo": f"{args.runs:,} one-step echo runs at one slot", "http": f"{args.runs:,} http runs (200 ms)"}
    for case in ("echo", "http"):
        if case not in results:
            continue
        ours, bare = results[case]
        print(
            f"| {labels[case]} | all finished after the slot | {seconds(ours['all_finished'])} | "
            f"{seconds(bare['all_finished'])} | {ratio(ours['all_finished'], bare['all_finished'])} |"
        )
        print(f"| | runs/s | {fmt(ours['rate'])} | {fmt(bare['rate'])} | {ratio(ours['rate'], bare['rate'])} |")
        print(
            f"| | start lag p50 / p99 | {seconds(ours['lag50'])} / {seconds(ours['lag99'])} | "
            f"{seconds(bare['lag50'])} / {seconds(bare['lag99'])} | |"
        )
        print(
            f"| | worker CPU per run | {fmt(ours['cpu_ms_per_run'], ' ms')} | {fmt(bare['cpu_ms_per_run'], ' ms')} | "
            f"{ratio(ours['cpu_ms_per_run'], bare['cpu_ms_per_run'])} |"
        )
        print(
            f"| | PostgreSQL CPU per run | {fmt(ours['pg_ms_per_run'], ' ms')} | {fmt(bare['pg_ms_per_run'], ' ms')} | "
            f"{ratio(ours['pg_ms_per_run'], bare['pg_ms_per_run'])} |"
        )
        print(f"| | beat CPU per run (sending) | {fmt(ours['beat_ms_per_run'], ' ms')} | (sent by the bench) | |")
        print(
            f"| | finished / failed | {ours['finished']:,} / {ours['failed']:,} | "
            f"{bare['finished']:,} / {bare['failed']:,} | |"
        )
    if "fairness" in results:
        ours, bare = results["fairness"]
        print(
            f"| fairness: A {args.backlog:,} runs (2 s) at T, B 1 run at T + 5 s | B's start lag | "
            f"{seconds(ours['lag'])} | {seconds(bare['lag'])} | {ratio(ours['lag'], bare['lag'])} |"
        )
        print(f"| | A's runs not yet started when B started | {fmt(ours['waiting'])} | {fmt(bare['waiting'])} | |")
    if "memory" in results:
        ours, bare = results["memory"]
        print(
            f"| {args.in_flight} runs in flight (10 s endpoint), 1 process | worker RSS | "
            f"{fmt(ours['rss'], ' MB')} | {fmt(bare['rss'], ' MB')} | {ratio(ours['rss'], bare['rss'])} |"
        )


def fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    return f"{value:,.1f}{unit}"


if __name__ == "__main__":
    main()
