"""What every step type shares: the errors a step raises, what a step knows of its run, and the
small interface each step type module implements (``StepType``)."""

import math
import time
from dataclasses import dataclass, field
from typing import Any, Protocol


class StepFailed(Exception):
    """A step could not produce its output; the run ends ``failed`` with this message."""


class StepMayRetry(StepFailed):
    """A failure that may pass (a network error, a 5xx, a 429): the step is tried again while it
    has ``retries`` left, after ``retry_after`` seconds when the server said how long to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RunTimedOut(Exception):
    """The run went over its time limit. Not a StepFailed: no step catches it or retries it."""


def time_left(deadline: float | None) -> float:
    """Seconds until ``deadline`` (a time.monotonic() value); RunTimedOut once it has passed."""
    if deadline is None:
        return math.inf
    left = deadline - time.monotonic()
    if left <= 0:
        raise RunTimedOut()
    return left


@dataclass
class StepContext:
    """What one attempt of a step may know about its run."""

    attempt: dict  # this attempt's entry in the run's step log; a step may add details to it
    deadline: float | None = None  # time.monotonic() by which the run must be over
    run_headers: dict[str, str] = field(default_factory=dict)  # what an http step tells its receiver
    # Standard Webhooks: the message id of this step of this run (the same across its attempts)
    # and the keys its requests are signed with (workflows.signing); none outside a run.
    webhook_id: str | None = None
    signing_keys: list[bytes] = field(default_factory=list)

    def time_left(self) -> float:
        return time_left(self.deadline)


class StepType(Protocol):
    """A step type module: ``validate`` a definition when a workflow is saved, ``run`` it in a run."""

    def validate(self, step: dict) -> str | None:
        """The problem with this step's definition (without the step index), or None."""

    def may_wait(self, step: dict) -> bool:
        """Whether running it may wait on something (the network, a sleep): the run then gives its
        database connection back for the time being."""

    def run(self, step: dict, previous: Any, input_text: str, context: StepContext) -> Any:
        """The step's output; raises StepFailed (or StepMayRetry) when it cannot produce one."""
