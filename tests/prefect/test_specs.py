"""The Prefect tasks against the one declaration of each resource kind's arguments
(:mod:`smflow.resources.specs`): the task that creates a resource and its async twin take every
argument of the spec, with the spec's default, and pass it to the client; every async twin has
its sync task's signature (parameters, defaults, annotations).

The client is a recording fake: each task runs its own code (``.fn``, no flow run) up to its
first client call, which is recorded and stopped.
"""

from __future__ import annotations

import asyncio
import inspect
import sys

import pytest

pytest.importorskip("prefect")

import smflow_prefect  # noqa: E402
from smflow.resources.specs import ENDPOINT, MODEL, SPECS, TRAINING_JOB, TRANSFORM_JOB  # noqa: E402
from smflow_prefect import (  # noqa: E402
    abatch_transform,
    acreate_model,
    adeploy_model,
    atrain_model,
    batch_transform,
    create_model,
    deploy_model,
    train_model,
)

# spec -> the tasks taking its arguments: the sync task and its async twin
TASKS = {
    TRAINING_JOB: (train_model, atrain_model),
    MODEL: (create_model, acreate_model),
    ENDPOINT: (deploy_model, adeploy_model),
    TRANSFORM_JOB: (batch_transform, abatch_transform),
}
CASES = [pytest.param(spec, task, id=task.name) for spec, tasks in TASKS.items() for task in tasks]
MISSING = "<missing>"


class Called(Exception):
    """The task reached the client: the call is recorded, the rest of the task is other tests'."""


class RecordingClient:
    """Stands for the task's SageMakerClient: records the first method called and its keyword
    arguments, then raises :class:`Called`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def __getattr__(self, method: str):
        def record(*args, **kwargs):
            self.calls.append((method, kwargs))
            raise Called(method)

        return record


@pytest.fixture
def client(monkeypatch) -> RecordingClient:
    """Every task module's ``task_client`` returns the recording client."""
    recording = RecordingClient()
    for module in {sys.modules[task.fn.__module__] for tasks in TASKS.values() for task in tasks}:
        monkeypatch.setattr(module, "task_client", lambda *args, **kwargs: recording)
    return recording


def run(task, **parameters) -> None:
    """Run the task's function (the async twin's in an event loop) until the client stops it."""
    with pytest.raises(Called):
        if task.isasync:
            asyncio.run(task.fn(**parameters))
        else:
            task.fn(**parameters)


def test_every_spec_has_its_tasks():
    assert set(TASKS) == set(SPECS)


@pytest.mark.parametrize(("spec", "task"), CASES)
def test_the_task_takes_every_argument_of_its_spec_with_the_spec_default(spec, task):
    parameters = inspect.signature(task.fn).parameters
    taken = {name: parameters[name].default if name in parameters else MISSING for name in spec.names}
    assert taken == spec.defaults


@pytest.mark.parametrize(("spec", "task"), CASES)
def test_the_task_passes_every_argument_of_its_spec_to_the_client(spec, task, client):
    values = {name: f"<{name}>" for name in spec.names}
    run(task, **values)
    ((_, received),) = client.calls
    assert {name: received.get(name, MISSING) for name in spec.names} == values


@pytest.mark.parametrize(("spec", "task"), CASES)
def test_the_task_passes_the_spec_defaults_to_the_client(spec, task, client):
    run(task)
    ((_, received),) = client.calls
    assert {name: received.get(name, MISSING) for name in spec.names} == spec.defaults


@pytest.mark.parametrize("name", [name for name in smflow_prefect.__all__ if f"a{name}" in smflow_prefect.__all__])
def test_the_async_twin_has_the_signature_of_its_sync_task(name):
    sync, twin = getattr(smflow_prefect, name), getattr(smflow_prefect, f"a{name}")
    assert inspect.signature(twin.fn) == inspect.signature(sync.fn)
    assert inspect.signature(twin) == inspect.signature(sync)  # what help() and Prefect show
    assert twin.fn.__annotations__ == sync.fn.__annotations__
    assert (twin.name, twin.fn.__name__, twin.fn.__module__) == (f"a{name}", f"a{name}", sync.fn.__module__)
