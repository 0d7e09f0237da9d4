"""``smflow local up --docker-frameworks`` (``SMFLOW_DOCKER_FRAMEWORKS=1``): AWS's own framework
images run in Docker instead of local environments. The busybox image stands in for the
scikit-learn training image here, tagged with that image's URI as a user's ``docker pull`` would."""

from __future__ import annotations

import pytest

from smflow import naming
from smflow.image_uris import retrieve
from smflow.local import launcher

from ...integration.conftest import Runtime, free_port
from .test_byo_containers import ROLE, ROWS

pytestmark = pytest.mark.integration


def test_a_runtime_started_with_docker_frameworks_trains_a_framework_image_in_docker(byo_image, tmp_path):
    import docker

    image = retrieve("sklearn", "us-east-1", "1.2-1", "py3", "ml.m5.large", "training")
    engine = docker.from_env()
    try:
        engine.images.get(byo_image).tag(image)
    finally:
        engine.close()
    runtime = Runtime((tmp_path / "state").resolve())
    runtime.port = free_port()
    info, _ = launcher.start_background(runtime.state_dir, port=runtime.port, timeout=90, docker_frameworks=True)
    runtime.url = info.url
    try:
        client = runtime.client()
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "rows.csv").write_text(ROWS)
        data = client.upload_data(tmp_path / "data", key_prefix="frameworks/data")
        job = client.train(config={
            "TrainingJobName": naming.timestamped_name("byo-framework"),
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "RoleArn": ROLE, "HyperParameters": {"scale": "5"},
            "InputDataConfig": [{"ChannelName": "train", "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{client.default_bucket()}/frameworks"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        }, logs=False, timeout=120)
        events = client.logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=client.logs.describe_log_streams(
                logGroupName="/aws/sagemaker/TrainingJobs",
                logStreamNamePrefix=job["TrainingJobName"])["logStreams"][0]["logStreamName"])["events"]
        assert "train: factor 50" in [event["message"] for event in events]  # the container's train ran
    finally:
        runtime.stop()
