"""DynamicWorkflowRunner: executes a workflow's steps in order.

Each step receives the run's input and the previous step's output (the run's input for the first
step); the last step's output is the run's output. Every step's result is kept so a person can
see where a run went wrong. What each step type does lives in ``workflows.steps``.
"""

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from .cancellation import RunCancelled
from .steps import STEP_TYPES
from .steps.base import RunTimedOut, StepContext, StepFailed, StepMayRetry, time_left

BACKOFF_FIRST = 1.0  # seconds before the first retry, doubling for each next one, with jitter
BACKOFF_MAX = 60.0
RETRY_AFTER_MAX = 60.0  # the longest wait a server's Retry-After can ask for
# A run keeps at most this much output (its JSON) in ``output``, and as much again across the
# outputs of its steps; past it an output is cut and marked truncated.
MAX_RUN_OUTPUT_BYTES = 256 * 1024
MAX_ERROR_CHARACTERS = 4000
TIMED_OUT = "stopped: the run went over its time limit"
CANCELLED = "stopped: the run was cancelled"


@dataclass
class RunResult:
    output: Any = None
    steps: list[dict] = field(default_factory=list)
    error: str = ""
    timed_out: bool = False
    cancelled: bool = False
    output_truncated: bool = False

    @property
    def succeeded(self) -> bool:
        return not self.error


def _now() -> str:
    return timezone.now().isoformat()


def _capped(value: Any, budget: int) -> tuple[Any, int, bool]:
    """``value`` if its JSON fits ``budget`` bytes, else the start of its JSON as text; the bytes used; whether cut."""
    encoded = json.dumps(value, default=str).encode()
    if len(encoded) <= budget:
        return value, len(encoded), False
    return encoded[:budget].decode(errors="ignore"), budget, True


def _short(message: str) -> str:
    if len(message) <= MAX_ERROR_CHARACTERS:
        return message
    return message[:MAX_ERROR_CHARACTERS] + "... (cut)"


def _wait_before_retry(retry_number: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_MAX)
    # Full backoff halved at random: clients that failed together do not all come back together.
    return min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (retry_number - 1)) * random.uniform(0.5, 1.0)


class DynamicWorkflowRunner:
    def __init__(
        self,
        steps: list[dict],
        *,
        run_headers: dict[str, str] | None = None,
        run_id: str | None = None,
        signing_keys: list[bytes] | None = None,
    ):
        self.steps = steps
        self.run_headers = run_headers or {}
        self.run_id = run_id
        self.signing_keys = signing_keys or []

    def run(
        self,
        input_text: str,
        *,
        deadline: float | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        on_step: Callable[[dict], None] = lambda record: None,
    ) -> RunResult:
        """Run every step; ``deadline`` (a time.monotonic() value) stops the run there, failed, and
        ``cancelled`` turning true stops it before its next step (RunCancelled, during one).
        ``on_step`` is given each step's log as the step ends."""
        result = RunResult()
        budget = MAX_RUN_OUTPUT_BYTES
        previous: Any = input_text
        for index, step in enumerate(self.steps):
            kind = step.get("type")
            if cancelled():
                result.error, result.cancelled = f"Cancelled before steps[{index}] ({kind}) started", True
                return result
            record = {"index": index, "type": kind, "started_at": _now(), "attempts": []}
            result.steps.append(record)
            started = time.monotonic()
            try:
                previous = self._attempts(index, step, previous, input_text, record["attempts"], deadline)
            except RunCancelled:
                record["error"] = CANCELLED
                result.error, result.cancelled = f"Cancelled during steps[{index}] ({kind}), which was stopped", True
            except (RunTimedOut, SoftTimeLimitExceeded):
                # SoftTimeLimitExceeded is Celery's: raised wherever the step was when the run's
                # time limit came (workflows.tasks.execute_run).
                record["error"] = TIMED_OUT
                result.error, result.timed_out = f"steps[{index}] ({kind}) {TIMED_OUT}", True
            except StepFailed as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    # Cut short by the run's deadline (a wait shortened to fit it): out of time.
                    # What the step saw stays in its attempts.
                    record["error"] = TIMED_OUT
                    result.error, result.timed_out = f"steps[{index}] ({kind}) {TIMED_OUT}", True
                else:
                    record["error"] = _short(str(exc))
                    result.error = _short(f"steps[{index}] ({kind}) failed: {exc}")
            except Exception as exc:  # a broken step must fail its run, not the worker
                record["error"] = _short(f"{type(exc).__name__}: {exc}")
                result.error = _short(f"steps[{index}] ({kind}) crashed: {type(exc).__name__}: {exc}")
            else:
                record["output"], used, cut = _capped(previous, budget)
                budget -= used
                if cut:
                    record["output_truncated"] = result.output_truncated = True
            record["finished_at"] = _now()
            record["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            on_step(record)
            if result.error:
                return result
        result.output, _, cut = _capped(previous, MAX_RUN_OUTPUT_BYTES)
        result.output_truncated = result.output_truncated or cut
        return result

    def _attempts(
        self, index: int, step: dict, previous: Any, input_text: str, attempts: list[dict], deadline: float | None
    ):
        """The step's output, after as many tries as its ``retries`` allow; each try is logged."""
        retries = step.get("retries", 0)
        run_step = STEP_TYPES[step["type"]].run
        # One message id per step of a run, kept across its retries: receivers deduplicate on it.
        webhook_id = f"msg_{uuid.UUID(str(self.run_id)).hex}_{index}" if self.run_id else None
        for number in range(1, retries + 2):
            attempt = {"attempt": number, "started_at": _now()}
            attempts.append(attempt)
            try:
                context = StepContext(
                    attempt=attempt,
                    deadline=deadline,
                    run_headers=self.run_headers,
                    webhook_id=webhook_id,
                    signing_keys=self.signing_keys,
                )
                context.time_left()
                return run_step(step, previous, input_text, context)
            except StepMayRetry as exc:
                attempt["error"] = _short(str(exc))
                if number > retries:
                    raise
                wait = _wait_before_retry(number, exc.retry_after)
                attempt["retry_in_seconds"] = round(wait, 3)
            except Exception as exc:
                attempt["error"] = _short(str(exc) or type(exc).__name__)
                raise
            finally:
                attempt["finished_at"] = _now()
            time.sleep(min(wait, time_left(deadline)))
        raise AssertionError("unreachable: the last attempt returns or raises")
