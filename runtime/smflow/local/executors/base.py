"""The run lifecycle shared by the executors: a run starts once in its own daemon thread, ends in
a terminal status with a FailureReason that fits SageMaker's limit, and leaves no process behind.

- :class:`Run`: ``start()`` (once; RuntimeError on a second call), ``join(timeout)``, the
  thread running :meth:`Run._run`, which must reach a terminal status whatever happens, and
  :meth:`Run._report`, which hands each status change to the backend's ``on_update``.
- :func:`limit_reason`: DescribeTrainingJob / DescribeTransformJob FailureReason is at most 1024
  characters (SageMaker API reference).
- Process tracking: the process groups and process trees a run starts (:func:`track_group`,
  :func:`track_tree`) are killed if the runtime's interpreter exits while they run; :func:`stop_process` ends one child process
  (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

FAILURE_REASON_MAX_CHARS = 1024  # FailureReason length limit (DescribeTrainingJob, DescribeTransformJob)
STOP_GRACE_SECONDS = 5.0  # SIGTERM -> SIGKILL (SageMaker allows 120 s; locally a few)


class Run:
    """One job run in a daemon thread named ``<kind>-<name>``; subclasses define :meth:`_run`.

    ``on_update(fields)`` receives the changed top-level fields of the job's Describe* dict,
    always with ``LastModifiedTime`` (epoch seconds); the terminal status comes last.
    """

    kind = "run"

    def __init__(self, name: str, on_update: Callable[[dict], None]):
        self._run_name = name
        self._on_update = on_update
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def start(self) -> None:
        """Start the run in a daemon thread and return at once. Raises RuntimeError if started twice."""
        with self._start_lock:
            if self._thread is not None:
                raise RuntimeError(f"{self.kind} job {self._run_name!r} was already started")
            self._thread = threading.Thread(target=self._run, name=f"{self.kind}-{self._run_name}", daemon=True)
            self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait (at most ``timeout`` seconds) for the run's thread to end."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError

    def _report(self, fields: dict) -> None:
        """Hand ``fields`` to ``on_update``, with ``LastModifiedTime`` (now, unless given). A
        failing ``on_update`` is logged, never raised: a broken store must not kill the run."""
        fields.setdefault("LastModifiedTime", time.time())
        try:
            self._on_update(fields)
        except Exception:  # noqa: BLE001
            logger.exception("%s job %s: on_update failed", self.kind, self._run_name)


def limit_reason(reason: str, limit: int = FAILURE_REASON_MAX_CHARS) -> str:
    """``reason`` within ``limit`` characters: its start up to the first colon (the error's
    kind), then its end (where the exception line is)."""
    if len(reason) <= limit:
        return reason
    head = reason.split(":", 1)[0] + ": ..." if ":" in reason[:40] else "..."
    return head + reason[-(limit - len(head)) :]


# Process groups of running jobs, killed if the runtime's interpreter exits while they run.
_LIVE_PROCESS_GROUPS: set[int] = set()


def track_group(pgid: int) -> None:
    """Remember process group ``pgid`` (a child started with ``start_new_session=True``) until
    :func:`kill_group` sends it SIGKILL."""
    _LIVE_PROCESS_GROUPS.add(pgid)


def kill_group(pgid: int, sig: signal.Signals) -> None:
    """Send ``sig`` to process group ``pgid`` (gone groups are ignored); after SIGKILL the group
    is no longer tracked."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    if sig == signal.SIGKILL:  # nothing of the group survives SIGKILL
        _LIVE_PROCESS_GROUPS.discard(pgid)


# Process trees of running jobs (smflow.local.support.processes.ProcessTree), killed likewise.
_LIVE_TREES: set = set()


def track_tree(tree) -> None:
    """Remember ``tree`` (a ProcessTree) until :func:`untrack_tree`: killed if the runtime's
    interpreter exits first."""
    _LIVE_TREES.add(tree)


def untrack_tree(tree) -> None:
    _LIVE_TREES.discard(tree)


@atexit.register
def _kill_live_process_groups() -> None:
    for pgid in list(_LIVE_PROCESS_GROUPS):
        kill_group(pgid, signal.SIGKILL)
    for tree in list(_LIVE_TREES):
        tree.kill(timeout=5.0)


def stop_process(process, label: str, grace: float = STOP_GRACE_SECONDS) -> None:
    """End ``process`` (``subprocess.Popen`` or alike: ``poll``, ``terminate``, ``wait``,
    ``kill``, ``pid``): SIGTERM, then SIGKILL after ``grace`` seconds."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:  # never reaped (an orphaned fork): nothing more to do
            logger.warning("%s (pid %s) did not exit after SIGKILL", label, process.pid)
