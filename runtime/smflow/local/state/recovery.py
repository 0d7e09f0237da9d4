"""What happens to the local runtime's SageMaker resources when the runtime starts again.

Restart recovery (:func:`recover_after_restart`) follows what SageMaker users can observe: work
that was running when the runtime stopped cannot resume, so such jobs end ``Failed`` with a
FailureReason that says why, and endpoints that were serving are started again by the backend.
A job's processes that outlived a runtime killed without a chance to end them (SIGKILL, a
crash) are ended first, from the identity stored in the job's private
:data:`smflow.local.services.sagemaker.models.PROCESS_FIELD`. So are the processes that model
servers' code started and that left the server's session (``os.setsid()``, a double fork): they
carry their instance's marker (:func:`smflow.local.support.processes.folder_marker` of the
instance folder under ``<state_dir>/work``), which recovery derives again from the folders
(:func:`end_leftover_model_server_processes`). The fields an interrupted job
ends with are the job kind's own transition
(:meth:`smflow.local.services.sagemaker.models.Job.interrupted`). Docker containers that a
killed runtime of the same state folder started (training jobs and model servers of images run
in Docker) are removed, found by their labels
(:func:`smflow.local.containers.docker.engine.remove_leftover_containers`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from smflow.local.containers.docker.engine import remove_leftover_containers
from smflow.local.support.processes import folder_marker, kill_marked, start_time, terminate_group
from smflow.local.services.sagemaker.models import JOBS, PROCESS_FIELD, Endpoint
from smflow.local.state.store import ResourceStore

logger = logging.getLogger(__name__)

# Seconds a left-over process group gets between SIGTERM and SIGKILL during recovery.
LEFTOVER_PROCESS_GRACE_SECONDS = 5.0
# Endpoints in these statuses had (or were getting) a running deployment: start them again.
RESTARTABLE_ENDPOINT_STATUSES = ("InService", "Creating", "Updating", "SystemUpdating", "RollingBack")
# Where model-server instance folders live under ``<state_dir>/work`` (the backend's layout):
# endpoints/<endpoint>/<config>-<id>/<variant>/instance-<n> and transform/<job>/instance-<n>.
INSTANCE_FOLDER_PATTERNS = ("endpoints/*/*/*/instance-*", "transform/*/instance-*")


def end_leftover_processes(kind: str, job: Mapping[str, Any],
                           timeout: float = LEFTOVER_PROCESS_GRACE_SECONDS) -> bool:
    """End the processes of a running job that outlived the runtime that started them.

    Uses the job's ``_Process`` field (:data:`smflow.local.services.sagemaker.models.PROCESS_FIELD`):
    if that process group is still alive and its leader's start time matches (so a recycled pid
    is never signalled), the group gets SIGTERM, up to ``timeout`` seconds to exit, then SIGKILL
    (:func:`smflow.local.support.processes.terminate_group`).
    Returns True if the group was signalled. Does nothing (returns False) for jobs that are not
    ``InProgress``/``Stopping``, without a recorded process, with an unreadable record (logged),
    or where there is no /proc (non-Linux systems).
    """
    kind_of_job = JOBS[kind]
    if job.get(kind_of_job.status_field) not in kind_of_job.RUNNING_STATUSES or PROCESS_FIELD not in job:
        return False
    name = job.get(f"{kind}Name")
    record = job[PROCESS_FIELD]
    try:
        pgid = int(record["ProcessGroupId"])
        started = int(record["StartTime"])
    except (TypeError, KeyError, ValueError):
        logger.warning("%s %s: ignoring unreadable %s record %r", kind, name, PROCESS_FIELD, record)
        return False
    if pgid <= 1:
        logger.warning("%s %s: ignoring %s record with process group %d", kind, name, PROCESS_FIELD, pgid)
        return False
    ended = terminate_group(pgid, started, timeout)
    if ended:
        logger.warning("%s %s: ended its process group %d, left running by the stopped runtime",
                       kind, name, pgid)
    return ended


def end_leftover_model_server_processes(work_dir: str | os.PathLike, started_before: int | None = None,
                                        timeout: float = LEFTOVER_PROCESS_GRACE_SECONDS) -> list[int]:
    """SIGKILL what model servers of this state folder left running when the runtime was killed.

    ``work_dir`` is ``<state_dir>/work``; the markers looked for are those of its instance
    folders (:data:`INSTANCE_FOLDER_PATTERNS`, :func:`~smflow.local.support.processes.folder_marker`),
    so processes of another state folder's model servers, and processes without a marker, are
    never signalled. Only processes started at or before ``started_before`` (clock ticks after
    boot; default: when this process started) are ended, so that model servers this runtime
    starts meanwhile (it serves while it recovers) are left alone. The model servers themselves
    are killed too if they still run (a fork server's children exit when their runtime is gone).
    SIGKILL at once, as :meth:`ModelServerProcess.stop` does for what outlives a server: such
    code can ignore SIGTERM. Returns the pids signalled; [] without /proc.
    """
    root = Path(work_dir)
    markers = {folder_marker(folder) for pattern in INSTANCE_FOLDER_PATTERNS for folder in root.glob(pattern)
               if folder.is_dir()}
    if not markers:
        return []
    if started_before is None:
        started_before = start_time(os.getpid())
        if started_before is None:
            return []  # no /proc
    ended = kill_marked(markers, started_before, timeout)
    if ended:
        logger.warning("ended %d process(es) that model servers' code left running when the runtime stopped: %s",
                       len(set(ended)), sorted(set(ended)))
    return ended


def recover_after_restart(store: ResourceStore, now: float | None = None,
                          work_dir: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Bring stored state in line with a runtime that just started.

    - Training and transform jobs that were ``InProgress`` or ``Stopping`` end ``Failed`` with a
      FailureReason saying the local runtime stopped while they ran. Their recorded processes
      that are still alive are ended first (:func:`end_leftover_processes`; up to
      2 x :data:`LEFTOVER_PROCESS_GRACE_SECONDS` per job), so that nothing keeps writing into
      their folders.
    - Processes that model servers' code started and that outlived the runtime are ended
      (:func:`end_leftover_model_server_processes`; ``work_dir``, default
      ``<store.root>/../work``, the backend's ``<state_dir>/work``).
    - Docker containers of this state folder that another runtime process started are removed
      (:func:`~smflow.local.containers.docker.engine.remove_leftover_containers`; nothing
      happens without a reachable daemon).
    - Endpoints that were ``Deleting`` are removed (the deletion had been accepted).

    Returns the endpoints the backend must start again: those whose status is in
    :data:`RESTARTABLE_ENDPOINT_STATUSES`.
    """
    now = time.time() if now is None else now
    for kind, kind_of_job in JOBS.items():
        for job in store.list(kind):
            name = kind_of_job.name_of(job)
            end_leftover_processes(kind, job)
            updated = store.update(kind, name, lambda current, j=kind_of_job: j.interrupted(current, now))
            if updated is not None and updated != job:
                logger.warning("%s %s was %s when the runtime stopped: now Failed", kind, name,
                               job.get(kind_of_job.status_field))

    end_leftover_model_server_processes(Path(store.root).parent / "work" if work_dir is None else work_dir)
    remove_leftover_containers(Path(store.root).parent if work_dir is None else Path(work_dir).parent)

    restart: list[dict[str, Any]] = []
    for endpoint in store.list(Endpoint.kind):
        status = endpoint.get(Endpoint.status_field)
        if status == "Deleting":
            store.delete(Endpoint.kind, Endpoint.name_of(endpoint))
        elif status in RESTARTABLE_ENDPOINT_STATUSES:
            restart.append(endpoint)
    return restart
