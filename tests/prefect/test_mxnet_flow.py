"""The MXNet variant of the framework flow (``flows/iris_frameworks.py``), run for real on a local
runtime process: ``dags/scripts/mxnet_iris.py`` trains in the MXNet environment and serves the
blog's 29 Iris rows, sent as JSON, without Docker."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("prefect")

FLOW_FILE = Path(__file__).resolve().parents[2] / "flows" / "iris_frameworks.py"


@pytest.fixture(scope="module")
def flows():
    spec = importlib.util.spec_from_file_location("iris_frameworks_flow_mxnet", FLOW_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_the_mxnet_variant_is_the_gluon_script(flows):
    variant = flows.VARIANTS["mxnet"]
    assert Path(variant["entry_point"]) == flows.SCRIPTS / "mxnet_iris.py"
    assert Path(variant["entry_point"]).is_file()
    assert (variant["framework_version"], variant["py_version"]) == ("1.9.0", "py38")


@pytest.mark.integration
def test_the_mxnet_flow_runs_on_the_local_runtime(runtime, flows):
    """upload -> train in the MXNet 1.9 environment -> create the model (mxnet-inference) ->
    deploy -> predict the blog's 29 rows as JSON -> delete the endpoint."""
    from smflow.examples import iris

    result = flows.iris_framework_lifecycle("mxnet", aws_credentials=runtime.credentials())
    sagemaker = runtime.boto3_client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=result["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(".amazonaws.com/mxnet-training:1.9.0-cpu-py38")
    assert job["HyperParameters"]["epochs"] == "100" and job["HyperParameters"]["lr"] == "0.05"
    model = sagemaker.describe_model(ModelName=result["model"])
    assert model["PrimaryContainer"]["Image"].endswith(".amazonaws.com/mxnet-inference:1.9.0-cpu-py38")
    _, labels = iris.blog_test_rows()
    predictions = np.asarray(result["predictions"])
    assert predictions.shape == (29,)  # one class index per row (the script's predict_fn)
    assert (predictions == labels).mean() >= 0.9
    endpoints = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert result["endpoint"] not in endpoints  # deleted at the end
