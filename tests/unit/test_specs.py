"""The client's calls take exactly the arguments their resource spec declares, with its defaults
(``smflow.resources.specs``): the other layers (Airflow, Prefect) are checked against the same
declaration in their own test folders."""

from __future__ import annotations

import inspect

import pytest

from smflow.client import SageMakerClient
from smflow.resources import specs

# What a client call takes besides the resource's arguments: how to wait for it.
CALL_CONTROL = {
    "train": {"wait", "logs", "timeout"},
    "create_model": set(),
    "deploy": {"wait", "timeout"},
    "batch_transform": {"wait", "timeout"},
}


@pytest.mark.parametrize("spec", specs.SPECS, ids=lambda spec: spec.kind)
def test_client_call_takes_the_spec_arguments_with_its_defaults(spec):
    parameters = inspect.signature(getattr(SageMakerClient, spec.method)).parameters
    keywords = {name: p for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert set(keywords) - CALL_CONTROL[spec.method] == set(spec.names)
    assert {name: keywords[name].default for name in spec.names} == spec.defaults


def test_call_arguments_fill_in_defaults_and_keep_what_is_given():
    arguments = specs.ENDPOINT.call_arguments({"model_name": "m", "instance_type": "ml.c5.xlarge", "other": 1})
    assert arguments == {
        "model_name": "m", "endpoint_name": None, "instance_type": "ml.c5.xlarge",
        "initial_instance_count": 1, "endpoint_config_name": None, "config": None,
    }


def test_template_fields_leave_out_what_is_checked_when_the_dag_is_parsed():
    assert "action_if_job_exists" not in specs.TRAINING_JOB.template_fields
    assert "entry_point" in specs.TRAINING_JOB.template_fields
    assert specs.TRANSFORM_JOB.renderers["data"] == "json"
