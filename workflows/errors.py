class StepFailed(Exception):
    """A step could not produce its output; the run ends ``failed`` with this message."""
