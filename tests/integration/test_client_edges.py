"""Reruns, reuse and clear errors of the smflow client on a real local runtime process: which job
or model a repeated call reuses, where model code goes, what a missing resource says, and
deploying onto an endpoint that is still being deleted."""

from __future__ import annotations

import pytest

from smflow import naming
from smflow.errors import ConfigurationError, ResourceFailedError
from smflow.examples import iris

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data(runtime):
    client = runtime.client()
    return client.upload_data(iris.write_training_csv(
        runtime.state_dir.parent / "edges-data" / "iris.csv").parent, key_prefix="it/edges")


@pytest.fixture(scope="module")
def own_job(runtime, data):
    """A training job of this module only (models named after it are made here)."""
    return runtime.client().train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                                  inputs={"train": data}, job_name=naming.timestamped_name("it-edges"), logs=False)


def test_a_rerun_with_other_hyperparameters_trains_the_next_suffix(runtime, own_job, data):
    lines: list[str] = []
    client = runtime.client(log=lines.append)
    name = own_job["TrainingJobName"]
    same = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                        inputs={"train": data}, job_name=name, logs=False)
    assert same["TrainingJobArn"] == own_job["TrainingJobArn"]
    changed = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters={"max_leaf_nodes": 5},
                           inputs={"train": data}, job_name=name, logs=False)
    assert changed["TrainingJobName"] == f"{name}-2" and changed["TrainingJobStatus"] == "Completed"
    assert changed["HyperParameters"]["max_leaf_nodes"] == "5"
    assert any("HyperParameters.max_leaf_nodes" in line and "not reusing it" in line for line in lines)


def test_a_rerun_while_the_job_is_stopping_starts_the_next_suffix(runtime, tmp_path):
    script = tmp_path / "slow.py"
    script.write_text("import time\nprint('started', flush=True)\ntime.sleep(120)\n")
    client = runtime.client()
    name = naming.timestamped_name("it-stopping")
    client.train(entry_point=str(script), job_name=name, wait=False)
    client.stop_training_job(name)  # Airflow's on_kill after execution_timeout
    rerun = client.train(entry_point=str(script), job_name=name, wait=False)
    try:
        assert rerun["TrainingJobName"] == f"{name}-2"
        assert client.describe_training_job(name)["TrainingJobStatus"] == "Stopped"
    finally:
        client.stop_training_job(rerun["TrainingJobName"])


def test_model_code_is_stored_apart_from_the_training_code(runtime, own_job, tmp_path):
    client = runtime.client()
    job_name = own_job["TrainingJobName"]
    s3 = runtime.boto3_client("s3")
    submit = own_job["HyperParameters"]["sagemaker_submit_directory"].strip('"')
    bucket, _, key = submit[5:].partition("/")
    training_code = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    serve = tmp_path / "serve.py"
    serve.write_text(iris.TRAINING_SCRIPT.read_text())

    model = client.create_model(training_job_name=job_name, entry_point=str(serve))  # model_name = job name
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == training_code
    env = runtime.boto3_client("sagemaker").describe_model(ModelName=job_name)["PrimaryContainer"]["Environment"]
    assert env["SAGEMAKER_PROGRAM"] == "serve.py"
    assert f"/{job_name}/model-code-" in env["SAGEMAKER_SUBMIT_DIRECTORY"]
    assert client.create_model(training_job_name=job_name, entry_point=str(serve))["ModelArn"] == model["ModelArn"]
    with pytest.raises(ConfigurationError, match=f"model_name '{job_name}' already exists with another container"):
        client.create_model(training_job_name=job_name, entry_point=str(iris.TRAINING_SCRIPT))


def test_missing_resources_are_named(runtime):
    client = runtime.client()
    with pytest.raises(ConfigurationError, match="TrainingJob 'it-nope' not found; check job_name"):
        client.wait_for_training_job("it-nope")
    with pytest.raises(ConfigurationError, match="TransformJob 'it-nope' not found; check job_name"):
        client.wait_for_transform_job("it-nope")
    with pytest.raises(ConfigurationError, match="Endpoint 'it-nope' not found; check endpoint_name"):
        client.wait_for_endpoint("it-nope")
    with pytest.raises(ConfigurationError, match="TrainingJob 'it-nope' not found; check training_job_name"):
        client.create_model(training_job_name="it-nope")
    with pytest.raises(ConfigurationError, match="Model 'it-nope' not found; check model_name"):
        client.batch_transform(model_name="it-nope", data="s3://unused/prefix")


def test_a_max_runtime_stop_says_why(runtime, tmp_path):
    script = tmp_path / "long.py"
    script.write_text("import time\ntime.sleep(60)\n")
    with pytest.raises(ResourceFailedError) as info:
        runtime.client().train(entry_point=str(script), base_job_name="it-maxrun", max_run=1, logs=False,
                               timeout=60)
    assert info.value.status == "Stopped"
    assert info.value.failure_reason.startswith("MaxRuntimeExceeded: ")  # FailureReason itself is empty
    assert "MaxRuntimeInSeconds (1 s)" in str(info.value)


def test_batch_transform_without_split_type_sends_each_object_whole(runtime, own_job, tmp_path):
    client = runtime.client()
    model_name = f"{own_job['TrainingJobName'][:50]}-whole"
    client.create_model(model_name=model_name, training_job_name=own_job["TrainingJobName"])
    features, _ = iris.blog_test_rows()
    batch = client.upload_data(iris.write_features_csv(tmp_path / "batch" / "rows.csv", features).parent,
                               key_prefix="it/edges-whole")
    job = client.batch_transform(model_name=model_name, data=batch, split_type=None, batch_strategy="SingleRecord",
                                 assemble_with=None, accept="text/csv", base_job_name="it-whole")
    assert "SplitType" not in job["TransformInput"] or job["TransformInput"]["SplitType"] == "None"
    bucket, _, key = f"{job['TransformOutput']['S3OutputPath'].rstrip('/')}/rows.csv.out"[5:].partition("/")
    body = runtime.boto3_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert len(body.split()) == len(features)  # one request with every row, one prediction per row


def test_deploy_right_after_a_delete_that_did_not_wait(runtime, own_job):
    client = runtime.client()
    model = client.create_model(model_name=f"{own_job['TrainingJobName'][:50]}-ep",
                                training_job_name=own_job["TrainingJobName"])
    name = naming.timestamped_name("it-redeploy")
    client.deploy(model_name=model["ModelName"], endpoint_name=name, timeout=120)
    client.delete_endpoint(name, delete_endpoint_config=False, wait=False)
    try:
        described = client.deploy(model_name=model["ModelName"], endpoint_name=name, timeout=120)
        assert described["EndpointStatus"] == "InService"
        assert client.predict(name, [[5.1, 3.5, 1.4, 0.2]]).shape == (1,)
    finally:
        client.delete_endpoint(name)
