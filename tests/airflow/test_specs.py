"""The operators that create a resource take, template and pass to the client exactly the
arguments their kind declares in ``smflow.resources.specs``: adding an argument there makes these
tests name every operator that lacks it.

``__init__`` arguments are read from the operator's signature and its smflow base classes'
(``role`` comes from ``SageMakerBaseOperator``); what ``execute`` passes is recorded by a fake
client, so no AWS call is made.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from smflow.resources import specs
from smflow.resources.specs import ResourceSpec
from smflow_airflow.operators.base import EMPTY_MEANS_DEFAULT
from smflow_airflow.operators.sagemaker import (
    SageMakerBaseOperator,
    SageMakerBatchTransformOperator,
    SageMakerCreateModelOperator,
    SageMakerDeployOperator,
    SageMakerTrainOperator,
)

from .conftest import RUN_ID, STUB_ENDPOINT, make_context
from .responses import ARN, IMAGE, training_job, transform_job
from .responses import endpoint as endpoint_description

OPERATORS = [
    (SageMakerTrainOperator, specs.TRAINING_JOB),
    (SageMakerCreateModelOperator, specs.MODEL),
    (SageMakerDeployOperator, specs.ENDPOINT),
    (SageMakerBatchTransformOperator, specs.TRANSFORM_JOB),
]
IDS = [operator.__name__ for operator, _ in OPERATORS]
# The client call's own arguments, set by the operator from its call-control arguments.
CALL_CONTROL = {"wait", "logs", "timeout"}


def init_arguments(operator: type) -> dict[str, Any]:
    """The keyword arguments of ``operator.__init__`` and of its smflow base classes' ``__init__``,
    name -> default (``inspect.Parameter.empty`` when required)."""
    arguments: dict[str, Any] = {}
    for cls in reversed(operator.__mro__):
        if not (issubclass(cls, SageMakerBaseOperator) and "__init__" in vars(cls)):
            continue
        for parameter in inspect.signature(cls.__init__).parameters.values():
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                arguments[parameter.name] = parameter.default
    return arguments


@pytest.mark.parametrize("operator, spec", OPERATORS, ids=IDS)
def test_init_takes_every_argument_of_the_spec_with_its_default(operator, spec: ResourceSpec):
    assert operator.spec is spec
    taken = init_arguments(operator)
    missing = [name for name in spec.names if name not in taken]
    assert not missing, f"{operator.__name__}.__init__ lacks {missing} (declared in {spec.kind}'s spec)"
    different = {name: (taken[name], default) for name, default in spec.defaults.items() if taken[name] != default}
    assert not different, f"{operator.__name__}.__init__ defaults differ from the spec's (init, spec): {different}"


@pytest.mark.parametrize("operator, spec", OPERATORS, ids=IDS)
def test_template_fields_and_renderers_follow_the_spec(operator, spec: ResourceSpec):
    fields = operator.template_fields
    assert [name for name in spec.template_fields if name not in fields] == [], operator.__name__
    untemplated = [argument.name for argument in spec.arguments if not argument.templated]
    assert [name for name in untemplated if name in fields] == [], operator.__name__
    renderers = operator.template_fields_renderers
    assert {name: renderers.get(name) for name in spec.renderers} == spec.renderers, operator.__name__


class RecordingClient:
    """Stands in for ``SageMakerClient``: records the keyword arguments of each call and answers
    with a description shaped like SageMaker's."""

    region_name = "us-east-1"
    custom_endpoint_url = STUB_ENDPOINT  # the console links stay empty: no partition lookup

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def train(self, **arguments: Any) -> dict:
        self.calls.append(("train", arguments))
        return training_job("job", "InProgress")

    def create_model(self, **arguments: Any) -> dict:
        self.calls.append(("create_model", arguments))
        return {"ModelName": "model", "ModelArn": f"{ARN}:model/model", "Image": IMAGE, "ModelDataUrl": None}

    def deploy(self, **arguments: Any) -> dict:
        self.calls.append(("deploy", arguments))
        return endpoint_description("endpoint")

    def start_deploy(self, **arguments: Any) -> tuple[str, dict]:
        self.calls.append(("start_deploy", arguments))
        return "iris-config", endpoint_description("endpoint", "Creating")

    def batch_transform(self, **arguments: Any) -> dict:
        self.calls.append(("batch_transform", arguments))
        return transform_job("job", "InProgress")


# How each operator is run (no waiting after the call) and which client method it calls.
RUNS = [
    (SageMakerTrainOperator, specs.TRAINING_JOB, {"wait_for_completion": False}, "train"),
    (SageMakerCreateModelOperator, specs.MODEL, {}, "create_model"),
    (SageMakerDeployOperator, specs.ENDPOINT, {"deferrable": False}, "deploy"),
    (SageMakerDeployOperator, specs.ENDPOINT, {"wait_for_completion": False}, "start_deploy"),
    (SageMakerBatchTransformOperator, specs.TRANSFORM_JOB, {"wait_for_completion": False}, "batch_transform"),
]
RUN_IDS = [method for *_, method in RUNS]


@pytest.fixture
def client(monkeypatch) -> RecordingClient:
    recording = RecordingClient()
    monkeypatch.setattr(SageMakerBaseOperator, "get_client", lambda self, log=None: recording)
    return recording


def distinct_values(spec: ResourceSpec) -> dict[str, Any]:
    """A value for every argument of ``spec`` that differs from its default and from the others."""
    values: dict[str, Any] = {name: f"{name}-value" for name in spec.names}
    if "action_if_job_exists" in values:
        values["action_if_job_exists"] = "fail"  # checked when the operator is built
    return values


@pytest.mark.parametrize("operator, spec, control, method", RUNS, ids=RUN_IDS)
def test_execute_passes_every_argument_of_the_spec_to_the_client(client, operator, spec, control, method):
    values = distinct_values(spec)
    operator(task_id="task", **values, **control).execute(make_context("task"))
    ((called, arguments),) = client.calls
    assert called == method
    assert {name: arguments.get(name, "<not passed>") for name in spec.names} == values
    assert set(arguments) - set(spec.names) <= CALL_CONTROL


@pytest.mark.parametrize("operator, spec, control, method", RUNS, ids=RUN_IDS)
def test_an_operator_built_without_arguments_passes_the_spec_defaults(client, operator, spec, control, method):
    operator(task_id="score_batch", **control).execute(make_context("score_batch"))
    ((_, arguments),) = client.calls
    expected = spec.defaults
    if "idempotency_key" in expected:  # a job is named from the task and the run
        expected.update(base_job_name="score-batch", idempotency_key=f"test_dag.score_batch.{RUN_ID}")
    assert {name: arguments[name] for name in spec.names} == expected


@pytest.mark.parametrize("empty", [None, ""])
@pytest.mark.parametrize("operator, spec, control, method", RUNS, ids=RUN_IDS)
def test_an_instance_type_volume_or_max_run_left_empty_is_the_spec_default(client, operator, spec, control, method,
                                                                            empty):
    names = EMPTY_MEANS_DEFAULT & set(spec.names)
    operator(task_id="task", **dict.fromkeys(names, empty), **control).execute(make_context("task"))
    ((_, arguments),) = client.calls
    assert {name: arguments[name] for name in names} == {name: spec.defaults[name] for name in names}
