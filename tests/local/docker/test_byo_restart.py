"""A runtime killed (SIGKILL: nothing of it can clean up) while an endpoint of a bring-your-own
image serves and a training container runs: its containers keep running under dockerd; the
restarted runtime removes them (found by their state-directory label), fails the job, and serves
the endpoint again from new containers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from smflow import naming
from smflow.errors import ResourceFailedError
from smflow.local import launcher
from smflow.local.containers.docker.engine import KIND_LABEL, STATE_LABEL
from smflow.local.support.processes import is_running

from ...integration.conftest import Runtime
from .test_byo_containers import ROLE, ROWS

pytestmark = pytest.mark.integration


def _containers(state_dir, kind: str | None = None):
    import docker

    client = docker.from_env()
    try:
        wanted = [f"{STATE_LABEL}={state_dir}"] + ([f"{KIND_LABEL}={kind}"] if kind else [])
        return client.containers.list(all=True, filters={"label": wanted}, ignore_removed=True)
    finally:
        client.close()


def _wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_restart_after_sigkill_removes_the_old_containers_and_serves_the_endpoint_again(byo_image, tmp_path):
    runtime = Runtime((tmp_path / "state").resolve())  # a runtime process of its own (DOCKER_HOST inherited)
    runtime.start()
    try:
        client = runtime.client()
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "rows.csv").write_text(ROWS)
        data = client.upload_data(tmp_path / "data", key_prefix="restart/data")
        bucket = client.default_bucket()

        def training(**hyperparameters: str) -> dict:
            return {
                "TrainingJobName": naming.timestamped_name("byo-restart"),
                "AlgorithmSpecification": {"TrainingImage": byo_image, "TrainingInputMode": "File"},
                "RoleArn": ROLE, "HyperParameters": hyperparameters,
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data}}}],
                "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/restart"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            }

        job = client.train(config=training(scale="3"), logs=False, timeout=120)
        model = naming.timestamped_name("byo-restart-model")
        client.create_model(config={"ModelName": model, "ExecutionRoleArn": ROLE, "PrimaryContainer": {
            "Image": byo_image, "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"]}})
        endpoint = naming.timestamped_name("byo-restart")
        client.deploy(model_name=model, endpoint_name=endpoint, initial_instance_count=2)
        assert client.runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1\n",
                                              ContentType="text/csv")["Body"].read() == b"30\n"
        running = training(sleep="600")
        client.train(config=running, wait=False, logs=False)
        _wait_until(lambda: len(_containers(runtime.state_dir, "training")) == 1, "the training container")
        before = {container.id for container in _containers(runtime.state_dir)}
        assert len(before) == 3

        pid = launcher.read_info(runtime.state_dir).pid
        os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not is_running(pid), "the runtime exiting after SIGKILL")
        assert {c.id for c in _containers(runtime.state_dir) if c.status == "running"} == before  # left behind

        runtime.start()  # same state dir
        client = runtime.client()
        assert client.wait_for_endpoint(endpoint, timeout=120)["EndpointStatus"] == "InService"
        assert client.runtime.invoke_endpoint(EndpointName=endpoint, Body=b"2\n",
                                              ContentType="text/csv")["Body"].read() == b"60\n"
        after = _containers(runtime.state_dir)
        assert not before & {container.id for container in after}  # the killed runtime's are gone
        assert sorted(container.labels[KIND_LABEL] for container in after) == ["serving", "serving"]
        with pytest.raises(ResourceFailedError) as failed:
            client.attach(running["TrainingJobName"], logs=False)
        assert failed.value.status == "Failed" and "runtime" in failed.value.failure_reason.lower()
        client.delete_endpoint(endpoint)
        assert _containers(runtime.state_dir) == []
    finally:
        runtime.stop()
        for container in _containers(runtime.state_dir):  # should the test fail, leave nothing running
            container.remove(force=True)
