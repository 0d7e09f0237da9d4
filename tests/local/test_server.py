"""The local runtime's server: one endpoint for S3, STS, CloudWatch Logs, SageMaker and SageMaker
Runtime (moto's admin API refused), ``python -m smflow.local.server``, and the real executors
end to end through it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from .conftest import FAST_WAIT, ROLE, create_config
from .wire import raw_post


# ------------------------------------------------------------------------ S3, STS, Logs --
def test_s3_sts_and_logs_share_the_endpoint(runtime):
    s3 = runtime.client("s3")
    s3.create_bucket(Bucket="data-bucket")
    s3.put_object(Bucket="data-bucket", Key="train/iris.csv", Body=b"5.1,3.5\n", ContentType="text/csv")
    s3.put_object(Bucket="data-bucket", Key="train/more.csv", Body=b"4.9,3.0\n")
    got = s3.get_object(Bucket="data-bucket", Key="train/iris.csv")
    assert got["Body"].read() == b"5.1,3.5\n" and got["ContentType"] == "text/csv"
    listed = s3.list_objects_v2(Bucket="data-bucket", Prefix="train/")
    assert [o["Key"] for o in listed["Contents"]] == ["train/iris.csv", "train/more.csv"]
    # path-style addressing against http://127.0.0.1:PORT
    assert s3.meta.endpoint_url.startswith("http://127.0.0.1:")

    assert runtime.client("sts").get_caller_identity()["Account"] == "123456789012"

    logs = runtime.client("logs")
    logs.create_log_group(logGroupName="/aws/sagemaker/TrainingJobs")
    logs.create_log_stream(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1-1")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/aws/sagemaker/TrainingJobs", logStreamName="job/algo-1-1",
                        logEvents=[{"timestamp": now, "message": "epoch 1"},
                                   {"timestamp": now + 1, "message": "epoch 2"}])
    events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                 logStreamName="job/algo-1-1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["epoch 1", "epoch 2"]


def test_motos_admin_api_is_refused_so_saved_state_cannot_be_reset(fake_runtime):
    status, _, body = raw_post(fake_runtime.url, "/moto-api/reset", b"", {})
    assert status == 404 and b"not available" in body


# ------------------------------------------------------------- python -m entry point --
def test_module_entry_point_serves_until_sigterm(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "smflow.local.server", "--port", "0", "--state-dir", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    try:
        line = process.stdout.readline()
        assert "ready at http://127.0.0.1:" in line, line
        url = line.rsplit(" ", 1)[1].strip()
        import boto3

        s3 = boto3.session.Session(aws_access_key_id="a", aws_secret_access_key="b",
                                   region_name="us-east-1").client("s3", endpoint_url=url)
        s3.create_bucket(Bucket="kept-bucket")
        s3.put_object(Bucket="kept-bucket", Key="k", Body=b"v")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert list((tmp_path / "state" / "s3").glob("*/*/objects/*.data"))


# ------------------------------------------------------------ the real executors, end to end --
TRAIN_SCRIPT = '''
import argparse, os
import joblib
import pandas as pd
from sklearn.tree import DecisionTreeClassifier


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--max_leaf_nodes", type=int, default=None)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    frames = [pd.read_csv(os.path.join(args.train, name), header=None) for name in os.listdir(args.train)]
    data = pd.concat(frames)
    model = DecisionTreeClassifier(max_leaf_nodes=args.max_leaf_nodes).fit(data.iloc[:, 1:], data.iloc[:, 0])
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    print("trained on", len(data), "rows")
'''


@pytest.mark.integration
def test_real_executors_train_deploy_invoke_transform_and_restart(runtime, tmp_path):
    from smflow.archives import make_tar_gz
    from smflow.image_uris import retrieve

    image = retrieve("sklearn", "us-east-1", "1.2-1")
    s3, sm = runtime.client("s3"), runtime.client("sagemaker")
    s3.create_bucket(Bucket="lifecycle")
    rows = "\n".join(f"{label},{label * 2 + 0.1 * i},{label - 0.05 * i}" for label in (0, 1, 2) for i in range(8))
    s3.put_object(Bucket="lifecycle", Key="data/train.csv", Body=rows.encode())
    source = tmp_path / "source"
    source.mkdir()
    (source / "train.py").write_text(TRAIN_SCRIPT)
    s3.upload_file(str(make_tar_gz(source, tmp_path / "sourcedir.tar.gz")), "lifecycle", "code/sourcedir.tar.gz")
    submit = "s3://lifecycle/code/sourcedir.tar.gz"

    sm.create_training_job(
        TrainingJobName="e2e-train", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        HyperParameters={"max_leaf_nodes": "10", "sagemaker_program": json.dumps("train.py"),
                         "sagemaker_submit_directory": json.dumps(submit)},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://lifecycle/data", "S3DataDistributionType": "FullyReplicated"}}}],
        OutputDataConfig={"S3OutputPath": "s3://lifecycle/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName="e2e-train", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    job = sm.describe_training_job(TrainingJobName="e2e-train")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    artifacts = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifacts == "s3://lifecycle/output/e2e-train/output/model.tar.gz"

    environment = {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": submit}
    sm.create_model(ModelName="e2e-model", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": image, "ModelDataUrl": artifacts, "Environment": environment})
    create_config(sm, "e2e-config", "e2e-model")
    sm.create_endpoint(EndpointName="e2e-endpoint", EndpointConfigName="e2e-config")
    sm.get_waiter("endpoint_in_service").wait(EndpointName="e2e-endpoint",
                                              WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    smr = runtime.client("sagemaker-runtime")
    answer = smr.invoke_endpoint(EndpointName="e2e-endpoint", Body=b"4.1,1.9\n0.1,0.0",
                                 ContentType="text/csv", Accept="application/json")
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert json.loads(answer["Body"].read()) == [2, 0]
    with pytest.raises(ClientError) as info:
        smr.invoke_endpoint(EndpointName="e2e-endpoint", Body=b"1", ContentType="application/x-unknown")
    assert info.value.response["Error"]["Code"] == "ModelError"
    assert 400 <= info.value.response["OriginalStatusCode"] < 500

    s3.put_object(Bucket="lifecycle", Key="batch/input.csv", Body=b"4.1,1.9\n2.1,0.9\n")
    sm.create_transform_job(
        TransformJobName="e2e-transform", ModelName="e2e-model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://lifecycle/batch"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": "s3://lifecycle/batch-output"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    sm.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="e2e-transform", WaiterConfig={"Delay": 0.2, "MaxAttempts": 600})
    transform = sm.describe_transform_job(TransformJobName="e2e-transform")
    assert transform["TransformJobStatus"] == "Completed", transform.get("FailureReason")
    output = s3.get_object(Bucket="lifecycle", Key="batch-output/input.csv.out")["Body"].read()
    assert output.strip()

    runtime.restart()  # the endpoint serves again as soon as the runtime is ready
    smr = runtime.client("sagemaker-runtime")
    answer = smr.invoke_endpoint(EndpointName="e2e-endpoint", Body=b"0.1,0.0", ContentType="text/csv",
                                 Accept="application/json")
    assert json.loads(answer["Body"].read()) == [0]

    sm = runtime.client("sagemaker")
    sm.delete_endpoint(EndpointName="e2e-endpoint")
    sm.get_waiter("endpoint_deleted").wait(EndpointName="e2e-endpoint", WaiterConfig=FAST_WAIT)
