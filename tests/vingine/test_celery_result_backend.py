"""Celery's (disabled) result backend is built once per process, not once per task: under gevent
every task runs in a greenlet of its own, which celery would otherwise take for a new thread."""

import threading

from vingine.celery import app


def test_every_thread_shares_one_result_backend():
    seen = []
    thread = threading.Thread(target=lambda: seen.append(app.backend))
    thread.start()
    thread.join()

    assert seen == [app.backend]
