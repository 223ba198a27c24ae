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
