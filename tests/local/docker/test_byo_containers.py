"""Bring-your-own containers through the smflow client, on a local runtime whose Docker daemon is
the test session's (see conftest.py): a busybox image that follows SageMaker's container
contract trains, serves, updates without downtime and batch-transforms; a failing ``train``,
StopTrainingJob, MaxRuntimeInSeconds, an image absent from the daemon and a daemon that cannot be
reached end as SageMaker users expect."""

from __future__ import annotations

import io
import json
import logging
import tarfile
import threading
import time

import pytest

from smflow import naming
from smflow.client import SageMakerClient
from smflow.errors import ResourceFailedError
from smflow.local.containers.docker.engine import KIND_LABEL, STATE_LABEL
from smflow.local.server import LocalRuntime
from smflow.waiting import Backoff

from .conftest import ABSENT_IMAGE_URI

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
ROWS = "1,2\n3,4\n"  # sums to 10: the model's factor is 10 x the "scale" hyperparameter


class Byo:
    def __init__(self, server: LocalRuntime, client: SageMakerClient, state_dir, data: str):
        self.server = server
        self.client = client
        self.state_dir = state_dir
        self.data = data
        self.bucket = client.default_bucket()

    def training_config(self, image: str, **hyperparameters: str) -> dict:
        return {
            "TrainingJobName": naming.timestamped_name("byo"),
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "RoleArn": ROLE,
            "HyperParameters": hyperparameters,
            "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv",
                                 "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": self.data}}}],
            "OutputDataConfig": {"S3OutputPath": f"s3://{self.bucket}/byo-output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        }

    def model(self, image: str, model_data: str, environment: dict[str, str] | None = None) -> str:
        name = naming.timestamped_name("byo-model")
        container = {"Image": image, "ModelDataUrl": model_data, "Environment": environment or {}}
        self.client.create_model(config={"ModelName": name, "ExecutionRoleArn": ROLE, "PrimaryContainer": container})
        return name

    def members(self, uri: str) -> dict[str, bytes]:
        bucket, _, key = uri[len("s3://"):].partition("/")
        data = self.client.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            return {member.name.lstrip("./"): archive.extractfile(member).read()
                    for member in archive.getmembers() if member.isfile()}

    def log_text(self, group: str, prefix: str) -> str:
        logs = self.client.logs
        try:
            streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)["logStreams"]
        except logs.exceptions.ResourceNotFoundException:  # nothing shipped yet
            return ""
        return "\n".join(event["message"] for stream in streams for event in
                         logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"])["events"])

    def containers(self, kind: str, all: bool = False):  # noqa: A002 - docker's own argument name
        import docker

        client = docker.from_env()
        try:
            return client.containers.list(all=all, ignore_removed=True, filters={
                "label": [f"{STATE_LABEL}={self.state_dir}", f"{KIND_LABEL}={kind}"]})
        finally:
            client.close()


@pytest.fixture(scope="module")
def byo(byo_image, tmp_path_factory):
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state_dir = tmp_path_factory.mktemp("byo-state").resolve()
    server = LocalRuntime(state_dir, deployment_timeout=60)
    url = server.start()
    client = SageMakerClient(endpoint_url=url, backoff=Backoff(initial=0.1, factor=1.2, maximum=0.5))
    folder = tmp_path_factory.mktemp("byo-data")
    (folder / "rows.csv").write_text(ROWS)
    data = client.upload_data(folder, key_prefix="byo/data")
    yield Byo(server, client, state_dir, data)
    server.stop()


@pytest.fixture(scope="module")
def trained(byo, byo_image) -> dict:
    """A job of the image trained with scale 2 (factor 20)."""
    return byo.client.train(config=byo.training_config(byo_image, scale="2"), logs=False, timeout=120)


def test_train_runs_the_image_with_opt_ml_laid_out_as_sagemaker_does(byo, trained):
    assert trained["TrainingJobStatus"] == "Completed"
    prefix = f"s3://{byo.bucket}/byo-output/{trained['TrainingJobName']}/output"
    assert trained["ModelArtifacts"]["S3ModelArtifacts"] == f"{prefix}/model.tar.gz"
    model = byo.members(f"{prefix}/model.tar.gz")
    assert model["factor"].strip() == b"20"
    assert json.loads(model["config/hyperparameters.json"]) == {"scale": "2"}
    assert json.loads(model["config/inputdataconfig.json"])["train"]["ContentType"] == "text/csv"
    resource = json.loads(model["config/resourceconfig.json"])
    assert resource["current_host"] == "algo-1" and resource["hosts"] == ["algo-1"]
    assert model["channels.txt"].decode().split() == ["./train/rows.csv"]
    assert byo.members(f"{prefix}/output.tar.gz")["summary.txt"].strip() == b"rows: 2"
    log = byo.log_text("/aws/sagemaker/TrainingJobs", trained["TrainingJobName"])
    assert f"job {trained['TrainingJobName']}" in log and "train: factor 20" in log
    statuses = [t["Status"] for t in trained["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert byo.containers("training", all=True) == []  # removed when it ended


def test_checkpoints_and_metric_definitions_work_for_containers_too(byo, byo_image):
    config = byo.training_config(byo_image, scale="4")
    checkpoints = f"s3://{byo.bucket}/byo-checkpoints/{config['TrainingJobName']}"
    config["CheckpointConfig"] = {"S3Uri": checkpoints}
    config["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "factor", "Regex": r"train: factor (\S+)"}]
    job = byo.client.train(config=config, logs=False, timeout=120)
    key = f"byo-checkpoints/{config['TrainingJobName']}/factor.ckpt"
    assert byo.client.s3.get_object(Bucket=byo.bucket, Key=key)["Body"].read() == b"40\n"
    assert [(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]] == [("factor", 40.0)]


def test_a_failing_train_fails_the_job_with_its_failure_file(byo, byo_image):
    config = byo.training_config(byo_image, fail="ValueError: the rows do not add up")
    with pytest.raises(ResourceFailedError) as failed:
        byo.client.train(config=config, logs=False, timeout=120)
    reason = byo.client.describe_training_job(config["TrainingJobName"])["FailureReason"]
    assert reason == "AlgorithmError: ValueError: the rows do not add up, exit code: 3"
    assert failed.value.failure_reason == reason
    assert byo.containers("training", all=True) == []


def _wait_for_log(byo: Byo, job_name: str, text: str, timeout: float = 60,
                  group: str = "/aws/sagemaker/TrainingJobs") -> None:
    deadline = time.monotonic() + timeout
    while text not in byo.log_text(group, job_name):
        assert time.monotonic() < deadline, f"{text!r} never reached the job's log"
        time.sleep(0.2)


def test_stop_training_job_ends_the_container_and_uploads_the_model_saved_so_far(byo, byo_image):
    config = byo.training_config(byo_image, sleep="300")
    byo.client.train(config=config, wait=False, logs=False)
    name = config["TrainingJobName"]
    _wait_for_log(byo, name, "train: sleeping 300 s")  # its SIGTERM trap is set
    assert len(byo.containers("training")) == 1
    started = time.monotonic()
    byo.client.stop_training_job(name)
    with pytest.raises(ResourceFailedError):
        byo.client.wait_for_training_job(name, timeout=60)
    described = byo.client.describe_training_job(name)
    assert described["TrainingJobStatus"] == "Stopped" and described["SecondaryStatus"] == "Stopped"
    assert time.monotonic() - started < 5  # SIGTERM was enough: no wait for the grace period
    assert byo.members(described["ModelArtifacts"]["S3ModelArtifacts"])["partial.txt"].strip() == b"partial"
    assert "train: SIGTERM, saving the partial model" in byo.log_text("/aws/sagemaker/TrainingJobs", name)
    assert byo.containers("training", all=True) == []


def test_max_runtime_stops_the_container(byo, byo_image):
    config = byo.training_config(byo_image, sleep="300")
    config["StoppingCondition"] = {"MaxRuntimeInSeconds": 3}
    with pytest.raises(ResourceFailedError):
        byo.client.train(config=config, logs=False, timeout=60)
    described = byo.client.describe_training_job(config["TrainingJobName"])
    assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert described["TrainingTimeInSeconds"] < 30
    assert byo.containers("training", all=True) == []


def test_endpoint_serves_from_one_container_per_instance_and_updates_without_downtime(byo, byo_image, trained):
    model = byo.model(byo_image, trained["ModelArtifacts"]["S3ModelArtifacts"])
    endpoint = naming.timestamped_name("byo-endpoint")
    described = byo.client.deploy(model_name=model, endpoint_name=endpoint, initial_instance_count=2)
    assert described["EndpointStatus"] == "InService"
    containers = byo.containers("serving")
    assert len(containers) == 2
    ports = {next(v for v in c.attrs["Config"]["Env"] if v.startswith("SAGEMAKER_BIND_TO_PORT=")) for c in containers}
    assert len(ports) == 2  # each instance its own port on the shared host network

    runtime = byo.client.runtime
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=ROWS.encode(), ContentType="text/csv")
    assert (answer["Body"].read(), answer["ContentType"]) == (b"20,40\n60,80\n", "text/csv")
    answer = runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1,1\n", ContentType="text/csv",
                                     Accept="application/json", CustomAttributes="trace=abc")
    assert json.loads(answer["Body"].read()) == {"predictions": [[20, 20]], "custom_attributes": "trace=abc"}
    with pytest.raises(runtime.exceptions.ModelError) as error:  # the container's own 415 reaches the caller
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"{}", ContentType="application/json")
    assert error.value.response["OriginalStatusCode"] == 415
    for text in ("serve: listening on", "handle: POST /invocations"):
        _wait_for_log(byo, "AllTraffic/", text, group=f"/aws/sagemaker/Endpoints/{endpoint}")

    # UpdateEndpoint to a model trained with scale 1 (factor 10), invoked all along.
    retrained = byo.client.train(config=byo.training_config(byo_image, scale="1"), logs=False, timeout=120)
    new_model = byo.model(byo_image, retrained["ModelArtifacts"]["S3ModelArtifacts"])
    answers: list[bytes] = []
    errors: list[Exception] = []
    done = threading.Event()

    def invoke_all_along() -> None:
        while not done.is_set():
            try:
                answers.append(runtime.invoke_endpoint(EndpointName=endpoint, Body=b"1\n",
                                                       ContentType="text/csv")["Body"].read())
            except Exception as exc:  # noqa: BLE001 - counted, the test fails on any
                errors.append(exc)

    invoker = threading.Thread(target=invoke_all_along)
    invoker.start()
    try:
        config_name = naming.timestamped_name("byo-config")
        byo.client.sagemaker.create_endpoint_config(EndpointConfigName=config_name, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": new_model, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        byo.client.sagemaker.update_endpoint(EndpointName=endpoint, EndpointConfigName=config_name)
        assert byo.client.wait_for_endpoint(endpoint, timeout=120)["EndpointStatus"] == "InService"
        deadline = time.monotonic() + 30
        while len(byo.containers("serving")) != 1:  # the old containers go after draining
            assert time.monotonic() < deadline
            time.sleep(0.2)
        count = len(answers)
        while len(answers) < count + 5:
            time.sleep(0.05)
    finally:
        done.set()
        invoker.join()
    assert errors == []
    assert set(answers) == {b"20\n", b"10\n"} and answers[-1] == b"10\n"

    byo.client.delete_endpoint(endpoint)
    assert byo.containers("serving", all=True) == []


def test_batch_transform_goes_through_the_serving_containers(byo, byo_image, trained):
    code = io.BytesIO()  # a framework image's code: SAGEMAKER_SUBMIT_DIRECTORY on S3
    with tarfile.open(fileobj=code, mode="w:gz") as tar:
        member = tarfile.TarInfo("inference.py")
        member.size = 5
        tar.addfile(member, io.BytesIO(b"pass\n"))
    byo.client.s3.put_object(Bucket=byo.bucket, Key="byo/code/sourcedir.tar.gz", Body=code.getvalue())
    model = byo.model(byo_image, trained["ModelArtifacts"]["S3ModelArtifacts"],
                      {"SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{byo.bucket}/byo/code/sourcedir.tar.gz"})
    folder_key = "byo/transform-input"
    byo.client.s3.put_object(Bucket=byo.bucket, Key=f"{folder_key}/part-1.csv", Body=b"1,2\n3,4\n5,6\n")
    byo.client.s3.put_object(Bucket=byo.bucket, Key=f"{folder_key}/part-2.csv", Body=b"0.5\n")
    output = f"s3://{byo.bucket}/byo/transform-output"
    job = byo.client.batch_transform(model_name=model, data=f"s3://{byo.bucket}/{folder_key}", output_path=output,
                                     instance_count=2, timeout=120)
    assert job["TransformJobStatus"] == "Completed"

    def read(key: str) -> bytes:
        return byo.client.s3.get_object(Bucket=byo.bucket, Key=f"byo/transform-output/{key}")["Body"].read()

    assert read("part-1.csv.out") == b"20,40\n60,80\n100,120\n"
    assert read("part-2.csv.out") == b"10\n"
    # the code was downloaded by the runtime and mounted where the variable now points
    _wait_for_log(byo, job["TransformJobName"], "serve: code in /opt/ml/code: inference.py",
                  group="/aws/sagemaker/TransformJobs")
    assert byo.containers("serving", all=True) == []


def test_an_image_absent_from_the_daemon_is_not_pulled_and_the_reason_says_how(byo):
    config = byo.training_config(ABSENT_IMAGE_URI, scale="1")
    with pytest.raises(ResourceFailedError):
        byo.client.train(config=config, logs=False, timeout=60)
    reason = byo.client.describe_training_job(config["TrainingJobName"])["FailureReason"]
    assert "is not on the Docker daemon" in reason and "smflow never pulls images" in reason
    assert ("aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin "
            f"123456789012.dkr.ecr.us-east-1.amazonaws.com && docker pull {ABSENT_IMAGE_URI}") in reason

    model = byo.model(ABSENT_IMAGE_URI, f"s3://{byo.bucket}/byo/none/model.tar.gz")
    endpoint = naming.timestamped_name("byo-absent")
    with pytest.raises(ResourceFailedError):
        byo.client.deploy(model_name=model, endpoint_name=endpoint, timeout=60)
    described = byo.client.describe_endpoint(endpoint)
    assert described["EndpointStatus"] == "Failed"
    assert f"docker pull {ABSENT_IMAGE_URI}" in described["FailureReason"]
    byo.client.delete_endpoint(endpoint)


def test_without_a_reachable_daemon_the_reason_names_both_ways_out(byo, byo_image, monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")
    config = byo.training_config(byo_image, scale="1")
    with pytest.raises(ResourceFailedError):
        byo.client.train(config=config, logs=False, timeout=60)
    reason = byo.client.describe_training_job(config["TrainingJobName"])["FailureReason"]
    assert reason.startswith(f"Image '{byo_image}' cannot run on the smflow local runtime: no local environment")
    assert f"no Docker daemon is reachable at unix://{tmp_path}/no-daemon.sock" in reason
    assert "start Docker" in reason and "use a framework image that runs in a local environment" in reason


def test_sdk_style_train_create_model_and_predict_without_a_script(byo, byo_image):
    """The SDK's plain ``Estimator(image_uri=...)`` and ``Model(image_uri, model_data)``: no
    entry_point, the hyperparameters given to the image as they are."""
    job = byo.client.train(image_uri=byo_image, hyperparameters={"scale": 3}, inputs={"train": byo.data},
                           instance_type="ml.m5.large", logs=False, timeout=120)
    assert job["HyperParameters"] == {"scale": "3"}
    model = byo.client.create_model(image_uri=byo_image, model_data=job["ModelArtifacts"]["S3ModelArtifacts"])
    endpoint = naming.timestamped_name("byo-sdk")
    byo.client.deploy(model_name=model["ModelName"], endpoint_name=endpoint)
    try:
        predictions = byo.client.predict(endpoint, [[1, 2], [3, 4]], content_type="text/csv", accept="text/csv")
        assert predictions.tolist() == [[30, 60], [90, 120]]
    finally:
        byo.client.delete_endpoint(endpoint)


def test_an_image_docker_cannot_start_fails_the_job_with_dockers_reason(byo, byo_image, tmp_path):
    import docker

    broken = "123456789012.dkr.ecr.us-east-1.amazonaws.com/smflow-byo-broken:1.0"
    (tmp_path / "Dockerfile").write_text(f'FROM {byo_image}\nENTRYPOINT ["/bin/no-such-program"]\n')
    engine = docker.from_env()
    try:
        engine.images.build(path=str(tmp_path), tag=broken, rm=True)
    finally:
        engine.close()
    config = byo.training_config(broken, scale="1")
    with pytest.raises(ResourceFailedError):
        byo.client.train(config=config, logs=False, timeout=60)
    reason = byo.client.describe_training_job(config["TrainingJobName"])["FailureReason"]
    assert reason.startswith("AlgorithmError: Docker could not start `train` in image") and "exit code: 127" in reason
    assert "no-such-program" in reason
    assert byo.containers("training", all=True) == []


def test_a_serving_container_that_dies_is_replaced(byo, byo_image, trained):
    model = byo.model(byo_image, trained["ModelArtifacts"]["S3ModelArtifacts"])
    endpoint = naming.timestamped_name("byo-heal")
    byo.client.deploy(model_name=model, endpoint_name=endpoint)
    try:
        (first,) = byo.containers("serving")
        first.kill()  # as the out-of-memory killer would
        deadline = time.monotonic() + 60
        while True:
            running = byo.containers("serving")
            if len(running) == 1 and running[0].id != first.id:
                break
            assert time.monotonic() < deadline, "the container was not replaced"
            time.sleep(0.2)
        answer = byo.client.runtime.invoke_endpoint(EndpointName=endpoint, Body=b"2\n", ContentType="text/csv")
        assert answer["Body"].read() == b"40\n"
        assert [c.id for c in byo.containers("serving", all=True)] == [running[0].id]  # the dead one removed
    finally:
        byo.client.delete_endpoint(endpoint)
