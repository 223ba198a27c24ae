"""The live run stream under load: how soon an event reaches its subscribers with 1,000 and 5,000
streams open on one stream server process, and that process's memory.

    make bench-stream
    .venv/bin/python scripts/bench_stream.py --streams 1000,5000 --users 500 --events 2000 --rate 200

For each count of streams: a fresh stream server (`uvicorn streams.asgi:application`, one process,
as `make run` starts it); a client process opens the streams (asyncio, one socket each), spread
over --users users (streams / users each: a user's open browser tabs), and records when each event
arrives. This process then sends --events run events at --rate per second, each of a random user's
run, as a worker does: the run's row is updated and committed, then its event published. A
delivery's latency is the time its subscriber read the event minus the commit (one clock: same
machine). RSS is read from /proc once every stream is open and idle, and after the events.

Not a timed test: the machine is shared; each number is one measurement. The bench has its own
database and Redis db (BENCH_DATABASE_URL, BENCH_REDIS_URL).
"""

import argparse
import asyncio
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
LOGS = ROOT / ".bench-logs"
P99_TARGET_MS, RSS_TARGET_MB = 250, 300
RUN_ID = re.compile(rb'"run_id":"([0-9a-f-]{36})"')


# --- the client: many streams on one event loop, each event's arrival time kept ------------------


async def _subscriber(url: str, arrivals: list, opened: asyncio.Queue) -> None:
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    request = f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: text/event-stream\r\n\r\n"
    writer.write(request.encode())
    status = await reader.readline()
    opened.put_nowait(status.split()[1] == b"200")
    while line := await reader.readline():
        if line.startswith(b"data: "):
            found = RUN_ID.search(line)
            if found:
                arrivals.append((found.group(1).decode(), time.time()))


async def _client(urls: list[str], out: Path) -> None:
    arrivals: list[tuple[str, float]] = []
    opened: asyncio.Queue[bool] = asyncio.Queue()
    tasks = []
    for start in range(0, len(urls), 200):  # in steps, as the listen backlog allows
        tasks += [asyncio.create_task(_subscriber(url, arrivals, opened)) for url in urls[start : start + 200]]
        await asyncio.sleep(0.05)
    refused = 0
    for _ in urls:
        refused += not await opened.get()
    print(f"open {len(urls) - refused} refused {refused}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    out.write_text(json.dumps(arrivals))


def client_main(urls_file: Path, out: Path) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(_client(json.loads(urls_file.read_text()), out))


# --- the bench -----------------------------------------------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vingine_bench")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")
    import django

    from scripts.databases import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"bench-stream: timed out waiting for {what}")
        time.sleep(0.1)
    return result


def seed(users: int, runs: int) -> tuple[list, dict[str, int]]:
    """``users`` users with ``runs`` queued runs among them; returns the users and run id -> owner."""
    from django.contrib.auth import get_user_model

    from workflows.models import Run, Workflow

    Run.objects.filter(owner__username__startswith="bench-stream-").delete()
    people = [get_user_model().objects.get_or_create(username=f"bench-stream-{n}")[0] for n in range(users)]
    workflows = {
        person.pk: Workflow.objects.update_or_create(
            workflow_id=f"bench-stream-{person.pk}",
            defaults={"owner": person, "steps": [{"type": "python", "callable": "echo"}]},
        )[0]
        for person in people
    }
    made = Run.objects.bulk_create(
        Run(workflow=workflows[owner.pk], owner=owner, trigger=Run.Trigger.MANUAL, input_text="x")
        for owner in random.choices(people, k=runs)
    )
    return people, {str(run.id): run.owner_id for run in made}


def case(streams: int, users: int, events: int, rate: float) -> dict:
    from django.db import connection
    from django.utils import timezone

    from streams import tokens
    from streams.tokens import StreamScope
    from workflows import events as run_events
    from workflows.models import Run

    people, runs = seed(users, events)
    port = free_port()
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))  # for this process's children too
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(
        [str(BIN / "uvicorn"), "streams.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        + ["--no-access-log"],
        cwd=ROOT,
        env=env,
        stdout=open(LOGS / f"stream-{streams}.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    client = None
    try:
        wait_for(lambda: b"Uvicorn running" in (LOGS / f"stream-{streams}.log").read_bytes(), 30, "uvicorn")
        base = f"http://127.0.0.1:{port}/api/stream/runs?token="
        urls = [
            base + tokens.issue(StreamScope(caller_id=person.pk, owner_id=person.pk))[0]
            for person in (people * (streams // users + 1))[:streams]
        ]
        (LOGS / "stream-urls.json").write_text(json.dumps(urls))
        out = LOGS / f"stream-arrivals-{streams}.json"
        client = subprocess.Popen(
            [sys.executable, __file__, "--client", str(LOGS / "stream-urls.json"), str(out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = client.stdout.readline().split()
        if ready[:1] != ["open"] or int(ready[1]) != streams:
            raise SystemExit(f"bench-stream: the client opened {ready}, not {streams} streams")
        wait_for(lambda: _health(port) == streams, 60, f"the server to count {streams} streams")
        time.sleep(2)
        rss_idle, cpu_before = rss_mb(server.pid), cpu_seconds(server.pid)

        committed: dict[str, float] = {}
        begin = time.monotonic()
        for n, (run_id, owner) in enumerate(runs.items()):
            time.sleep(max(0.0, begin + n / rate - time.monotonic()))
            Run.objects.filter(id=run_id).update(status=Run.Status.RUNNING, started_at=timezone.now())  # committed
            committed[run_id] = time.time()
            run_events.publish([run_events.RunEvent(run_events.STARTED, run_id, owner, None)])
        time.sleep(3)  # the last deliveries
        rss_after, cpu = rss_mb(server.pid), cpu_seconds(server.pid) - cpu_before
        client.send_signal(signal.SIGTERM)
        client.wait(60)
        arrivals = json.loads(out.read_text())
    finally:
        for process in (client, server):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)
        connection.close()
    per_user = {}
    for person in (people * (streams // users + 1))[:streams]:
        per_user[person.pk] = per_user.get(person.pk, 0) + 1
    expected = sum(per_user[owner] for owner in runs.values())
    latencies = sorted((at - committed[run_id]) * 1000 for run_id, at in arrivals if run_id in committed)
    return {
        "streams": streams,
        "users": users,
        "events": events,
        "expected": expected,
        "delivered": len(latencies),
        "p50": pct(latencies, 50),
        "p99": pct(latencies, 99),
        "max": latencies[-1] if latencies else None,
        "rss_idle": rss_idle,
        "rss_after": rss_after,
        "cpu_ms_per_delivery": cpu * 1000 / max(1, len(latencies)),
    }


def _health(port: int) -> int:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return json.load(answer)["streams"]
    except OSError:
        return -1


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(len(values) * p / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1000,5000", help="comma-separated counts of open streams")
    parser.add_argument("--users", type=int, default=500, help="users the streams are spread over")
    parser.add_argument("--events", type=int, default=2000, help="run events sent per case")
    parser.add_argument("--rate", type=float, default=200.0, help="run events per second")
    args = parser.parse_args()
    LOGS.mkdir(exist_ok=True)
    setup_django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = [case(int(count), args.users, args.events, args.rate) for count in args.streams.split(",")]
    print()
    print(f"Live run stream: {args.events} run events at {args.rate:g}/s, each to every open stream of its user")
    print()
    print(
        "| open streams (users × each) | deliveries | delivered after the commit p50 / p99 / max"
        " | server RSS idle / after | server CPU per delivery |"
    )
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        each = r["streams"] / r["users"]
        print(
            f"| {r['streams']:,} ({r['users']} × {each:g}) | {r['delivered']:,} of {r['expected']:,} |"
            f" {r['p50']:.0f} / {r['p99']:.0f} / {r['max']:.0f} ms | {r['rss_idle']:.0f} / {r['rss_after']:.0f} MB |"
            f" {r['cpu_ms_per_delivery']:.2f} ms |"
        )
    print(f"| target (5,000 streams) | all | p99 ≤ {P99_TARGET_MS} ms | ≤ {RSS_TARGET_MB} MB | |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--client"]:
        client_main(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
