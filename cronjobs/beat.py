"""The beat scheduler class (``BEAT_SCHEDULER``, default ``cronjobs.beat:JobScheduler``).

Why not django-celery-beat's DatabaseScheduler (still selectable as
``django_celery_beat.schedulers:DatabaseScheduler`` for comparison, see ``make bench``): it holds
every enabled row in memory and re-reads all of them on any change, its tick is O(rows) and sends
one task per call, celery's crontab ANDs day-of-month with day-of-week, and only one beat may run.

Here the database is the schedule. Each CronJob carries ``next_fire_at`` (indexed), computed by the
same evaluator the API shows (``CronJob.fire_times``). A tick:

1. sends the messages of runs prepared earlier whose slot has now come (one Redis pipeline);
2. claims, in batches, the jobs due now and those due within LOOKAHEAD (10 s):
   ``SELECT ... WHERE next_fire_at <= now + LOOKAHEAD ... ORDER BY next_fire_at
   FOR UPDATE SKIP LOCKED LIMIT n``;
3. in that transaction writes one Run per slot (unique per job and slot) and moves
   ``next_fire_at`` past it, so a committed slot can never be claimed again;
4. after the commit, builds the runs' messages (``execute_runs``, RUNS_PER_MESSAGE runs to a
   message) and keeps them until their slot
   (sent at once for slots already due); then sleeps until the earliest kept slot, the next
   job's window, or BEAT_MAX_LOOP_INTERVAL, whichever comes first.

Why ahead: each due slot costs a run row and a message, ~0.3 ms of beat time together, so 10,000
jobs due in the same second took seconds after the slot if claimed at the slot. Claimed ahead, all
of that is done before the slot, and at the slot only the prepared messages are sent (10,000 in
a few hundred ms). What claiming ahead must not change, and how it doesn't:

- What the user sees: the API's next_run_time is the prepared slot (``prepared_for``) until it
  has come, then ``next_fire_at``. A pause, replace or delete before the slot removes the prepared
  run in the same transaction (services); the message its beat still sends finds no row and
  the worker does nothing for it. After the slot the run stands: it has fired.
- One prepared slot per job: a job is not claimed ahead again until its prepared slot has come.
- Overlap: a job with the policy ``skip`` is claimed ahead only if no run of it is queued or
  running then; otherwise it is claimed at its slot and the policy is applied then, as before.
  (A manual run triggered between the claim and the slot does not make the slot skip.)
- Misfire grace applies to slots already due when claimed; a slot claimed ahead is never late.
- Exactly once: the slot's run row is committed before its message exists, with
  ``next_fire_at`` moved past it in the same transaction. Several beats may run side by side
  without any lock or leader: SKIP LOCKED gives each job to one of them, and the other finds it
  already advanced. A beat that dies holding prepared messages, or between a commit and a send,
  leaves queued runs without ``published_at``; the sweeper (every beat runs one) sends those once
  their slot is SWEEP_AFTER past (never before the slot). It also sends again queued runs whose
  message has vanished (``resend_stale``). A run sent twice still runs once, because the worker
  claims it queued → running first.

The tick is the orchestration only: claiming is ``cronjobs.claims``, building, sending and sweeping
messages is ``workflows.dispatch``. Nothing per job is held in memory between ticks but the
prepared messages of the next LOOKAHEAD seconds, so memory does not grow with the number of jobs,
and a change written by the API is seen on the next tick.

Operators' own periodic tasks (PeriodicTask rows that are not a job's, added in the admin) are run
as django-celery-beat's DatabaseScheduler runs them, each due time claimed in the database so that
one beat sends it: ``cronjobs.operator_tasks``. The static entries of ``CELERY_BEAT_SCHEDULE``
(maintenance tasks) are run by celery's base Scheduler exactly as it does, in memory; with several
beats each runs them, so such tasks must be safe to run more than once.
"""

import heapq
import logging
import time
import uuid
from datetime import datetime

from celery.beat import Scheduler
from django.db import DatabaseError, close_old_connections, connection
from django.utils import timezone

from vingine import heartbeat
from workflows.dispatch import (
    Commands,
    backfill_release,
    messages_send,
    resend_stale,
    runs_messages,
    runs_release,
    sweep_unpublished,
)

from .claims import CLAIM_BATCH, CLAIM_POLL, LOOKAHEAD, claim_due_jobs, next_due
from .operator_tasks import claim_due_tasks

logger = logging.getLogger(__name__)

SWEEP_EVERY = 1.0  # seconds between sweeps for unpublished runs (an indexed query)


class JobScheduler(Scheduler):
    heartbeat_every = 5.0  # seconds

    def __init__(self, *args, **kwargs):
        self._last_heartbeat = 0.0
        self._last_sweep = 0.0
        self._redis = None
        # Runs claimed ahead, waiting for their slot: a heap of (slot, sequence, run ids, messages).
        self._prepared: list[tuple[datetime, int, list[uuid.UUID], Commands]] = []
        self._sequence = 0
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        self._heartbeat()
        static_delay = super().tick(*args, **kwargs)  # CELERY_BEAT_SCHEDULE, as celery runs it
        delay = min(static_delay, self._tick_jobs(), self._tick_operator_tasks())
        # Celery's own tick can answer a negative delay for an entry already late; beat treats it as 0.
        return max(0.0, delay)

    def _heartbeat(self) -> None:
        now = time.monotonic()
        if now - self._last_heartbeat < self.heartbeat_every:
            return
        try:
            self._redis = self._redis or heartbeat.client()
            heartbeat.beat(self._redis)
            self._last_heartbeat = now
        except Exception as exc:  # a Redis blip must not stop scheduling
            logger.warning("beat heartbeat not written: %r", exc)

    def _tick_jobs(self) -> float:
        """Send the prepared runs whose slot has come, claim what is due or due within LOOKAHEAD;
        return the seconds until there is something to do again (at most max_interval)."""
        self._send_prepared()
        if not connection.in_atomic_block:  # (only a caller's test transaction would be open here)
            close_old_connections()  # drop a connection the database closed, or one past its max age
        try:
            while True:
                now = timezone.now()
                claimed, runs = claim_due_jobs(now, now + LOOKAHEAD)
                self._prepare(runs, now)
                self._send_prepared()  # a long claim must not hold back a slot that has come
                if claimed < CLAIM_BATCH:
                    break
            if time.monotonic() - self._last_sweep >= SWEEP_EVERY:
                self._last_sweep = time.monotonic()
                self._sweep()
            nearest = next_due()
        except DatabaseError as exc:
            # Database down: keep beat alive and retry. The slots passing meanwhile stay due (their
            # next_fire_at is not advanced) and are recorded as missed or run once it is back.
            logger.error("beat could not reach the database: %r", exc)
            if not connection.in_atomic_block:
                connection.close()
            return self._delay(None)
        return self._delay(nearest)

    def _tick_operator_tasks(self) -> float:
        """Send the operators' periodic tasks due now, each claimed by this beat alone; return the
        seconds until the next one is due (at most max_interval)."""
        try:
            look = claim_due_tasks(self.app)
        except DatabaseError as exc:  # retried on the next tick, as the jobs are
            logger.error("beat could not read the operators' periodic tasks: %r", exc)
            if not connection.in_atomic_block:
                connection.close()
            return self.max_interval
        for entry in look.due:
            self.apply_entry(entry, producer=self.producer)  # logs a send that fails, as for static entries
        return self.max_interval if look.next_in is None else min(look.next_in, self.max_interval)

    def _sweep(self) -> None:
        try:
            sweep_unpublished(timezone.now())
            runs_release()  # held runs whose owner has room again (normally their worker does it)
            backfill_release()  # backfills whose turn has come (normally their last run's worker does it)
            resend_stale(timezone.now())
        except DatabaseError:
            raise
        except Exception as exc:  # the broker is down: the runs stay queued, the next sweep retries
            logger.error("sweep could not reach the broker: %r", exc)

    def _delay(self, nearest: datetime | None) -> float:
        now = timezone.now()
        delays = [self.max_interval]
        if self._prepared:
            delays.append((self._prepared[0][0] - now).total_seconds())
        if nearest is not None:
            # When its look-ahead window opens; a job already inside it that was not claimed (its
            # prepared slot is still to come, or its previous run unfinished) is looked at again
            # every CLAIM_POLL, and at its slot at the latest.
            until_slot = (nearest - now).total_seconds()
            delays.append(max((nearest - LOOKAHEAD - now).total_seconds(), min(CLAIM_POLL, until_slot)))
        return max(0.0, min(delays))

    def _prepare(self, runs: list[tuple[datetime, uuid.UUID]], now: datetime) -> None:
        """Build the messages of claimed runs, grouped by slot: sent at once for slots that have come,
        kept for the others until their slot."""
        by_slot: dict[datetime, list[uuid.UUID]] = {}
        for slot, run_id in runs:
            by_slot.setdefault(max(slot, now), []).append(run_id)  # a slot that has come: at once
        for slot, run_ids in by_slot.items():
            try:
                messages = runs_messages(run_ids)
            except Exception as exc:
                logger.error("could not build %d messages, the sweeper will retry: %r", len(run_ids), exc)
                continue
            self._sequence += 1
            heapq.heappush(self._prepared, (slot, self._sequence, run_ids, messages))

    def _send_prepared(self) -> None:
        """Send every prepared run whose slot has come, in one pipeline. They were handed over when
        they were claimed (their owners' limits had room), so nothing is left to write."""
        run_ids, messages = [], []
        while self._prepared and self._prepared[0][0] <= timezone.now():
            _, _, ids, built = heapq.heappop(self._prepared)
            run_ids += ids
            messages += built
        if not run_ids:
            return
        try:
            messages_send(messages)
        except Exception as exc:
            # The runs are committed and handed over: the sweeper sends them again once the broker
            # answers (resend_stale, SWEEP_AFTER past their slot).
            logger.error("could not send %d runs, the sweeper will retry: %r", len(run_ids), exc)
