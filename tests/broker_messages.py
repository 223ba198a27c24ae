"""The runs a message in the broker's queue hands to the workers, read from its arguments as the
worker reads them: one run (execute_run) or several sent together (execute_runs)."""

import base64
import json

from workflows.dispatch import EXECUTE_RUN, EXECUTE_RUNS


def message_run_ids(message: dict) -> list[str]:
    args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    task = message["headers"]["task"]
    if task == EXECUTE_RUN:
        return [args[0]]
    if task == EXECUTE_RUNS:
        return list(args[0])
    return []


def sent_run_ids(messages: list[dict]) -> list[str]:
    """The runs of these messages (as the queue's list holds them), in the order they were sent."""
    return [run_id for message in reversed(messages) for run_id in message_run_ids(message)]
