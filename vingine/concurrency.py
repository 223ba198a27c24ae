"""What differs for a run between Celery's two worker pools.

Runs wait on the network (webhooks), so workers run them on the gevent pool (``make run``, docker
compose): many runs in flight per process, each in a greenlet, its waits costing no process. The
prefork pool (one run per process) still works, for operators whose own python callables need a
whole core. Under gevent:

- Django gives each greenlet its own database connection, so they share a pool (settings:
  DATABASE_POOL_SIZE) and a run gives its connection back while its steps wait;
- Celery enforces only the hard time limit, so the soft one (a run stopped, failed with reason
  timeout, its worker going on) is raised here, where the steps run.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import gevent
from celery.exceptions import SoftTimeLimitExceeded


def gevent_patched() -> bool:
    """Whether this process runs on gevent (``celery worker -P gevent`` patches it before anything loads)."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey and monkey.is_module_patched("socket"))


@contextmanager
def soft_time_limit(seconds: float) -> Iterator[None]:
    """Raise SoftTimeLimitExceeded in the block after ``seconds``, where the pool does not (gevent);
    under prefork Celery raises it itself."""
    if not gevent_patched():
        yield
        return
    with gevent.Timeout(seconds, SoftTimeLimitExceeded(f"SoftTimeLimitExceeded({seconds})")):
        yield
