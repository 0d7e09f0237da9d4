"""The Iris lifecycle end to end on a real local runtime process, through the smflow client."""

from __future__ import annotations

import numpy as np
import pytest

from smflow import naming
from smflow.errors import InvocationError, ResourceFailedError
from smflow.examples import iris

pytestmark = pytest.mark.integration


def test_iris_lifecycle_through_the_client(runtime):
    lines: list[str] = []
    client = runtime.client(log=lines.append)
    result = iris.run_lifecycle(client, prefix="it-lifecycle", say=lines.append)

    assert result["accuracy"] >= 0.9
    assert len(result["species"]) == 29 and set(result["species"]) <= set(iris.SPECIES)
    assert result["transform_output"].endswith("/iris-features.csv.out")
    assert [float(line) for line in result["transform_head"]] == [0.0] * 5  # first rows are setosa
    assert any("Trained a DecisionTreeClassifier" in line for line in lines), "training log lines streamed"
    sagemaker = runtime.boto3_client("sagemaker")
    names = [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]]
    assert result["endpoint"] not in names  # deleted at the end


def test_training_writes_model_artifacts_and_hyperparameters(runtime, iris_job):
    assert iris_job["TrainingJobStatus"] == "Completed"
    assert iris_job["HyperParameters"]["max_leaf_nodes"] == "30"
    model_data = iris_job["ModelArtifacts"]["S3ModelArtifacts"]
    assert model_data.endswith(f"/{iris_job['TrainingJobName']}/output/model.tar.gz")
    bucket, _, key = model_data[5:].partition("/")
    assert runtime.boto3_client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    transitions = [t["Status"] for t in iris_job["SecondaryStatusTransitions"]]
    assert transitions[0] == "Starting" and transitions[-1] == "Completed" and "Training" in transitions


def test_attach_returns_the_finished_job(runtime, iris_job):
    attached = runtime.client().attach(iris_job["TrainingJobName"])
    assert attached["TrainingJobArn"] == iris_job["TrainingJobArn"]


def test_retried_train_call_reuses_the_job(runtime, iris_job):
    inputs = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in iris_job["InputDataConfig"]}
    again = runtime.client().train(entry_point=str(iris.TRAINING_SCRIPT), job_name=iris_job["TrainingJobName"],
                                   hyperparameters=iris.HYPERPARAMETERS, inputs=inputs, logs=False)
    assert again["TrainingJobArn"] == iris_job["TrainingJobArn"]


def test_failing_training_script_fails_the_job_with_its_reason(runtime, tmp_path):
    script = tmp_path / "broken.py"
    script.write_text("raise ValueError('the data has no label column')\n")
    with pytest.raises(ResourceFailedError) as info:
        runtime.client().train(entry_point=str(script), base_job_name="it-broken", logs=False)
    assert info.value.status == "Failed"
    assert "the data has no label column" in info.value.failure_reason


def test_stop_training_job(runtime, tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\nprint('started', flush=True)\ntime.sleep(120)\n")
    client = runtime.client()
    job = client.train(entry_point=str(script), base_job_name="it-slow", wait=False)
    client.stop_training_job(job["TrainingJobName"])
    with pytest.raises(ResourceFailedError) as info:
        client.wait_for_training_job(job["TrainingJobName"], logs=False, timeout=60)
    assert info.value.status == "Stopped"


@pytest.fixture(scope="module")
def endpoint(runtime, iris_job):
    client = runtime.client()
    model = client.create_model(training_job_name=iris_job["TrainingJobName"])
    name = naming.timestamped_name("it-endpoint")
    client.deploy(model_name=model["ModelName"], endpoint_name=name)
    yield name
    client.delete_endpoint(name)


@pytest.mark.parametrize("content_type", ["application/x-npy", "application/json", "text/csv"])
def test_predict_in_every_content_type(runtime, endpoint, content_type):
    features, labels = iris.blog_test_rows()
    predictions = runtime.client().predict(endpoint, features, content_type=content_type, accept=content_type)
    assert predictions.shape == (29,)
    assert iris.accuracy(predictions, labels) >= 0.9


def test_unsupported_content_type_is_a_clear_4xx(runtime, endpoint):
    with pytest.raises(InvocationError) as info:
        runtime.client().invoke(endpoint, b"<xml/>", content_type="application/xml")
    assert 400 <= int(info.value.status) < 500
    assert "application/xml" in info.value.message


def test_update_endpoint_switches_model_without_downtime(runtime, endpoint, iris_job):
    client = runtime.client()
    model = client.create_model(model_name=f"{iris_job['TrainingJobName'][:50]}-v2",
                                model_data=iris_job["ModelArtifacts"]["S3ModelArtifacts"],
                                entry_point=str(iris.TRAINING_SCRIPT))
    described = client.deploy(model_name=model["ModelName"], endpoint_name=endpoint, wait=False)
    assert described["EndpointStatus"] in ("Updating", "InService")
    features, _ = iris.blog_test_rows()
    while client.describe_endpoint(endpoint)["EndpointStatus"] == "Updating":
        assert client.predict(endpoint, features[:1]).shape == (1,)  # still answering
    final = client.wait_for_endpoint(endpoint, expected_config=model["ModelName"], timeout=120)
    assert final["EndpointConfigName"] == model["ModelName"]
    assert np.array_equal(client.predict(endpoint, features[:3]), [0.0, 0.0, 0.0])
