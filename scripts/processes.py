"""The programs `make chaos` and `make load` start: each in a process group of its own, so that a
kill reaches its children too (gunicorn's and celery's workers) and Ctrl-C in the terminal does
not reach them before the script stops them in order; output to a log file. The group stays in the
script's session, not a new one: they belong to the run that started them, for whatever stops or
reaps a session's processes (a CI job's end) as for a person reading `ps`."""

import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Process:
    def __init__(self, name: str, args: list[str], *, env: dict[str, str], logs: Path):
        self.name, self.args, self.env = name, args, env
        self.log_path = logs / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        with open(self.log_path, "ab") as log:  # a restart adds to the same log
            self.popen = subprocess.Popen(
                self.args,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        return self

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """kill -9 of the whole group."""
        if self.running:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self) -> None:
        if self.running:
            self.popen.terminate()  # warm shutdown: finish what is in hand

    def wait_or_kill(self, deadline: float) -> bool:
        """Wait until ``deadline`` (time.monotonic()) for it to stop, then kill whatever of its group
        is left; False if it had not stopped by then."""
        stopped = True
        if self.popen is None:
            return stopped
        try:
            self.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            stopped = False
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait()
        return stopped

    def stop(self, timeout: float = 20.0) -> None:
        self.terminate()
        self.wait_or_kill(time.monotonic() + timeout)
