"""The PyTorch and TensorFlow variants of the Iris lifecycle (``dags/iris_frameworks.py``): the
requests their tasks send, recorded by ``tests.sdk.fake_aws``, with the templates rendered as a
run renders them; and the TensorFlow variant run for real with ``airflow dags test`` against a
local runtime (its TensorFlow environment is built on first use and shared by the session)."""

from __future__ import annotations

import json

import boto3
import pytest
from airflow.dag_processing.dagbag import DagBag

from smflow.client import SageMakerClient
from smflow.waiting import Backoff
from tests.sdk.fake_aws import ACCOUNT, FakeAws

from .conftest import DAGS_FOLDER

REGION = "eu-west-1"
EXPECTED = {
    "pytorch": ("pytorch-training:2.0.1-cpu-py310", "pytorch-inference:2.0.1-cpu-py310"),
    "tensorflow": ("tensorflow-training:2.19-cpu-py312", "tensorflow-inference:2.19-cpu"),
}


@pytest.fixture(scope="module")
def bag():
    bag = DagBag(dag_folder=str(DAGS_FOLDER / "iris_frameworks.py"))
    assert not bag.import_errors, bag.import_errors
    return bag


def requests_of(dag) -> dict[str, dict]:
    """Train, create the model and deploy with the arguments the DAG's operators hold, their
    templates rendered with an upload_iris result and role ``SageMakerRole``."""
    fake = FakeAws(REGION)
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    fake.attach(session)
    client = SageMakerClient(session, role="SageMakerRole", backoff=Backoff.fixed(0.0), log=lambda line: None)
    train, model, deploy = (dag.get_task(task_id) for task_id in ("train", "create_model", "deploy"))
    arguments = train.spec.call_arguments(vars(train))
    arguments.update(inputs={"train": "s3://bucket/iris/data"}, output_path="s3://bucket/models", role=None,
                     job_name="iris-job")
    client.train(**arguments, wait=False)
    arguments = model.spec.call_arguments(vars(model))
    client.create_model(**{**arguments, "training_job_name": "iris-job", "role": None, "model_name": "iris-model"})
    arguments = deploy.spec.call_arguments(vars(deploy))
    client.deploy(**{**arguments, "model_name": "iris-model", "endpoint_name": "iris-ep"}, wait=False)
    return {operation: params for service, operation, params in fake.calls if operation.startswith("Create")}


@pytest.mark.parametrize("framework", sorted(EXPECTED))
def test_the_variant_trains_and_serves_with_the_framework_images(bag, framework):
    dag = bag.dags[f"iris_lifecycle_{framework}"]
    requests = requests_of(dag)
    training, inference = EXPECTED[framework]
    job = requests["CreateTrainingJob"]
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith(f".dkr.ecr.{REGION}.amazonaws.com/{training}")
    assert job["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "train:accuracy", "Regex": "train_accuracy=([0-9.]+)"}]
    assert job["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"  # expanded through IAM GetRole
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert json.loads(job["HyperParameters"]["sagemaker_program"]) == f"{framework}_iris.py"
    assert {key: json.loads(job["HyperParameters"][key]) for key in ("epochs", "lr")} == \
        dag.get_task("train").hyperparameters
    if framework == "tensorflow":  # the TensorFlow estimator's model_dir
        assert json.loads(job["HyperParameters"]["model_dir"]) == "s3://bucket/models/iris-job/model"
    container = requests["CreateModel"]["PrimaryContainer"]
    assert container["Image"].endswith(f".dkr.ecr.{REGION}.amazonaws.com/{inference}")
    if framework == "pytorch":  # its containers load the inference code from the archive: repacked
        assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"
        assert container["ModelDataUrl"].startswith(f"s3://sagemaker-{REGION}-{ACCOUNT}/iris-model/model-")
    else:  # TensorFlow Serving loads the SavedModel; no inference code
        assert container["ModelDataUrl"] == "s3://bucket/models/iris-job/output/model.tar.gz"
    variant = requests["CreateEndpointConfig"]["ProductionVariants"][0]
    assert (variant["ModelName"], variant["InstanceType"]) == ("iris-model", "ml.m5.xlarge")


@pytest.mark.parametrize("framework", sorted(EXPECTED))
def test_the_variant_predicts_json_and_always_deletes_its_endpoint(bag, framework):
    dag = bag.dags[f"iris_lifecycle_{framework}"]
    predict, delete = dag.get_task("predict"), dag.get_task("delete_endpoint")
    assert (predict.content_type, predict.accept) == ("application/json", "application/json")
    assert delete.is_teardown and [task.task_id for task in delete.upstream_list if task.is_setup] == ["deploy"]
    assert predict.endpoint_name == delete.endpoint_name == dag.get_task("deploy").endpoint_name


@pytest.mark.integration
def test_the_tensorflow_variant_runs_on_the_local_runtime(airflow_db, aws_connection, runtime):
    """``airflow dags test iris_lifecycle_tensorflow``: Keras trains in the TensorFlow environment,
    TensorFlow Serving's contract answers the blog's test rows, the endpoint is deleted."""
    from .test_dags import run_cli

    result = run_cli("iris_lifecycle_tensorflow", runtime)
    assert result.state == "success", result.output[-5000:]
    assert all(state == "success" for state in result.states.values()), result.states
    job = runtime.client().describe_training_job(result.value("train")["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Completed"
    assert "/tensorflow-training:2.19-cpu-py312" in job["AlgorithmSpecification"]["TrainingImage"]
    assert [metric["MetricName"] for metric in job.get("FinalMetricDataList", [])] == ["train:accuracy"]
    assert result.value("predict")["Count"] == 29  # the TFS answer {"predictions": [29 rows of 3 scores]}
    assert len(result.value("predict")["Predictions"]["predictions"]) == 29
    assert result.value("evaluate")["accuracy"] >= 0.9
    endpoint = result.value("delete_endpoint")["EndpointName"]
    assert f"Endpoint/{endpoint}" in result.value("delete_endpoint")["Deleted"]
