"""Endpoints heal themselves: a model server or fork server killed with SIGKILL under load.

Real model-server processes (whoami.py answers with its pid), S3 on a loopback runtime. Each test
sends a bounded number of calls over a bounded time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from smflow.local.executors.hosting import FORK_SERVER, Deployment
from smflow.local.server import LocalRuntime
from smflow.local.support.aws import LocalAws
from smflow.local.support.processes import start_time

_SUPPORT_PATH = Path(__file__).resolve().parents[2] / "serving_scripts" / "support.py"
_spec = importlib.util.spec_from_file_location("smflow_serving_test_support", _SUPPORT_PATH)
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

BUCKET = "healing-tests"
pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc")


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    server = LocalRuntime(tmp_path_factory.mktemp("state"), deployment_timeout=60)
    server.start()
    local_aws = LocalAws(server.url)
    local_aws.client("s3").create_bucket(Bucket=BUCKET)
    yield local_aws
    server.stop()


@pytest.fixture(scope="module")
def whoami(tmp_path_factory, aws):
    root = tmp_path_factory.mktemp("whoami")
    (root / "model").mkdir()
    (root / "model" / "weights.bin").write_bytes(b"\x00" * 16)
    s3 = aws.client("s3")
    model_uri = support.upload(s3, support.make_tar_gz(root / "model", root / "model.tar.gz"), BUCKET, "m.tar.gz")
    support.copy_script("whoami.py", root / "source")
    source_uri = support.upload(
        s3, support.make_tar_gz(root / "source", root / "sourcedir.tar.gz"), BUCKET, "sourcedir.tar.gz"
    )
    return support.model_description(
        "whoami", model_uri, {"SAGEMAKER_PROGRAM": "whoami.py", "SAGEMAKER_SUBMIT_DIRECTORY": source_uri}
    )


def deploy(tmp_path, aws, model: dict, count: int) -> Deployment:
    variant = {"VariantName": "AllTraffic", "ModelName": "whoami", "InitialInstanceCount": count,
               "InstanceType": "ml.m5.large"}
    deployment = Deployment("healing", [(variant, model)], tmp_path / "work", aws)
    deployment.start(timeout=120)
    return deployment


def call(deployment: Deployment) -> int:
    result = deployment.invoke(b"{}", "application/json", "application/json")
    assert result.status == 200, result.body[:300]
    return json.loads(result.body)["pid"]


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rpartition(b")")[2].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def send_during(deployment: Deployment, seconds: float, count: int, threads: int = 2) -> tuple[list, list, list]:
    """Start ``count`` calls spread over ``seconds`` from ``threads`` threads; returns (answering
    pids, errors, the threads), filled as the calls end."""
    pids: list[int] = []
    errors: list[str] = []
    per_thread = count // threads
    interval = seconds / per_thread

    def sender() -> None:
        start = time.monotonic()
        for index in range(per_thread):
            time.sleep(max(0.0, start + index * interval - time.monotonic()))
            try:
                pids.append(call(deployment))
            except Exception as exc:  # noqa: BLE001 - counted
                errors.append(f"{type(exc).__name__}: {exc}")

    workers = [threading.Thread(target=sender) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return pids, errors, workers


def test_a_killed_instance_of_two_costs_no_call_and_is_replaced(tmp_path, aws, whoami):
    deployment = deploy(tmp_path, aws, whoami, count=2)
    try:
        before = {call(deployment) for _ in range(4)}
        assert before == {server.pid for server in deployment.servers}
        victim = deployment.servers[0].pid
        pids, errors, workers = send_during(deployment, seconds=10.0, count=200)
        time.sleep(0.3)  # calls are flowing
        os.kill(victim, signal.SIGKILL)
        for worker in workers:
            worker.join(60)
        assert errors == []
        assert len(pids) == 200
        assert victim not in {server.pid for server in deployment.servers}
        assert deployment.replacements == 1
        assert deployment.can_answer
        replacement = next(server.pid for server in deployment.servers if server.pid not in before)
        assert replacement in pids[-40:]  # the replacement is back in rotation
    finally:
        deployment.stop()


def test_the_only_instance_killed_calls_wait_for_its_replacement(tmp_path, aws, whoami):
    deployment = deploy(tmp_path, aws, whoami, count=1)
    try:
        victim = call(deployment)
        os.kill(victim, signal.SIGKILL)
        while running(victim):
            time.sleep(0.01)
        killed = time.monotonic()
        answered_by = call(deployment)  # waits within the invocation timeout, then succeeds
        first_answer = time.monotonic() - killed
        assert answered_by != victim
        assert answered_by == deployment.servers[0].pid
        # the target (3 s) with room for a loaded CI machine; bench/ reports the figure
        assert first_answer < 10.0, first_answer
        print(f"first answer {first_answer:.2f} s after the only instance was killed")
    finally:
        deployment.stop()


def test_no_instance_in_rotation_means_the_deployment_cannot_answer(tmp_path, aws, whoami):
    deployment = deploy(tmp_path, aws, whoami, count=1)
    try:
        assert deployment.can_answer
        victim = deployment.servers[0].pid
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 5
        seen_down = False
        while time.monotonic() < deadline and not seen_down:
            seen_down = not deployment.can_answer
            time.sleep(0.005)
        assert seen_down  # out of rotation within the watcher's interval, before any call
        deadline = time.monotonic() + 60
        while not deployment.can_answer and time.monotonic() < deadline:
            time.sleep(0.05)
        assert deployment.can_answer
        assert call(deployment) != victim
    finally:
        deployment.stop()
    assert not deployment.can_answer
    assert not [server.pid for server in deployment.servers if running(server.pid)]


def test_a_killed_fork_server_takes_no_model_server_down_and_is_restarted(tmp_path, aws, whoami, monkeypatch):
    monkeypatch.setenv("SMFLOW_MODEL_SERVER_FORK", "1")
    deployment = deploy(tmp_path, aws, whoami, count=2)
    try:
        servers = {server.pid for server in deployment.servers}
        parents = set()
        for pid in servers:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                parents.add(int(stat.read().rpartition(b")")[2].split()[1]))
        assert len(parents) == 1 and parents != {os.getpid()}  # both forked by one fork server
        fork_server = parents.pop()
        pids, errors, workers = send_during(deployment, seconds=5.0, count=100)
        time.sleep(0.3)
        os.kill(fork_server, signal.SIGKILL)
        for worker in workers:
            worker.join(60)
        assert errors == []
        assert set(pids) == servers  # the same model servers answered throughout
        assert all(running(pid) for pid in servers)
        assert deployment.replacements == 0
        # another fork server started, and new model servers are forked from it
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            zygotes = [z for z in FORK_SERVER._zygotes.values() if z.pid != fork_server and not z.gone]
            if zygotes and zygotes[0].ready.is_set():
                break
            time.sleep(0.1)
        assert zygotes and running(zygotes[0].pid)
        os.kill(next(iter(servers)), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while deployment.replacements == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        new = next(server.pid for server in deployment.servers if server.pid not in servers)
        with open(f"/proc/{new}/stat", "rb") as stat:
            assert int(stat.read().rpartition(b")")[2].split()[1]) == zygotes[0].pid
    finally:
        deployment.stop()
    assert not [pid for pid in servers if running(pid)]


def test_describe_endpoint_reads_system_updating_until_a_replacement_answers(aws, whoami, monkeypatch):
    monkeypatch.setenv("SMFLOW_MODEL_SERVER_FORK", "0")  # a fresh process: a replacement takes ~1 s
    sagemaker = aws.client("sagemaker")
    runtime = aws.client("sagemaker-runtime")
    container = whoami["PrimaryContainer"]
    sagemaker.create_model(ModelName="healing-api", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                           PrimaryContainer={key: container[key] for key in ("Image", "ModelDataUrl", "Environment")})
    sagemaker.create_endpoint_config(EndpointConfigName="healing-api", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "healing-api", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])
    sagemaker.create_endpoint(EndpointName="healing-api", EndpointConfigName="healing-api")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="healing-api",
                                                      WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})
    try:
        def ask() -> int:
            body = runtime.invoke_endpoint(EndpointName="healing-api", Body=b"{}",
                                           ContentType="application/json")["Body"].read()
            return json.loads(body)["pid"]

        victim = ask()
        os.kill(victim, signal.SIGKILL)
        statuses = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses.append(sagemaker.describe_endpoint(EndpointName="healing-api")["EndpointStatus"])
            if statuses[-1] == "InService" and "SystemUpdating" in statuses:
                break
            time.sleep(0.02)
        assert "SystemUpdating" in statuses, statuses[:5]
        assert statuses[-1] == "InService"
        assert ask() != victim
    finally:
        sagemaker.delete_endpoint(EndpointName="healing-api")


@pytest.mark.parametrize("fork", ["1", "0"], ids=["forked", "fresh"])
def test_stopping_a_model_server_ends_what_its_code_left_running(tmp_path, aws, fork, monkeypatch):
    monkeypatch.setenv("SMFLOW_MODEL_SERVER_FORK", fork)
    root = tmp_path / "artifacts"
    (root / "model").mkdir(parents=True)
    (root / "model" / "weights.bin").write_bytes(b"\x00")
    support.copy_script("runaway.py", root / "model" / "code")
    s3 = aws.client("s3")
    uri = support.upload(s3, support.make_tar_gz(root / "model", root / "model.tar.gz"), BUCKET,
                         f"runaway-{fork}.tar.gz")
    model = support.model_description("runaway", uri, {"SAGEMAKER_PROGRAM": "runaway.py"})
    deployment = deploy(tmp_path, aws, model, count=1)
    try:
        answer = json.loads(deployment.invoke(b"{}", "application/json", None).body)
        assert answer["server"] == deployment.servers[0].pid
        assert all(running(pid) for pid in answer["runaways"])
        for pid in answer["runaways"]:
            assert os.getsid(pid) != os.getsid(answer["server"])  # they left its session
    finally:
        deployment.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(running(pid) for pid in answer["runaways"]):
        time.sleep(0.05)
    assert not [pid for pid in [answer["server"], *answer["runaways"]] if running(pid)]


def test_an_instance_that_stops_answering_ping_is_replaced(tmp_path, aws, whoami, monkeypatch):
    from smflow.local.executors.hosting import deployment as deployment_module

    monkeypatch.setattr(deployment_module, "PING_EVERY", 0.2)
    deployment = deploy(tmp_path, aws, whoami, count=1)
    try:
        victim = call(deployment)
        os.kill(victim, signal.SIGSTOP)  # running, but answers nothing
        deadline = time.monotonic() + 30
        while deployment.replacements == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert deployment.replacements == 1
        assert call(deployment) != victim
        assert not running(victim)  # the frozen instance was stopped (SIGKILL reaches it)
    finally:
        deployment.stop()


KILLED_RUNTIME_SCRIPT = """
import json, sys, time
from smflow.local.support.aws import LocalAws
from smflow.local.executors.hosting import Deployment

url, model_uri, work_dir = sys.argv[1:]
model = {"ModelName": "runaway", "PrimaryContainer": {
    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "ModelDataUrl": model_uri, "Environment": {"SAGEMAKER_PROGRAM": "runaway.py"}}}
deployment = Deployment("runaway", [({"VariantName": "A", "InitialInstanceCount": 1}, model)], work_dir,
                        LocalAws(url))
deployment.start(timeout=120)
print(deployment.invoke(b"{}", "application/json", None).body.decode(), flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("fork", ["1", "0"], ids=["forked", "fresh"])
def test_a_killed_runtime_leaves_nothing_a_model_server_started(tmp_path, aws, fork):
    """A fresh model server sees its runtime gone and ends its tree; the fork server stops the
    servers it forked, then what their code left outside their sessions (found by marker)."""
    import subprocess
    import sys

    root = tmp_path / "artifacts"
    (root / "model").mkdir(parents=True)
    support.copy_script("runaway.py", root / "model" / "code")
    uri = support.upload(aws.client("s3"), support.make_tar_gz(root / "model", root / "model.tar.gz"), BUCKET,
                         f"runaway-killed-{fork}.tar.gz")
    script = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUNTIME_SCRIPT, aws.endpoint_url, uri, str(tmp_path / "work")],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "SMFLOW_MODEL_SERVER_FORK": fork})
    started: dict[int, int | None] = {}
    try:
        answer = json.loads(script.stdout.readline())
        pids = [answer["server"], *answer["runaways"]]
        started = {pid: start_time(pid) for pid in pids}
        assert all(running(pid) for pid in pids)
        script.kill()  # the runtime dies without stopping anything
        script.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(running(pid) for pid in pids):
            time.sleep(0.05)
        assert [pid for pid in pids if running(pid)] == []
    finally:
        script.kill()
        script.wait()
        for pid, began in started.items():  # should the test fail: leave nothing running
            if began is not None and start_time(pid) == began:
                os.kill(pid, signal.SIGKILL)
