"""What differs for a run between Celery's two worker pools.

Runs wait on the network (webhooks), so workers run them on the gevent pool (``make run``, docker
compose): many runs in flight per process, each in a greenlet, its waits costing no process. The
prefork pool (one run per process) still works, for operators whose own python callables need a
whole core. Under gevent:

- Django gives each greenlet its own database connection, so they share a pool (settings:
  DATABASE_POOL_SIZE) and a run gives its connection back while its steps wait;
- Celery enforces only the hard time limit, so the soft one (a run stopped, failed with reason
  timeout, its worker going on) is raised here, where the steps run;
- runs sent together in one message run side by side (``side_by_side``), each in a greenlet of its
  own, at most the worker's concurrency of them at once in the process (``run_slot``).
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import gevent
import gevent.lock
import gevent.pool
from billiard.exceptions import TimeLimitExceeded
from celery.exceptions import SoftTimeLimitExceeded


def gevent_patched() -> bool:
    """Whether this process runs on gevent (``celery worker -P gevent`` patches it before anything loads)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


def soft_time_limit(seconds: float) -> AbstractContextManager[None]:
    """Raise SoftTimeLimitExceeded in the block after ``seconds``, where the pool does not (gevent);
    under prefork Celery raises it itself."""
    return _raising_after(seconds, SoftTimeLimitExceeded(f"SoftTimeLimitExceeded({seconds})"))


def hard_time_limit(seconds: float) -> AbstractContextManager[None]:
    """Raise TimeLimitExceeded in the block after ``seconds`` (gevent only), as Celery does at a
    task's hard time limit on the gevent pool: for a run that is not the task itself."""
    return _raising_after(seconds, TimeLimitExceeded(seconds))


@contextmanager
def _raising_after(seconds: float, exception: BaseException) -> Iterator[None]:
    if not gevent_patched():
        yield
        return
    with gevent.Timeout(seconds, exception):
        yield


_slots: gevent.lock.BoundedSemaphore | None = None


def limit_runs_in_flight(runs: int) -> None:
    """At most ``runs`` run_slot blocks of this process at once: a gevent worker's concurrency, which
    then counts runs in flight however many share a message."""
    global _slots
    _slots = gevent.lock.BoundedSemaphore(runs)


@contextmanager
def run_slot() -> Iterator[None]:
    """Wait for one of this process's run slots (none to wait for outside of a gevent worker)."""
    if _slots is None:
        yield
        return
    with _slots:
        yield


def side_by_side(calls: list[Callable[[], object]]) -> None:
    """Call each, side by side under gevent (a greenlet each), one after another otherwise; return
    when all are done. Each handles its own errors. Stopped (the worker shutting down), it stops
    those still going."""
    if not gevent_patched():
        for call in calls:
            call()
        return
    group = gevent.pool.Group()
    try:
        for call in calls:
            group.spawn(call)
        group.join()
    finally:
        group.kill()
