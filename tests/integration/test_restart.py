"""State survives a restart of the runtime: models, artifacts and S3 objects are still there,
endpoints come back InService, a job that was running is marked Failed."""

from __future__ import annotations

import pytest

from smflow import naming
from smflow.errors import ResourceFailedError
from smflow.examples import iris

from .conftest import Runtime

pytestmark = pytest.mark.integration


def test_restart_keeps_state_and_serves_endpoints_again(tmp_path):
    runtime = Runtime(tmp_path / "state")
    runtime.start()
    try:
        client = runtime.client()
        data = client.upload_data(iris.write_training_csv(tmp_path / "data" / "iris.csv").parent, key_prefix="r/data")
        job = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                           inputs={"train": data}, logs=False)
        model = client.create_model(training_job_name=job["TrainingJobName"])
        endpoint = naming.timestamped_name("restart")
        client.deploy(model_name=model["ModelName"], endpoint_name=endpoint)
        slow = tmp_path / "slow.py"
        slow.write_text("import time\ntime.sleep(300)\n")
        running = client.train(entry_point=str(slow), base_job_name="restart-slow", wait=False)
    finally:
        runtime.stop()

    runtime.start()  # same state dir
    try:
        client = runtime.client()
        assert client.describe_training_job(job["TrainingJobName"])["TrainingJobStatus"] == "Completed"
        bucket, _, key = job["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
        assert client.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
        assert client.sagemaker.describe_model(ModelName=model["ModelName"])["ModelName"] == model["ModelName"]
        described = client.wait_for_endpoint(endpoint, timeout=120)
        assert described["EndpointStatus"] == "InService"
        features, labels = iris.blog_test_rows()
        assert iris.accuracy(client.predict(endpoint, features), labels) >= 0.9
        with pytest.raises(ResourceFailedError) as info:
            client.attach(running["TrainingJobName"], logs=False)
        assert info.value.status == "Failed" and "runtime" in info.value.failure_reason.lower()
        client.delete_endpoint(endpoint)
    finally:
        runtime.stop()
