"""Which failures a task's ``retries=`` should retry: ``retry_transient_only``.

Prefect retries every failure of a task with ``retries=`` by default. For SageMaker jobs that is
wrong in two cases: a job that ended ``Failed`` or ``Stopped`` (ResourceFailedError: the user's
script raised, the data is bad, someone stopped it) fails the same way again, and each retry is a
new paid job (``<name>-2``); a bad argument (ConfigurationError, JobExistsError) fails the same
way at once (:func:`smflow.errors.is_argument_error`, which the Airflow operators use too).
Everything else (a throttled or lost API call, a 5xx, WaitTimeoutError) is worth a
retry, and the retry attaches to the job already running (:mod:`smflow_prefect.idempotency`).

Example::

    from smflow_prefect import train_model
    from smflow_prefect.retries import retry_transient_only

    job = train_model.with_options(retries=2, retry_condition_fn=retry_transient_only)(
        entry_point="train.py", inputs="s3://my-bucket/iris/data")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect import Task
    from prefect.client.schemas.objects import TaskRun
    from prefect.states import State


def _error_of(state: State) -> BaseException | None:
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        state.result(raise_on_failure=True)
    except BaseException as error:  # noqa: BLE001 - the task's own error, whatever it is
        return error
    return None


def retry_transient_only(task: Task[..., Any], task_run: TaskRun, state: State) -> bool:
    """A Prefect ``retry_condition_fn``: False (do not retry) when the task failed with
    ResourceFailedError (the job ended Failed or Stopped) or an error of its arguments
    (:func:`smflow.errors.is_argument_error`: ConfigurationError, JobExistsError, botocore's
    ParamValidationError); True otherwise."""
    from smflow.errors import ResourceFailedError, is_argument_error

    error = _error_of(state)
    return not (isinstance(error, ResourceFailedError) or is_argument_error(error))
