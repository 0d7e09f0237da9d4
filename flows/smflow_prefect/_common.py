"""Pieces every task uses: its client (logging to the task run's logger), the async twins built
on their sync task's signature (:func:`async_twin`), and the checks that a sync task is not run
inside an event loop nor an async one from sync code.

The rule (every task module's docstring points here): in a sync flow call the sync tasks
(``train_model``); in an async flow ``await`` the async twins (``await atrain_model(...)``), or
``.submit()`` a sync task (it runs in a worker thread). Mismatches are loud:

* an async twin called where nothing can await it (a sync flow or sync task, no event loop on
  the thread) raises ConfigurationError naming the sync twin, instead of returning a coroutine
  nobody runs (Prefect's behaviour: the call would silently do nothing);
* a sync task that waits (``train_model``, ``deploy_model``, ``wait_for_*``, ...) called on a
  thread whose event loop is running (an async flow calling it directly) logs a warning naming
  the async twin: the loop, and every other coroutine of the flow, is blocked for the whole wait.

The twins stay separate tasks (rather than one function dispatching on the caller, as Prefect's
``async_dispatch``) so that both keep ``.submit``, ``.map`` and ``.with_options``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from prefect import Task
from prefect.cache_policies import NO_CACHE

from smflow.errors import ConfigurationError

if TYPE_CHECKING:
    from prefect_aws import AwsCredentials

    from smflow.client import SageMakerClient

P = ParamSpec("P")
R = TypeVar("R")


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The logger of the task run in progress; outside a run (a task's ``.fn`` called directly)
    the ``smflow_prefect`` logger."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("smflow_prefect")


def current_flow_run_id() -> str | None:
    """The id of the flow run in progress (of the task run in progress, or of the flow itself);
    None outside any flow run."""
    from prefect.context import FlowRunContext, TaskRunContext

    task_context = TaskRunContext.get()
    if task_context is not None and task_context.task_run.flow_run_id is not None:
        return str(task_context.task_run.flow_run_id)
    flow_context = FlowRunContext.get()
    if flow_context is not None and flow_context.flow_run is not None:
        return str(flow_context.flow_run.id)
    return None


# flow run id -> {identity of a resource's state: artifact keys used}: the artifacts the tasks of
# the newest flow runs of this process created already
_ARTIFACTS: OrderedDict[str, dict[tuple, set[str | None]]] = OrderedDict()
_MAX_FLOW_RUNS = 1024
_artifacts_lock = threading.Lock()


def first_artifact_in_flow_run(identity: tuple, artifact_key: str | None, what: str) -> bool:
    """Record that the artifact of ``identity`` (e.g. a job's name, status and end time) is being
    created in this flow run. False when a task of the flow run created it already, with this
    key or, for an unkeyed artifact, with any key; the task then logs that it does not repeat it.
    Outside a flow run: always True."""
    flow_run_id = current_flow_run_id()
    if flow_run_id is None:
        return True
    with _artifacts_lock:
        made = _ARTIFACTS.setdefault(flow_run_id, {})
        _ARTIFACTS.move_to_end(flow_run_id)
        while len(_ARTIFACTS) > _MAX_FLOW_RUNS:
            _ARTIFACTS.popitem(last=False)
        keys = made.setdefault(identity, set())
        repeated = artifact_key in keys or (artifact_key is None and bool(keys))
        keys.add(artifact_key)
    if repeated:
        run_logger().info(f"{what} has its artifact from an earlier task of this flow run already; "
                          "not creating another")
    return not repeated


def task_client(
    aws_credentials: AwsCredentials | None, *, role: str | None = None, default_bucket: str | None = None
) -> SageMakerClient:
    """The smflow client of the task run in progress: its progress messages and the training log
    lines it streams go to the task run's logger (Prefect's run logs); outside a run (a task's
    ``.fn`` called directly) to the ``smflow_prefect`` logger."""
    from smflow_prefect.clients import sagemaker_client

    return sagemaker_client(aws_credentials, role=role, default_bucket=default_bucket, log=run_logger().info)


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def warn_if_event_loop_blocked(task_name: str) -> None:
    """Warn (task run log) when the sync task ``task_name``, about to wait, runs on a thread whose
    event loop is running: an async flow called it directly and is blocked until it returns."""
    if _event_loop_running():
        run_logger().warning(
            f"{task_name} waits synchronously on the thread of a running event loop (an async flow "
            f"called it): every coroutine of the flow is blocked until it returns. In async code use "
            f"`await a{task_name}(...)`, or run it in a worker thread with `{task_name}.submit(...)`"
        )


class AsyncTwinTask(Task[P, R]):
    """A Prefect task for an async twin (``atrain_model``, ...) that refuses to be called where its
    coroutine would never run: inside a sync flow run or sync task run, with no event loop on the
    calling thread. ``asyncio.run(atrain_model(...))`` outside any run, ``await`` in an async flow,
    ``.submit()`` and ``.map()`` behave as for any Prefect task."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from prefect.context import FlowRunContext, TaskRunContext

        if not _event_loop_running() and (FlowRunContext.get() is not None or TaskRunContext.get() is not None):
            name = self.fn.__name__
            raise ConfigurationError(
                f"{name} is an async task, called from sync code where nothing awaits it (it would "
                f"do nothing): call {name[1:]}(...) in a sync flow, or `await {name}(...)` in an "
                f"async flow (`@flow async def ...`)"
            )
        return super().__call__(*args, **kwargs)

    def with_options(self, **options: Any) -> AsyncTwinTask[P, R]:
        copy = super().with_options(**options)  # Prefect builds a plain Task: keep the check
        copy.__class__ = type(self)
        return copy


def async_twin(
    sync_task: Task[P, R],
) -> Callable[[Callable[..., Awaitable[R]]], AsyncTwinTask[P, Coroutine[Any, Any, R]]]:
    """Make the decorated coroutine function the async twin of ``sync_task``: an
    :class:`AsyncTwinTask` (``NO_CACHE``) whose signature (parameters, annotations, defaults) is
    the sync task's, so ``help()``, ``inspect.signature``, Prefect's parameter binding and its
    parameter schema show the same parameters, and the twins cannot drift apart.

    The decorated function receives every parameter by keyword, the sync task's defaults applied:
    it names the parameters it uses (keyword-only, no annotations or defaults: those are the sync
    task's) and may collect the rest with ``**``. A function that cannot take the sync task's
    parameters is refused at import (TypeError). Example::

        @async_twin(wait_for_endpoint)
        async def await_for_endpoint(*, endpoint_name, expected_config, timeout, aws_credentials) -> dict:
            client = task_client(aws_credentials)
            ...
    """
    signature = inspect.signature(sync_task.fn)

    def decorate(body: Callable[..., Awaitable[R]]) -> AsyncTwinTask[P, Coroutine[Any, Any, R]]:
        inspect.signature(body).bind(**dict.fromkeys(signature.parameters))  # TypeError: cannot take them

        async def twin(*args: Any, **kwargs: Any) -> R:
            call = signature.bind(*args, **kwargs)
            call.apply_defaults()
            return await body(**call.arguments)

        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            setattr(twin, attribute, getattr(body, attribute))
        twin.__signature__ = signature
        twin.__annotations__ = dict(sync_task.fn.__annotations__)
        return AsyncTwinTask(fn=twin, cache_policy=NO_CACHE)

    return decorate
