"""Operators' own periodic tasks: the django-celery-beat ``PeriodicTask`` rows that are not a job's
(added in the admin, say a nightly cleanup), run by our beat as django-celery-beat's
DatabaseScheduler runs them, and each due time sent once however many beats run.

Due-ness is django-celery-beat's own: each row becomes its ``ModelEntry`` (the row's celery
schedule: interval, crontab, solar or clocked; args, kwargs and the send options), and the rules
DatabaseScheduler applies around the schedule (enabled, start_time, expires, one_off) are kept as
its ``ModelEntry.is_due`` has them. What differs is where the state lives: DatabaseScheduler keeps
each entry in memory, advances it there and writes ``last_run_at`` back now and then, so two of
them both send every due time. Here the row is the state, claimed like a job:

1. one read of the enabled rows that are not jobs' (job rows are filtered out in SQL: a partial
   index leaves them out, so the read costs the same with 100,000 jobs as with none);
2. only if one of them is due (or must disable itself): in one transaction, lock those rows
   ``FOR UPDATE SKIP LOCKED``, decide again on the locked, current row, and write the due ones'
   ``last_run_at`` and ``total_run_count`` (or disable the expired and spent ones);
3. after the commit, beat sends each claimed task with its options.

A beat that finds a row locked leaves it to the beat holding it; one that locks it after the other
committed finds ``last_run_at`` moved on and the row no longer due. A send that fails after the
commit is not retried (as with DatabaseScheduler, which also advances an entry before sending).
Rows are read on every tick, so an edit in the admin is seen on the next one.
"""

import logging
import math
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from celery import Celery
from celery.schedules import schedstate
from celery.utils.time import maybe_make_aware
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry
from django_celery_beat.utils import NEVER_CHECK_TIMEOUT

from .models import CronJob
from .periodic_tasks import FIRE_TASK

logger = logging.getLogger(__name__)

SCHEDULES = ("interval", "crontab", "solar", "clocked")
ONE_OFF_RAN = "it is one-off and has run"


class OperatorEntry(ModelEntry):
    """A row's ModelEntry that decides as DatabaseScheduler's does but writes nothing itself:
    where ModelEntry saves the whole (possibly stale) row to disable it, this one only says so
    (``disable``), and the claim writes it, on the locked row."""

    def __init__(self, model: PeriodicTask, app: Celery | None = None):
        self.disable = ""
        super().__init__(model, app=app)

    def _disable(self, model: PeriodicTask) -> None:
        # Called by ModelEntry for arguments that are not JSON.
        self.disable = "its args or kwargs are not valid JSON"

    def is_due(self) -> schedstate:
        model = self.model
        if self.disable:
            return schedstate(False, NEVER_CHECK_TIMEOUT)
        now = self._default_now()
        if model.start_time is not None and now < model.start_time:
            start = model.due_start_time(now.tzinfo)
            return schedstate(False, math.ceil((start - now).total_seconds()))
        if model.expires is not None and now >= model.expires:
            self.disable = f"it expired at {model.expires.isoformat()}"
            return schedstate(False, NEVER_CHECK_TIMEOUT)
        if model.one_off and model.total_run_count > 0:
            self.disable = ONE_OFF_RAN
            return schedstate(False, NEVER_CHECK_TIMEOUT)
        last_run_at = maybe_make_aware(self.last_run_at).astimezone(self.app.timezone)
        return self.schedule.is_due(last_run_at)


class Unreadable(OperatorEntry):
    """A row beat cannot make an entry of (a solar schedule without ``ephem``, headers that are not
    JSON): never due, and disabled by the claim so that it says so once, not on every tick."""

    def __init__(self, model: PeriodicTask, error: Exception):
        self.model, self.name, self.disable = model, model.name, f"it cannot be read: {error!r}"


@dataclass
class Look:
    """What one look at the operators' tasks found: the entries claimed (to send after the commit)
    and the seconds until one of the others is due."""

    due: list[OperatorEntry] = field(default_factory=list)
    next_in: float | None = None


def operator_tasks() -> QuerySet[PeriodicTask]:
    """The enabled PeriodicTask rows that are not jobs', with their schedules.

    ``task <> FIRE_TASK`` is what the partial index of migration 0007 holds, so the job rows are
    never scanned; the NOT EXISTS is what decides (a job's row, whatever its task name).
    """
    return (
        PeriodicTask.objects.filter(enabled=True)
        .exclude(task=FIRE_TASK)
        .exclude(Exists(CronJob.objects.filter(periodic_task=OuterRef("pk"))))
        .filter(reduce(or_, (Q(**{f"{name}__isnull": False}) for name in SCHEDULES)))
        .select_related(*SCHEDULES)
    )


def _entry(model: PeriodicTask, app: Celery) -> OperatorEntry:
    try:
        return OperatorEntry(model, app=app)
    except Exception as exc:
        return Unreadable(model, exc)


def _decide(entry: OperatorEntry) -> schedstate:
    try:
        return entry.is_due()
    except Exception as exc:  # one row whose next run cannot be computed must not stop the others
        entry.disable = f"its next run cannot be computed: {exc!r}"
        return schedstate(False, NEVER_CHECK_TIMEOUT)


def claim_due_tasks(app: Celery) -> Look:
    """Claim the operators' tasks due now; see the module's docstring."""
    look = Look()
    candidates = []
    for model in operator_tasks():
        entry = _entry(model, app)
        is_due, next_in = _decide(entry)
        if is_due or entry.disable:
            candidates.append(model.pk)
        look.next_in = next_in if look.next_in is None else min(look.next_in, next_in)
    if not candidates:
        return look
    now = timezone.now()
    with transaction.atomic():
        locked = operator_tasks().filter(pk__in=candidates).select_for_update(skip_locked=True, of=("self",))
        for model in locked:
            entry = _entry(model, app)  # decided again on the current row: another beat may have sent it
            is_due, _ = _decide(entry)
            rows = PeriodicTask.objects.filter(pk=model.pk)
            if entry.disable:
                # What PeriodicTask.save() writes for a disabled row; a spent one-off also starts
                # its count again, as DatabaseScheduler leaves it.
                logger.warning("periodic task %s disabled: %s", model.name, entry.disable)
                reset = {"total_run_count": 0} if entry.disable == ONE_OFF_RAN else {}
                rows.update(enabled=False, last_run_at=None, date_changed=now, **reset)
            elif is_due:
                rows.update(last_run_at=now, total_run_count=F("total_run_count") + 1)
                look.due.append(entry)
    return look
