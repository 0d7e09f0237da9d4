"""The XGBoost variant of the Iris framework flow (``flows/iris_frameworks.py``) on a real local
runtime process: the ``sagemaker-xgboost`` image runs ``dags/scripts/xgboost_iris.py`` in script
mode in its local environment, serves it, and answers the blog's 29 rows with class probabilities."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("prefect")

FLOW_FILE = Path(__file__).resolve().parents[2] / "flows" / "iris_frameworks.py"


@pytest.fixture(scope="module")
def module():
    spec = importlib.util.spec_from_file_location("iris_frameworks_flow_xgboost", FLOW_FILE)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def test_the_xgboost_variant_runs_the_script_in_script_mode(module):
    arguments = module.training_arguments("xgboost", "s3://bucket/iris/data", "SageMakerRole")
    assert Path(arguments["entry_point"]).is_file()
    assert arguments["hyperparameters"] == {"num_round": 50, "max_depth": 3}


@pytest.mark.integration
def test_the_xgboost_flow_runs_on_the_local_runtime(runtime, module):
    """upload -> train (script mode) -> create the model -> deploy -> predict 29 rows as JSON -> delete."""
    from smflow.examples import iris

    result = module.iris_framework_lifecycle("xgboost", aws_credentials=runtime.credentials())
    sagemaker = runtime.boto3_client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=result["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(".amazonaws.com/sagemaker-xgboost:1.7-1")
    _, labels = iris.blog_test_rows()
    probabilities = np.asarray(result["predictions"])
    assert probabilities.shape == (29, 3)  # multi:softprob: one probability per class
    assert (probabilities.argmax(1) == labels).mean() >= 0.9
    endpoints = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert result["endpoint"] not in endpoints
