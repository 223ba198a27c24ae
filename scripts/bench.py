"""Stock django-celery-beat DatabaseScheduler against ours, on the same job rows, in one run.

    make bench                              # 100,000 jobs
    .venv/bin/python scripts/bench.py --jobs 20000 --seconds 65

Seeds N jobs straight into the database (bulk_create of PeriodicTask + CronJob rows, as the
services would write them): 10,000 cron jobs firing every minute (a burst: 10,000 jobs due in the
same second), the rest of the cron half hourly at a random minute, the other half interval jobs of
5 to 60 minutes; zones spread over a list with DST and half-hour offsets. Every job has
overlap=allow, since no worker runs here: every due slot is published.

Each scheduler runs in its own child process (so its peak RSS is its own), driven as `celery beat`
drives it (tick, sleep what it asks), publishing to the real Redis broker (BENCH_REDIS_URL; the
queue is purged afterwards). Meanwhile this process makes CHANGES_PER_SECOND schedule changes
(pause / resume through the services). Measured:

- load: building the scheduler (the stock one reads every enabled row);
- idle tick: median duration of a tick that published nothing, before any change;
- one change: duration of the first tick after a committed pause (the stock one reloads everything);
- new job: publish − slot of a job created 2 s before its first slot, while changes go on;
- fire lag p50/p99: publish − slot over every fire whose slot falls in the run (the measured
  phases before it tick irregularly, as no beat does); burst: the every-minute jobs' fires;
- peak RSS of the child.

A scheduler that cannot finish a phase is cut off at its bound and the table says what it managed.
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vingine_bench")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/4")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")
os.environ.setdefault("CRON_MIN_INTERVAL_SECONDS", "1")
os.environ.setdefault("CRON_MAX_JOBS_PER_USER", "10000000")
# Every job is one user's and no worker runs here: no concurrency limit may hold the runs back.
os.environ.setdefault("RUN_MAX_CONCURRENT_PER_USER", "10000000")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

from scripts.databases import ensure_database  # noqa: E402

ensure_database(os.environ["DATABASE_URL"])
django.setup()

from celery.utils.imports import symbol_by_name  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks  # noqa: E402

from cronjobs import periodic_tasks, schedules, services  # noqa: E402
from cronjobs.models import CronJob  # noqa: E402
from vingine.celery import app  # noqa: E402
from workflows.models import Run, Workflow  # noqa: E402

STOCK = "django_celery_beat.schedulers:DatabaseScheduler"
OURS = "cronjobs.beat:JobScheduler"
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "America/Sao_Paulo"]
CHANGES_PER_SECOND = 10
USER = "bench-user"
QUIET_SECONDS = 4.0
PHASE_LIMIT = 120.0  # seconds any single measured step may take before it is cut off


# --- seeding ---------------------------------------------------------------------------------


def seed(n: int, burst: int) -> None:
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE workflows_run, cronjobs_cronjob, django_celery_beat_periodictask,"
            " django_celery_beat_crontabschedule, django_celery_beat_intervalschedule CASCADE"
        )
    user, _ = get_user_model().objects.get_or_create(username=USER, defaults={"is_staff": True})
    workflow, _ = Workflow.objects.get_or_create(
        workflow_id="bench-workflow", defaults={"owner": user, "steps": [{"type": "python", "callable": "echo"}]}
    )
    rng = random.Random(42)
    now = timezone.now().replace(microsecond=0)
    crontabs, intervals = {}, {}
    tasks, jobs = [], []
    for i in range(n):
        zone = ZONES[i % len(ZONES)]
        job_id = f"bench-{i:06d}"
        task = PeriodicTask(name=job_id, task=periodic_tasks.FIRE_TASK, kwargs=json.dumps({"job_id": job_id}))
        job = CronJob(job_id=job_id, owner=user, workflow=workflow, timezone=zone, anchor=now, overlap="allow")
        if i % 2 == 0:  # cron
            expression = "* * * * *" if i < 2 * burst else f"{rng.randrange(60)} * * * *"
            fields = periodic_tasks.crontab_fields(expression)
            key = (fields, zone)
            if key not in crontabs:
                minute, hour, day, month, dow = fields
                crontabs[key] = CrontabSchedule(
                    minute=minute, hour=hour, day_of_month=day, month_of_year=month, day_of_week=dow, timezone=zone
                )
            task.crontab = crontabs[key]
            job.schedule_type, job.cron_expression = "cron", expression
        else:  # interval, anchored somewhere in its last period so fires spread evenly
            every = rng.randrange(300, 3601)
            if every not in intervals:
                intervals[every] = IntervalSchedule(every=every, period=IntervalSchedule.SECONDS)
            task.interval = intervals[every]
            job.schedule_type, job.interval_seconds = "interval", every
            job.anchor = now - timedelta(seconds=rng.randrange(every))
        tasks.append(task)
        jobs.append(job)
    # Bulk: one save() per schedule row would also bump the change marker, a commit each.
    CrontabSchedule.objects.bulk_create(crontabs.values())
    IntervalSchedule.objects.bulk_create(intervals.values())
    for task in tasks:  # the schedules' primary keys exist only now
        task.crontab, task.interval = task.crontab, task.interval
    PeriodicTask.objects.bulk_create(tasks, batch_size=5000)
    by_name = dict(PeriodicTask.objects.filter(name__startswith="bench-").values_list("name", "id"))
    for job in jobs:
        job.periodic_task_id = by_name[job.job_id]
    CronJob.objects.bulk_create(jobs, batch_size=5000)
    PeriodicTasks.update_changed()
    print(f"seeded {n:,} jobs in {time.monotonic() - started:.1f} s", flush=True)


def restart_schedules() -> None:
    """Every job's next slot counted from now, as a fresh start of either scheduler would see it.

    Cron jobs share a few (expression, zone) pairs, so their next slot is computed once per pair;
    interval slots are plain arithmetic, done by the database.
    """
    CronJob.objects.filter(job_id__startswith="new-").delete()
    slots_passed = "floor(extract(epoch from (%s - anchor)) / interval_seconds)"
    with connection.cursor() as cursor:
        now = timezone.now()
        # The stock scheduler counts from last_run_at: the latest slot at or before now.
        cursor.execute(
            "UPDATE django_celery_beat_periodictask AS task SET enabled = true, last_run_at = CASE"
            f" WHEN job.schedule_type = 'cron' THEN %s ELSE job.anchor + job.interval_seconds * {slots_passed}"
            " * interval '1 second' END FROM cronjobs_cronjob AS job WHERE job.periodic_task_id = task.id",
            [now, now],
        )
        cursor.execute("UPDATE cronjobs_cronjob SET paused = false WHERE paused")
        now = timezone.now()  # again: the statement above takes a while on 100,000 rows
        pairs = CronJob.objects.filter(schedule_type="cron").values_list("cron_expression", "timezone").distinct()
        nexts = [
            (expression, zone, next(schedules.cron_times(expression, schedules.parse_timezone(zone), now)))
            for expression, zone in pairs
        ]
        rows = ", ".join(["(%s, %s, %s::timestamptz)"] * len(nexts))
        cursor.execute(
            f"UPDATE cronjobs_cronjob AS job SET next_fire_at = v.at FROM (VALUES {rows}) AS v(expression, zone, at)"
            " WHERE job.cron_expression = v.expression AND job.timezone = v.zone",
            [value for row in nexts for value in row],
        )
        cursor.execute(
            f"UPDATE cronjobs_cronjob SET next_fire_at = anchor + interval_seconds * ({slots_passed} + 1)"
            " * interval '1 second' WHERE schedule_type = 'interval'",
            [now],
        )
    PeriodicTasks.update_changed()


# --- the child: one scheduler, driven as celery beat drives it --------------------------------


def peak_rss_mb() -> float:
    """This process's peak RSS. Not getrusage: on Linux its ru_maxrss survives exec, so a child
    would report its parent's peak; VmHWM belongs to the process's own address space."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(scheduler_path: str, seconds: float, burst: int) -> None:
    published: list[tuple] = []  # (publish time, run id) for ours, (publish time, job id, slot) for stock
    base = symbol_by_name(scheduler_path)

    if scheduler_path == OURS:

        class Measured(base):
            def _send(self, run_ids, messages):
                super()._send(run_ids, messages)
                at = time.time()
                published.extend((at, str(run_id)) for run_id in run_ids)

    else:

        class Measured(base):
            def apply_async(self, entry, producer=None, advance=True, **kwargs):
                result = super().apply_async(entry, producer, advance, **kwargs)
                if entry.task == periodic_tasks.FIRE_TASK:
                    at = time.time()
                    # The slot this fire is for: when the entry fell due after its last run.
                    schedule, last = entry.schedule, entry.last_run_at
                    if hasattr(schedule, "remaining_delta"):
                        start, delta, _ = schedule.remaining_delta(last, tz=schedule.tz)
                        due = start + delta
                    else:
                        due = last + schedule.run_every
                    published.append((at, entry.kwargs["job_id"], due.timestamp()))
                return result

    report: dict = {"scheduler": scheduler_path}
    user = get_user_model().objects.get(username=USER)

    started = time.monotonic()
    scheduler = Measured(app=app)
    report["load"] = time.monotonic() - started
    rss_mb = {"loaded": peak_rss_mb()}

    def timed_tick() -> tuple[float, float, int]:
        before = len(published)
        started = time.monotonic()
        delay = scheduler.tick()
        return time.monotonic() - started, delay, len(published) - before

    # Idle ticks: nothing changes; ticks that published nothing.
    idle = []
    deadline = time.monotonic() + QUIET_SECONDS
    while time.monotonic() < deadline:
        cost, delay, sent = timed_tick()
        if not sent:
            idle.append(cost)
        time.sleep(min(max(delay, 0.0), 0.2))
    report["idle_tick"] = statistics.median(idle) if idle else None

    # One change, then the tick that must take it into account.
    costs = []
    for i in range(3):
        job_id = f"bench-{2 * burst + 1 + 2 * i:06d}"
        services.job_pause(user=user, job_id=job_id)
        costs.append(timed_tick()[0])
        services.job_resume(user=user, job_id=job_id)
        costs.append(timed_tick()[0])
        if sum(costs) > PHASE_LIMIT:
            break
    report["change"] = statistics.median(costs)
    rss_mb["changed"] = peak_rss_mb()

    # The run: changes go on (from the parent), a new job is created 2 s before its first slot.
    print("LOOP", flush=True)
    report["loop_started"] = time.time()
    new_job = services.job_upsert(
        caller=user,
        job_id=f"new-{scheduler_path.split(':')[-1]}",
        workflow_id="bench-workflow",
        user_id=None,
        input_text="",
        spec=schedules.interval_spec(seconds=2),
        overlap="allow",
    )
    report["new_job"] = {"job_id": new_job.job_id, "first_slot": new_job.next_fire_at.timestamp()}
    ticks = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        delay = scheduler.tick()
        ticks += 1
        if delay and delay > 0:
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
    report["ticks"] = ticks
    report["rss_mb"] = peak_rss_mb()
    print(f"{scheduler_path}: peak RSS {rss_mb} MB, then {report['rss_mb']:.0f} MB", flush=True)
    report["published"] = published
    print("RESULT " + json.dumps(report), flush=True)
    os._exit(0)  # no shutdown work counted, none left running


# --- the parent ------------------------------------------------------------------------------


def make_changes(stop: threading.Event, counter: list[int], burst: int) -> None:
    user = get_user_model().objects.get(username=USER)
    rng = random.Random(7)
    paused: list[str] = []
    interval = 1.0 / CHANGES_PER_SECOND
    next_at = time.monotonic()
    while not stop.is_set():
        if paused and rng.random() < 0.5:
            services.job_resume(user=user, job_id=paused.pop())
        else:
            job_id = f"bench-{2 * burst + rng.randrange(1000):06d}"
            services.job_pause(user=user, job_id=job_id)
            paused.append(job_id)
        counter[0] += 1
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
    for job_id in paused:
        services.job_resume(user=user, job_id=job_id)
    connection.close()


def run_child(scheduler_path: str, seconds: float, burst: int) -> dict:
    restart_schedules()
    connection.close()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", scheduler_path, "--seconds", str(seconds), "--burst", str(burst)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    stop, counter, changer = threading.Event(), [0], None
    result = None
    hard_deadline = time.monotonic() + seconds + 4 * PHASE_LIMIT
    for line in process.stdout:
        if line.startswith("LOOP"):
            changer = threading.Thread(target=make_changes, args=(stop, counter, burst))
            changer.start()
        elif line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        else:
            print(line, end="")
        if time.monotonic() > hard_deadline:
            process.kill()
            break
    process.wait()
    stop.set()
    if changer:
        changer.join()
    if result is None:
        raise SystemExit(f"{scheduler_path} produced no result (exit {process.returncode})")
    result["changes"] = counter[0]
    return result


def lags(result: dict, burst_n: int) -> dict:
    """publish − slot for each fire; the stock scheduler's slot is the one fire_job would record."""
    published = result["published"]
    burst_ids = {f"bench-{i:06d}" for i in range(0, 2 * burst_n, 2)}
    all_lags, burst, steady, new_job = [], [], [], None
    new = result["new_job"]
    if result["scheduler"] == OURS:
        runs = {
            str(run_id): (slot, job_id)
            for run_id, slot, job_id in Run.objects.filter(id__in=[p[1] for p in published]).values_list(
                "id", "scheduled_for", "job__job_id"
            )
        }
        for at, run_id in published:
            if run_id not in runs:
                continue  # prepared ahead, then its job was paused before the slot: the run was removed
            slot, job_id = runs[run_id]
            if slot.timestamp() < result["loop_started"]:
                continue
            lag = at - slot.timestamp()
            all_lags.append(lag)
            (burst if job_id in burst_ids else steady).append(lag)
            if job_id == new["job_id"] and slot.timestamp() == new["first_slot"]:
                new_job = lag
    else:
        for at, job_id, slot in published:
            if slot < result["loop_started"]:
                continue
            lag = at - slot
            all_lags.append(lag)
            (burst if job_id in burst_ids else steady).append(lag)
            if job_id == new["job_id"] and abs(slot - new["first_slot"]) < 0.5:
                new_job = lag
    return {"all": sorted(all_lags), "burst": sorted(burst), "steady": sorted(steady), "new_job": new_job}


def pct(values: list[float], p: float) -> float | None:
    return values[min(len(values) - 1, int(len(values) * p))] if values else None


def fmt(value, unit="s"):
    if value is None:
        return "n/a"
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=65.0, help="length of each scheduler's run")
    parser.add_argument("--burst", type=int, default=10_000, help="cron jobs firing every minute")
    parser.add_argument(
        "--ours-only", action="store_true", help="skip the stock scheduler (a quicker run; its column shows n/a)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds, args.burst)
        return

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    if args.jobs < 2 * args.burst + 2000:
        parser.error("--jobs must be at least 2 * --burst + 2000")
    seed(args.jobs, args.burst)
    results = {}
    try:
        for name, path in (("stock", STOCK), ("ours", OURS)):
            if name == "stock" and args.ours_only:
                continue
            print(f"running {name} ({path}) for {args.seconds:.0f} s ...", flush=True)
            results[name] = run_child(path, args.seconds, args.burst)
    finally:
        app.connection().default_channel.client.delete("celery")  # purge what was published
    burst_n = args.burst
    stats = {name: lags(result, burst_n) for name, result in results.items()}
    rows = [
        ("load", "load", "s"),
        ("idle tick", "idle_tick", "s"),
        ("one change (next tick)", "change", "s"),
        ("new job: publish − first slot", "new", "s"),
        ("fire lag p50, all fires", "p50", "s"),
        ("fire lag p99, all fires", "p99", "s"),
        ("fire lag p50, fires outside the burst", "steady50", "s"),
        ("fire lag p99, fires outside the burst", "steady99", "s"),
        (f"burst of {burst_n:,} due same second: p50", "burst50", "s"),
        ("burst: p99", "burst99", "s"),
        ("burst: last published", "burstmax", "s"),
        ("peak RSS", "rss_mb", "MB"),
    ]
    values = {}
    for name, result in results.items():
        s = stats[name]
        values[name] = {
            "load": result["load"],
            "idle_tick": result["idle_tick"],
            "change": result["change"],
            "new": s["new_job"],
            "p50": pct(s["all"], 0.50),
            "p99": pct(s["all"], 0.99),
            "steady50": pct(s["steady"], 0.50),
            "steady99": pct(s["steady"], 0.99),
            "burst50": pct(s["burst"], 0.50),
            "burst99": pct(s["burst"], 0.99),
            "burstmax": s["burst"][-1] if s["burst"] else None,
            "rss_mb": result["rss_mb"],
        }
    print()
    print(
        f"{args.jobs:,} jobs, {CHANGES_PER_SECOND} changes/s during each {args.seconds:.0f} s run, "
        f"PostgreSQL + Redis on this machine"
    )
    print()
    print("| measure | stock DatabaseScheduler | ours (JobScheduler) | ours / stock |")
    print("| --- | --- | --- | --- |")
    for label, key, unit in rows:
        stock, ours = values.get("stock", {}).get(key), values["ours"][key]
        ratio = f"{ours / stock:.3g}" if stock and ours is not None else "n/a"
        print(f"| {label} | {fmt(stock, unit)} | {fmt(ours, unit)} | {ratio} |")
    for name in results:
        r, s = results[name], stats[name]
        print(
            f"| {name}: fires published / of them burst / ticks / changes made | "
            f"{len(s['all']):,} / {len(s['burst']):,} / {r['ticks']:,} / {r['changes']} | | |"
        )


if __name__ == "__main__":
    main()
