"""State survives a restart of the runtime: models, artifacts and S3 objects are still there,
endpoints come back InService, a job that was running is marked Failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from smflow import naming
from smflow.errors import ResourceFailedError
from smflow.examples import iris
from smflow.local import launcher
from smflow.local.support.processes import TREE_ENV, folder_marker, group_members, is_running, start_time

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


WAITING_SCRIPT = '''\
"""Records its pid and process group in --ready-file, then trains "forever"."""
import argparse
import os
import time

parser = argparse.ArgumentParser()
parser.add_argument("--ready-file")
args, _ = parser.parse_known_args()
with open(args.ready_file + ".tmp", "w") as f:
    f.write(f"{os.getpid()} {os.getpgrp()}")
os.replace(args.ready_file + ".tmp", args.ready_file)
print("training until killed", flush=True)
time.sleep(600)
'''


def _wait_until(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.1)


def test_sigkill_during_training_fails_the_job_and_keeps_the_rest(tmp_path):
    runtime = Runtime(tmp_path / "state")
    runtime.start()
    ready = tmp_path / "ready"
    started: dict[int, int] = {}  # the job's processes (toolkit and script) -> their start times
    try:
        client = runtime.client()
        data = client.upload_data(iris.write_training_csv(tmp_path / "data" / "iris.csv").parent, key_prefix="k/data")
        job = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                           inputs={"train": data}, logs=False)
        model = client.create_model(training_job_name=job["TrainingJobName"])
        script = tmp_path / "waiting.py"
        script.write_text(WAITING_SCRIPT)
        running = client.train(entry_point=str(script), hyperparameters={"ready-file": str(ready)},
                               base_job_name="kill-running", wait=False)
        _wait_until(ready.exists, "the training script starting")
        pid, group = (int(field) for field in ready.read_text().split())
        started = {process: start_time(process) for process in (pid, group)}
        assert None not in started.values() and group != pid  # the toolkit leads the script's group
        described = client.describe_training_job(running["TrainingJobName"])
        assert (described["TrainingJobStatus"], described["SecondaryStatus"]) == ("InProgress", "Training")

        runtime_pid = launcher.read_info(runtime.state_dir).pid
        os.kill(runtime_pid, signal.SIGKILL)
        _wait_until(lambda: not is_running(runtime_pid), "the runtime exiting after SIGKILL")

        runtime.start()  # same state dir; the stale runtime.json of the killed process is ignored
        client = runtime.client()
        with pytest.raises(ResourceFailedError) as info:
            client.attach(running["TrainingJobName"], logs=False)
        assert info.value.status == "Failed"
        assert "runtime stopped while this training job was running" in info.value.failure_reason
        after = client.describe_training_job(running["TrainingJobName"])
        assert after["SecondaryStatusTransitions"][-1]["Status"] == "Failed"
        # The restarted runtime ended the processes the killed one left behind before failing
        # the job: nothing of the job runs on or writes into its folders.
        assert not is_running(pid) and not is_running(group)
        assert group_members(group) == []

        assert client.describe_training_job(job["TrainingJobName"])["TrainingJobStatus"] == "Completed"
        bucket, _, key = job["ModelArtifacts"]["S3ModelArtifacts"][5:].partition("/")
        assert client.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
        data_bucket, _, data_prefix = data[5:].partition("/")
        body = client.s3.get_object(Bucket=data_bucket, Key=f"{data_prefix.rstrip('/')}/iris.csv")["Body"].read()
        assert body == (tmp_path / "data" / "iris.csv").read_bytes()
        assert client.sagemaker.describe_model(ModelName=model["ModelName"])["ModelName"] == model["ModelName"]
        # A new job under the restarted runtime still works end to end on the stored data.
        again = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                             inputs={"train": data}, base_job_name="after-kill", logs=False)
        assert again["TrainingJobStatus"] == "Completed"
    finally:
        runtime.stop()
        # Should the test fail, leave nothing running: kill what is still the job's processes
        # (same pid and start time; a pid reused since then is left alone).
        for process, process_started in started.items():
            if start_time(process) == process_started:
                os.kill(process, signal.SIGKILL)


RUNAWAY_SCRIPT = Path(__file__).resolve().parents[1] / "local" / "serving_scripts" / "runaway.py"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SLEEPER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def _marker_of(pid: int) -> str | None:
    prefix = f"{TREE_ENV}=".encode()
    try:
        data = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    return next((entry[len(prefix):].decode() for entry in data.split(b"\0") if entry.startswith(prefix)), None)


def test_a_restart_ends_what_a_killed_runtimes_model_servers_left_running(tmp_path):
    """The runtime and its model server die with SIGKILL (nothing of theirs can clean up): the
    processes the model's code left outside the server's session (a forked ``os.setsid()`` child
    and a double-forked, exec'd grandchild, runaway.py) are ended when the runtime starts again on
    the same state folder; a process carrying another state folder's marker, and one without a
    marker, are not."""
    runtime = Runtime(tmp_path / "state")
    runtime.start()
    identities: dict[int, int] = {}  # processes this test must leave nothing of -> start times
    bystanders: list[subprocess.Popen] = []
    try:
        archive = tmp_path / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(RUNAWAY_SCRIPT, arcname="code/runaway.py")
        s3 = runtime.boto3_client("s3")
        s3.create_bucket(Bucket="runaway")
        s3.upload_file(str(archive), "runaway", "model.tar.gz")
        sagemaker = runtime.boto3_client("sagemaker")
        sagemaker.create_model(ModelName="runaway", ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
                               PrimaryContainer={"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://runaway/model.tar.gz",
                                                 "Environment": {"SAGEMAKER_PROGRAM": "runaway.py"}})
        sagemaker.create_endpoint_config(EndpointConfigName="runaway", ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": "runaway", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}])
        sagemaker.create_endpoint(EndpointName="runaway", EndpointConfigName="runaway")
        _wait_until(lambda: sagemaker.describe_endpoint(EndpointName="runaway")["EndpointStatus"] == "InService",
                    "the endpoint serving", timeout=60)
        body = runtime.boto3_client("sagemaker-runtime").invoke_endpoint(
            EndpointName="runaway", Body=b"{}", ContentType="application/json")["Body"].read()
        answer = json.loads(body)
        server, runaways = answer["server"], answer["runaways"]
        identities = {pid: start_time(pid) for pid in [server, *runaways]}
        assert None not in identities.values()
        marker = _marker_of(server)
        assert marker and all(_marker_of(pid) == marker for pid in runaways)  # forked (no exec) or not
        assert all(os.getsid(pid) != os.getsid(server) for pid in runaways)  # they left its session

        # The same instance folder in another state folder, and a process with no marker at all
        (instance,) = (tmp_path / "state" / "work").glob("endpoints/*/*/*/instance-*")
        other = tmp_path / "other-state" / instance.relative_to(tmp_path / "state")
        other.mkdir(parents=True)
        assert folder_marker(instance) == marker
        clean = {key: value for key, value in os.environ.items() if key != TREE_ENV}
        for environment in ({**clean, TREE_ENV: folder_marker(other)}, clean):
            bystanders.append(subprocess.Popen([sys.executable, "-c", SLEEPER], env=environment,
                                               start_new_session=True))
        _wait_until(lambda: all(b"SIG_IGN" in Path(f"/proc/{p.pid}/cmdline").read_bytes() for p in bystanders),
                    "the bystanders starting", timeout=10)

        # SIGKILL the runtime, the model server and the process it was forked from (the fork
        # server, which would otherwise end the runaways itself when its pipe closes): nothing of
        # the runtime is left to clean up, only a restart can.
        runtime_pid = launcher.read_info(runtime.state_dir).pid
        parent = int(Path(f"/proc/{server}/stat").read_text().rsplit(")", 1)[1].split()[1])
        killed = [runtime_pid, server] + ([parent] if parent != runtime_pid else [])
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        _wait_until(lambda: not any(is_running(pid) for pid in killed), "the SIGKILLs", timeout=10)
        time.sleep(1.5)  # what is left stays: the fork server's children and watch are gone
        assert all(start_time(pid) == identities[pid] for pid in runaways)

        runtime.start()  # same state folder
        _wait_until(lambda: not any(start_time(pid) == identities[pid] for pid in runaways),
                    "the restarted runtime ending the runaways", timeout=10)
        assert all(process.poll() is None for process in bystanders)
        status = runtime.boto3_client("sagemaker").describe_endpoint(EndpointName="runaway")["EndpointStatus"]
        assert status == "InService"  # served again, by a new model server
    finally:
        runtime.stop()
        for pid, started in identities.items():
            if start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)
        for process in bystanders:
            process.kill()
            process.wait()
