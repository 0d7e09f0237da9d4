"""Job names that survive Prefect retries.

A task that starts a SageMaker job passes smflow an ``idempotency_key`` made of the identity of
the task run: ``prefect/<flow run id>/<task key>/<dynamic key>``. Prefect keeps all three across
the retries of a task run (``retries=``), so the retried attempt derives the same job name
(``<base>-<10 hex digits of sha1(key)>``, :func:`smflow.naming.stable_name`) and attaches to the
job its earlier attempt started instead of launching a duplicate (smflow's
``action_if_job_exists="attach"``). A new flow run, or a second call of the same task in one flow
run (its dynamic key differs), gets a new job.

Example::

    from prefect import task
    from smflow_prefect.idempotency import task_run_idempotency_key

    @task(retries=2)
    def score(model_name: str) -> float:
        key = task_run_idempotency_key()   # "prefect/<flow run>/<task>/<n>", same on every retry
        ...
"""

from __future__ import annotations


def task_run_idempotency_key() -> str | None:
    """The key of the task run in progress, or None when called outside a task run (smflow then
    names jobs with a timestamp, as the SageMaker Python SDK does)."""
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    if context is None:
        return None
    run = context.task_run
    return f"prefect/{run.flow_run_id}/{run.task_key}/{run.dynamic_key}"


def resolve_idempotency_key(job_name: str | None, idempotency_key: str | None) -> str | None:
    """What a task passes smflow: the caller's key; none when an explicit ``job_name`` fixes the
    name already; else the task run's key."""
    if idempotency_key or job_name:
        return idempotency_key
    return task_run_idempotency_key()
