"""The provider's registration (entry point, provider info), its extra links, and the cheapness of
importing its operators and the example DAGs."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from importlib.metadata import entry_points, version
from pathlib import Path

import pytest

from smflow_airflow.links.sagemaker import (
    SageMakerEndpointLink,
    SageMakerModelLink,
    SageMakerTrainingJobLink,
    SageMakerTransformJobLink,
)

from .conftest import AIRFLOW_HOME, DAGS_FOLDER, REPO, airflow_environment

HEAVY = ["boto3", "botocore", "numpy", "sklearn", "pandas", "smflow.client",
         "airflow.providers.amazon.aws.hooks.base_aws"]


def test_the_entry_point_registers_the_provider_with_airflow():
    (entry,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("smflow_airflow")]
    info = entry.load()()
    assert info["package-name"] == "smflow" and info["versions"] == [version("smflow")]

    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    provider = manager.providers["smflow"]
    assert provider.version == version("smflow")
    for section in ("hooks", "operators", "sensors", "triggers"):
        (entry,) = provider.data[section]
        for module in entry["python-modules"]:
            importlib.import_module(module)
    for link in info["extra-links"]:
        assert link in manager.extra_links_class_names
        module, _, name = link.rpartition(".")
        assert getattr(importlib.import_module(module), name)().name.startswith("SageMaker")
    triggers = {(trigger.trigger_class_name, trigger.package_name) for trigger in manager.trigger}
    assert ("smflow_airflow.triggers.sagemaker", "smflow") in triggers


@pytest.mark.parametrize("link, fragment, page", [
    (SageMakerTrainingJobLink, "jobs", "training-jobs"), (SageMakerTransformJobLink, "transform-jobs", "transform-jobs"),
    (SageMakerModelLink, "models", "models"), (SageMakerEndpointLink, "endpoints", "endpoints"),
])
def test_console_links(monkeypatch, link, fragment, page):
    from airflow.sdk.execution_time import xcom

    stored = {}
    monkeypatch.setattr(xcom.XCom, "get_value", classmethod(lambda cls, *, ti_key, key: stored.get(key)))
    assert link().get_link(None, ti_key=None) == ""  # nothing stored (task failed before starting it)
    stored[link.key] = {"name": "iris-1", "region": "eu-west-1", "partition": "aws"}
    assert link().get_link(None, ti_key=None) == \
        f"https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/{fragment}/iris-1"
    stored[link.key] = {"name": "iris-1", "region": "cn-north-1", "partition": "aws-cn"}
    assert link().get_link(None, ti_key=None).startswith("https://console.amazonaws.cn/sagemaker/home?region=cn-north-1")
    # the local runtime: its own console, at the URL the task's connection used
    stored[link.key] = {"name": "iris-1", "region": "us-east-1", "partition": "local",
                        "endpoint_url": "http://127.0.0.1:9510/"}
    assert link().get_link(None, ti_key=None) == f"http://127.0.0.1:9510/console/{page}/iris-1"
    # the tasks reach the runtime by a name the browser cannot resolve (Docker Compose)
    monkeypatch.setenv("SMFLOW_CONSOLE_URL", "http://127.0.0.1:9600")
    stored[link.key]["endpoint_url"] = "http://smflow:9510"
    assert link().get_link(None, ti_key=None) == f"http://127.0.0.1:9600/console/{page}/iris-1"
    monkeypatch.delenv("SMFLOW_CONSOLE_URL")
    stored[link.key] = {"name": "iris-1", "region": "us-east-1", "partition": "local"}
    assert link().get_link(None, ti_key=None) == ""  # stored by an smflow that did not keep the URL
    stored[link.key] = {"name": "iris-1", "region": "us-east-1", "partition": "local",
                        "endpoint_url": "javascript:alert(1)//"}
    assert link().get_link(None, ti_key=None) == ""  # only http(s) URLs become links


def _python(code: str) -> dict:
    env = {**airflow_environment(AIRFLOW_HOME), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_operators_and_sensors_stays_cheap():
    loaded = _python(
        "import json, sys, airflow.sdk\n"
        "from airflow.sdk import BaseOperator, BaseSensorOperator\n"
        "import smflow_airflow.operators.sagemaker, smflow_airflow.sensors.sagemaker\n"
        f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    assert not any(loaded.values()), f"imported at module level: {[m for m, v in loaded.items() if v]}"


def _parse(dag_folder: Path) -> dict:
    """DagBag over ``dag_folder`` (a folder or one file) in a fresh interpreter with no network:
    import errors, DAG ids, and which heavy modules parsing imported."""
    return _python(
        "import json, socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('no network while parsing DAGs')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(dag_folder)!r})\n"
        "print(json.dumps({'errors': {k: str(v) for k, v in bag.import_errors.items()}, 'dags': sorted(bag.dag_ids),\n"
        f"                  'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))"
    )


def test_the_example_dags_parse_without_network_or_heavy_imports():
    result = _parse(DAGS_FOLDER)
    assert result["errors"] == {}
    assert result["dags"] == ["byo_container", "iris_amazon_provider", "iris_batch_scoring", "iris_lifecycle",
                              "iris_lifecycle_pytorch", "iris_lifecycle_tensorflow", "iris_scheduled_retraining",
                              "kmeans_digits"]
    # smflow's DAGs parse without boto3 (the Amazon provider's own operators import it when parsed)
    for name, dags in (("byo_container", ["byo_container"]),
                       ("iris_batch_scoring", ["iris_batch_scoring"]), ("iris_lifecycle", ["iris_lifecycle"]),
                       ("iris_scheduled_retraining", ["iris_scheduled_retraining"]),
                       ("iris_frameworks", ["iris_lifecycle_pytorch", "iris_lifecycle_tensorflow"]),
                       ("kmeans_digits", ["kmeans_digits"])):
        alone = _parse(DAGS_FOLDER / f"{name}.py")
        assert (alone["errors"], alone["dags"], alone["heavy"]) == ({}, dags, []), name


def test_every_teardown_of_the_example_dags_names_its_setup():
    """Clearing a task between a setup and its teardown (the UI's Clear, downstream included)
    runs the setup again: clearing ``predict`` deploys the endpoint before predicting."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER))
    assert not bag.import_errors, bag.import_errors
    teardowns = [(dag.dag_id, task) for dag in bag.dags.values() for task in dag.tasks if task.is_teardown]
    assert sorted((dag_id, task.task_id) for dag_id, task in teardowns) == [
        (dag_id, "delete_endpoint")
        for dag_id in ("byo_container", "iris_lifecycle", "iris_lifecycle_pytorch", "iris_lifecycle_tensorflow",
                       "kmeans_digits")]
    for dag_id, task in teardowns:
        assert [setup.task_id for setup in task.upstream_list if setup.is_setup] == ["deploy"], (dag_id, task.task_id)
    lifecycle = bag.dags["iris_lifecycle"]
    for cleared in ("predict", "evaluate", "batch_transform"):
        subset = lifecycle.partial_subset([cleared], include_downstream=True, include_upstream=False)
        assert {"deploy", cleared, "delete_endpoint"} <= set(subset.task_ids), (cleared, subset.task_ids)
        assert "train" not in subset.task_ids  # only the setup, not everything upstream
