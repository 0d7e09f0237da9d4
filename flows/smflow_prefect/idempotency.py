"""Job names that survive Prefect retries, of the task and of the flow.

A task that starts a SageMaker job passes smflow an ``idempotency_key``; smflow names the job
``<base>-<10 hex digits of sha1(key)>`` (:func:`smflow.naming.stable_name`) and, when a job of
that name is running or completed, attaches to it instead of launching a duplicate (smflow's
``action_if_job_exists="attach"``). The key of a task run inside a flow run is::

    prefect/<flow run id>/<task key>/<sha1 of the call's arguments, 12 hex digits>/<n>

``n`` counts the calls of that task with those arguments in the current attempt of the flow run
(0 for the first), and is fixed for the task run the first time it asks for its key. So:

* a retry of the task (``train_model.with_options(retries=2)``) is the same task run: same key;
* a retry of the flow (``@flow(retries=1)``) runs the flow function again in the same flow run;
  its calls get new task runs, but the first call of ``train_model`` with the same arguments
  derives the same key as in the failed attempt, so it attaches to the job that attempt started;
* calls submitted concurrently (``.submit()``/``.map()`` from threads) with different arguments
  get their keys from their arguments, whatever order their threads run in; calls with identical
  arguments are interchangeable, so their order does not matter;
* another flow run gets other jobs.

Arguments are compared by their JSON form (``str()`` of anything JSON cannot hold, pydantic
models by ``model_dump``); ``aws_credentials`` is left out (credentials do not make a job). An
argument that differs between the flow's attempts (a temporary file's path) makes a new job, as
a new call would. The counters live in the process that runs the task: with a task runner that
runs tasks in several processes (Dask, Ray), two calls with identical arguments in one attempt
may count from 0 each and so share one job; give such calls an argument that tells them apart
(or an explicit ``idempotency_key``).

A task run without a flow run (a task called on its own) keeps the key of its task run,
``prefect/<task key>/<dynamic key>``: stable across its own retries only.

Example::

    from prefect import task
    from smflow_prefect.idempotency import task_run_idempotency_key

    @task(retries=2)
    def score(model_name: str) -> float:
        key = task_run_idempotency_key()   # the same on every retry, of the task or of the flow
        ...
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

EXCLUDED_PARAMETERS = frozenset({"aws_credentials"})  # not part of a job's identity
MAX_TRACKED_ATTEMPTS = 1024  # flow-run attempts whose call counters a process keeps (oldest dropped)


class _Attempt:
    """The calls of one attempt of one flow run: counters per (task key, arguments digest), and
    the key each task run got (a task's retry asks again)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.keys: dict[str, str] = {}


_lock = threading.Lock()
_attempts: OrderedDict[tuple[str, int], _Attempt] = OrderedDict()


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json")
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(map(str, value))
    return str(value)


def arguments_digest(arguments: Mapping[str, Any]) -> str:
    """12 hex digits of sha1 of the arguments' JSON (sorted keys), ``aws_credentials`` left out."""
    kept = {name: value for name, value in arguments.items() if name not in EXCLUDED_PARAMETERS}
    text = json.dumps(kept, sort_keys=True, default=_jsonable, separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _attempt_of(flow_run_id: str, run_count: int) -> _Attempt:
    """The counters of this attempt (call with ``_lock`` held); older attempts of the same flow
    run are dropped, they will not be asked again."""
    key = (flow_run_id, run_count)
    attempt = _attempts.get(key)
    if attempt is None:
        for old in [k for k in _attempts if k[0] == flow_run_id and k[1] < run_count]:
            del _attempts[old]
        attempt = _attempts[key] = _Attempt()
        while len(_attempts) > MAX_TRACKED_ATTEMPTS:
            _attempts.popitem(last=False)
    else:
        _attempts.move_to_end(key)
    return attempt


def task_run_idempotency_key(arguments: Mapping[str, Any] | None = None) -> str | None:
    """The key of the task run in progress (see the module docstring), or None when called
    outside a task run (smflow then names jobs with a timestamp, as the SageMaker Python SDK
    does).

    Args:
        arguments: what identifies the call; default the task run's parameters. The first call
            in a task run fixes its key: later calls (its retries) get the same key.
    """
    from prefect.context import FlowRunContext, TaskRunContext

    context = TaskRunContext.get()
    if context is None:
        return None
    run = context.task_run
    flow_context = FlowRunContext.get()
    flow_run = flow_context.flow_run if flow_context is not None else None
    if run.flow_run_id is None or flow_run is None or flow_run.id != run.flow_run_id:
        return f"prefect/{run.task_key}/{run.dynamic_key}"
    with _lock:
        attempt = _attempt_of(str(flow_run.id), flow_run.run_count)
        key = attempt.keys.get(str(run.id))
        if key is None:
            digest = arguments_digest(context.parameters if arguments is None else arguments)
            n = attempt.counts.get((run.task_key, digest), 0)
            attempt.counts[(run.task_key, digest)] = n + 1
            key = attempt.keys[str(run.id)] = f"prefect/{run.flow_run_id}/{run.task_key}/{digest}/{n}"
    return key


def resolve_idempotency_key(
    job_name: str | None, idempotency_key: str | None, arguments: Mapping[str, Any] | None = None
) -> str | None:
    """What a task passes smflow: the caller's key; none when an explicit ``job_name`` fixes the
    name already; else the task run's key (from ``arguments``, the call's client arguments)."""
    if idempotency_key or job_name:
        return idempotency_key
    return task_run_idempotency_key(arguments)
