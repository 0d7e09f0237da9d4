"""Model servers forked from the fork server (smflow.local.executors.hosting.fork_server.ForkServer) versus started as
fresh processes (``SMFLOW_MODEL_SERVER_FORK=0``, and the fallbacks).

The model is ``serving_scripts/fork_probe/probe.py``: it answers with what its process sees
(pid, parent pid, working directory, sys.path, environment, NumPy's first random draw) and the
Iris tree's predictions. Parents are read from /proc: a forked model server is a child of the
fork server (itself a child of the runtime, here the test process); a fresh one is a child of
the runtime.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import boto3
import pytest

from smflow.local.support.aws import LocalAws
from smflow.local.executors.hosting import FORK_ENV, FORK_SERVER, Deployment, ModelServerError, PreparedModel
from smflow.local.server import LocalRuntime
from smflow.local.support.processes import TREE_ENV, folder_marker

_SUPPORT_PATH = Path(__file__).resolve().parents[2] / "serving_scripts" / "support.py"
_spec = importlib.util.spec_from_file_location("smflow_serving_test_support", _SUPPORT_PATH)
support = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(support)

PROBE = Path(__file__).resolve().parents[2] / "serving_scripts" / "fork_probe" / "probe.py"
BUCKET = "fork-server-tests"

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc")

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


# ------------------------------------------------------------------------------- processes
def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when there is no such process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return fields[0], int(fields[1])


def parent_of(pid: int) -> int:
    stat = _stat(pid)
    assert stat is not None, f"process {pid} does not exist"
    return stat[1]


def running(pid: int) -> bool:
    """The process exists and is not a zombie (an exited process nobody has reaped yet)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def is_model_server(pid: int, fork_server: bool = False) -> bool:
    """``pid`` runs ``python -m smflow.local.containers.serving`` (with ``--fork-server``, if asked)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    return b"smflow.local.containers.serving" in argv and (not fork_server or b"--fork-server" in argv)


def is_fork_server(pid: int, runtime_pid: int | None = None) -> bool:
    """``pid`` is a running ``model_server --fork-server`` process started by the runtime
    (by default this process, whose Deployment objects start model servers)."""
    return running(pid) and is_model_server(pid, fork_server=True) and \
        parent_of(pid) == (runtime_pid or os.getpid())


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def processes_mentioning(text: str) -> list[int]:
    """Running processes whose command line contains ``text``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes() and running(int(entry.name)):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


# -------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A real local runtime (S3, CloudWatch Logs) on a free port; stopping it stops the fork server."""
    server = LocalRuntime(tmp_path_factory.mktemp("state"), deployment_timeout=60)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws(runtime):
    local_aws = LocalAws(runtime.url)
    local_aws.client("s3").create_bucket(Bucket=BUCKET)
    return local_aws


@pytest.fixture(scope="module")
def iris(tmp_path_factory, aws):
    """(the Iris tree, its model.tar.gz URI, 10 rows of features)."""
    root = tmp_path_factory.mktemp("iris")
    model = support.train_iris_model(root / "model")
    uri = support.upload(aws.client("s3"), support.make_tar_gz(root / "model", root / "model.tar.gz"),
                         BUCKET, "iris/model.tar.gz")
    features, _ = support.iris()
    return model, uri, features[::15].tolist()


@pytest.fixture(autouse=True)
def _forking_on(monkeypatch):
    monkeypatch.delenv(FORK_ENV, raising=False)


def probe_code(directory: Path, **extra_files: str) -> Path:
    """A code dir with probe.py and ``extra_files`` (relative path -> text)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROBE, directory / "probe.py")
    for name, text in extra_files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return directory


def probe_model(name: str, code_dir: Path, model_uri: str | None = None, **environment: str) -> dict:
    return support.model_description(name, model_uri, {
        "SAGEMAKER_PROGRAM": "probe.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"file://{code_dir}", **environment})


def not_the_runtimes(variable: str, *values: str) -> str:
    """The first of ``values`` that differs from the runtime's (this process's) ``variable``."""
    return next(value for value in values if os.environ.get(variable) != value)


def variant(name: str, model_name: str, count: int = 1) -> dict:
    return {"VariantName": name, "ModelName": model_name, "InitialInstanceCount": count,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}


@contextlib.contextmanager
def deployed(work_dir: Path, aws, *models: tuple[str, dict, int]):
    """A started Deployment of (variant name, model description, instance count) entries."""
    deployment = Deployment("fork-tests", [(variant(name, model["ModelName"], count), model)
                                           for name, model, count in models], work_dir, aws)
    deployment.start(timeout=120)
    try:
        yield deployment
    finally:
        deployment.stop()


def ask(deployment: Deployment, request: dict | None = None, target: str | None = None) -> dict:
    result = deployment.invoke(json.dumps(request or {}).encode(), "application/json", "application/json",
                               target_variant=target)
    assert result.status == 200, result.body.decode(errors="replace")
    answer = json.loads(result.body)
    answer["parent_is_fork_server"] = is_fork_server(answer["ppid"])  # seen while it serves
    return answer


def assert_forked(answer: dict) -> None:
    assert answer["parent_is_fork_server"], f"model server {answer['pid']} is a child of {answer['ppid']}"


def assert_fresh(answer: dict) -> None:
    assert answer["ppid"] == os.getpid(), f"model server {answer['pid']} is a child of {answer['ppid']}"


# ------------------------------------------------------------------------------- parity
def test_forked_and_fresh_model_servers_answer_alike_in_the_same_environment(tmp_path, aws, iris, monkeypatch):
    model, model_uri, features = iris
    code_dir = probe_code(tmp_path / "code")
    description = probe_model("probe", code_dir, model_uri, COLOR="teal")
    # the fork server starts with a variable that the runtime then drops: forked model servers
    # have the runtime's environment of the moment, not the fork server's
    FORK_SERVER.shutdown()
    monkeypatch.setenv("SMFLOW_TEST_DROPPED_SETTING", "dropped")
    FORK_SERVER.warm_up([SKLEARN_IMAGE])
    monkeypatch.delenv("SMFLOW_TEST_DROPPED_SETTING")
    monkeypatch.setenv("SMFLOW_TEST_RUNTIME_SETTING", "from-the-runtime")
    for prefix in ("AWS_", "SAGEMAKER_", "SM_"):  # the runtime's own settings of these kinds stay out
        monkeypatch.setenv(f"{prefix}SMFLOW_TEST_SETTING", "runtime's")
    work = tmp_path / "work"  # the same paths for both: the answers compare as they are

    marker = f"{TREE_ENV}={folder_marker(work / 'AllTraffic' / 'instance-1')}".encode()
    with deployed(work, aws, ("AllTraffic", description, 1)) as deployment:
        forked = ask(deployment, {"features": features})
        # what its code forks without exec is found by the marker, as for a fresh process
        assert marker in Path(f"/proc/{forked['pid']}/environ").read_bytes().split(b"\0")
    monkeypatch.setenv(FORK_ENV, "0")
    with deployed(work, aws, ("AllTraffic", description, 1)) as deployment:
        fresh = ask(deployment, {"features": features})
        assert marker in Path(f"/proc/{fresh['pid']}/environ").read_bytes().split(b"\0")

    assert_forked(forked)
    assert_fresh(fresh)
    assert forked["predictions"] == fresh["predictions"] == model.predict(features).tolist()

    instance_dir = str(work / "AllTraffic" / "instance-1")
    for answer in (forked, fresh):
        environ = answer["environ"]
        assert answer["cwd"] == instance_dir
        assert answer["sys_path"][:2] == [instance_dir, str(code_dir)]  # as `python -m` there
        assert environ["PYTHONPATH"].split(os.pathsep)[0] == str(code_dir)
        assert environ["SM_MODEL_DIR"] == str(work / "AllTraffic" / "model")
        assert environ["COLOR"] == "teal" and environ["SAGEMAKER_PROGRAM"] == "probe.py"
        assert {key: environ.get(key) for key in aws.subprocess_env()} == aws.subprocess_env()
        assert environ["SMFLOW_TEST_RUNTIME_SETTING"] == "from-the-runtime"
        assert not [key for key in environ if key.endswith("_SMFLOW_TEST_SETTING")]
        assert "SMFLOW_TEST_DROPPED_SETTING" not in environ
    assert forked["sys_path"] == fresh["sys_path"]
    fresh["environ"].pop(FORK_ENV)  # the one intended difference
    assert forked["environ"] == fresh["environ"]


def test_forked_model_servers_have_their_own_numpy_random_state(tmp_path, aws):
    description = probe_model("random", probe_code(tmp_path / "code"))
    with deployed(tmp_path / "work", aws, ("AllTraffic", description, 3)) as deployment:
        answers = [ask(deployment) for _ in range(3)]  # round-robin: one answer per instance

    assert len({answer["pid"] for answer in answers}) == 3
    assert len({answer["ppid"] for answer in answers}) == 1
    assert_forked(answers[0])
    assert len({answer["first_random"] for answer in answers}) == 3  # not the fork server's sequence


# ------------------------------------------------------------------------------ fallbacks
SHADOW = "SMFLOW_TEST_SHADOW = True\n"


@pytest.mark.parametrize("extra_files, request_, check", [
    pytest.param({"sitecustomize.py": "import os\n"}, {},
                 lambda answer, code: answer["sitecustomize"] == str(code / "sitecustomize.py"),
                 id="sitecustomize"),
    pytest.param({"pandas.py": SHADOW}, {"import": ["pandas"]},
                 lambda answer, code: answer["imported"]["pandas"] == {"file": str(code / "pandas.py"),
                                                                      "shadow": True},
                 id="module-shadowing-pandas"),
    pytest.param({"scipy/__init__.py": SHADOW}, {"import": ["scipy"]},
                 lambda answer, code: answer["imported"]["scipy"]["shadow"],
                 id="package-shadowing-scipy"),
])
def test_code_that_a_fork_would_not_import_runs_in_a_fresh_process(tmp_path, aws, extra_files, request_, check):
    code_dir = probe_code(tmp_path / "code", **extra_files)
    with deployed(tmp_path / "work", aws, ("AllTraffic", probe_model("shadow", code_dir), 1)) as deployment:
        answer = ask(deployment, request_)
    assert_fresh(answer)
    assert check(answer, code_dir)  # the model's own module, as in a fresh `python -m`


def test_code_with_modules_of_its_own_is_still_forked(tmp_path, aws):
    code_dir = probe_code(tmp_path / "code", **{"helpers.py": SHADOW, "pandas.csv": "a,b\n1,2\n",
                                                "data/numpy.txt": "not a module\n"})
    with deployed(tmp_path / "work", aws, ("AllTraffic", probe_model("own", code_dir), 1)) as deployment:
        answer = ask(deployment, {"import": ["helpers", "pandas"]})
    assert_forked(answer)
    assert answer["imported"]["helpers"] == {"file": str(code_dir / "helpers.py"), "shadow": True}
    assert answer["imported"]["pandas"]["shadow"] is False


def test_an_import_time_variable_in_the_environment_runs_in_a_fresh_process(tmp_path, aws):
    threads = not_the_runtimes("OMP_NUM_THREADS", "1", "2")
    description = probe_model("omp", probe_code(tmp_path / "code"), OMP_NUM_THREADS=threads, COLOR="red")
    with deployed(tmp_path / "work", aws, ("AllTraffic", description, 1)) as deployment:
        answer = ask(deployment)
    assert_fresh(answer)
    assert answer["environ"]["OMP_NUM_THREADS"] == threads
    assert answer["environ"]["COLOR"] == "red"


def test_import_time_variables_must_match_those_the_fork_server_started_with(tmp_path, aws, monkeypatch):
    threads = not_the_runtimes("OMP_NUM_THREADS", "3", "4")
    code_dir = probe_code(tmp_path / "code")
    FORK_SERVER.warm_up([SKLEARN_IMAGE])  # a fork server without this OMP_NUM_THREADS
    monkeypatch.setenv("OMP_NUM_THREADS", threads)
    try:
        # the runtime's value changed since: even a model that does not set it starts fresh
        with deployed(tmp_path / "a", aws, ("AllTraffic", probe_model("plain", code_dir), 1)) as deployment:
            changed = ask(deployment)
        FORK_SERVER.shutdown()  # the next fork server starts with the runtime's value...
        same = probe_model("same", code_dir, OMP_NUM_THREADS=threads)
        with deployed(tmp_path / "b", aws, ("AllTraffic", same, 1)) as deployment:
            matching = ask(deployment)  # ...which a model may repeat and still be forked
    finally:
        FORK_SERVER.shutdown()  # not to be reused once the variable is restored
    assert_fresh(changed)
    assert_forked(matching)
    assert changed["environ"]["OMP_NUM_THREADS"] == matching["environ"]["OMP_NUM_THREADS"] == threads


def test_requirements_txt_runs_in_a_fresh_process_with_its_packages(tmp_path, aws):
    code_dir = probe_code(tmp_path / "code")
    wheel = support.build_wheel(code_dir)
    (code_dir / "requirements.txt").write_text(f"./{wheel.name}\n")
    work = tmp_path / "work"
    with deployed(work, aws, ("AllTraffic", probe_model("deps", code_dir), 1)) as deployment:
        answer = ask(deployment, {"import": ["tinydep"]})
    assert_fresh(answer)
    assert answer["imported"]["tinydep"]["file"].startswith(str(work / "AllTraffic" / "site-packages"))
    assert answer["environ"]["PYTHONPATH"].split(os.pathsep)[:2] == [
        str(code_dir), str(work / "AllTraffic" / "site-packages")]


def _prepared(tmp_path: Path, python: str = sys.executable) -> PreparedModel:
    return PreparedModel(model_name="m", model_dir=tmp_path, code_dir=tmp_path, site_dir=None,
                         environment={}, python=python, framework="sklearn")


def test_another_interpreter_or_forking_off_is_not_forked(tmp_path, monkeypatch):
    args = ([], {}, tmp_path, tmp_path / "output.log", time.monotonic() + 30)
    assert FORK_SERVER.spawn(_prepared(tmp_path, python="/opt/other/bin/python3"), *args) is None
    for value in ("0", "false", "off", "no"):
        monkeypatch.setenv(FORK_ENV, value)
        assert FORK_SERVER.spawn(_prepared(tmp_path), *args) is None
    assert not (tmp_path / "output.log").exists()  # nothing was started


# ---------------------------------------------------------------------------- stopping
def test_stopping_leaves_no_model_server_or_fork_server(tmp_path, aws):
    code_dir = probe_code(tmp_path / "code")
    fresh_model = probe_model("fresh", code_dir, OMP_NUM_THREADS=not_the_runtimes("OMP_NUM_THREADS", "5", "6"))
    with deployed(tmp_path / "work", aws, ("Forked", probe_model("forked", code_dir), 2),
                  ("Fresh", fresh_model, 1)) as deployment:
        answers = [ask(deployment, target="Forked") for _ in range(2)] + [ask(deployment, target="Fresh")]
        pids = {server.pid for server in deployment.servers}
    fork_server = answers[0]["ppid"]

    assert pids == {answer["pid"] for answer in answers} and len(pids) == 3
    assert_forked(answers[0])
    assert_fresh(answers[2])
    assert not [pid for pid in pids if running(pid)]  # Deployment.stop: its model servers are gone
    assert running(fork_server) and children_of(fork_server) == []  # the shared fork server stays
    FORK_SERVER.shutdown()
    assert not running(fork_server)
    FORK_SERVER.shutdown()  # idempotent


def test_stopping_the_fork_server_stops_the_model_servers_it_still_has(tmp_path, aws):
    description = probe_model("left", probe_code(tmp_path / "code"))
    deployment = Deployment("left", [(variant("AllTraffic", "left", 2), description)], tmp_path / "work", aws)
    deployment.start(timeout=120)
    try:
        answers = [ask(deployment) for _ in range(2)]
        fork_server = answers[0]["ppid"]
        assert_forked(answers[0])
        FORK_SERVER.shutdown()  # e.g. the runtime stops with the endpoint still up
        assert not running(fork_server)
        assert not [answer["pid"] for answer in answers if running(answer["pid"])]
        assert not any(server.is_alive() for server in deployment.servers)
        with pytest.raises(ModelServerError, match="not running"):
            deployment.invoke(b"{}", "application/json", None)
    finally:
        deployment.stop()


def _start_runtime_process(state_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``python -m smflow.local.server`` on a free port (a runtime of its own: one per process)."""
    with open(log, "wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "smflow.local.server", "--port", "0", "--state-dir", str(state_dir)],
            stdout=subprocess.PIPE, stderr=errors, stdin=subprocess.DEVNULL, text=True,
            env={key: value for key, value in os.environ.items() if key != FORK_ENV})
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.extend(line for line in process.stdout if "ready at" in line),
                              daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not ready and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if not ready:
        process.kill()
        process.wait()
        pytest.fail(f"the runtime did not start: {log.read_text(errors='replace')[-3000:]}")
    return process, ready[0].split("ready at", 1)[1].strip()


def test_a_stopped_runtime_leaves_no_model_server_or_fork_server(tmp_path):
    """The runtime as users run it, with an endpoint of a forked and a fresh variant, stopped by
    SIGTERM: every process it started is gone."""
    code_dir = probe_code(tmp_path / "code")
    process, url = _start_runtime_process(tmp_path / "state", tmp_path / "runtime.log")
    try:
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name="us-east-1")
        sagemaker = session.client("sagemaker", endpoint_url=url)
        smr = session.client("sagemaker-runtime", endpoint_url=url)
        threads = not_the_runtimes("OMP_NUM_THREADS", "1", "2")  # a fresh process
        # the API takes code from S3 only (file:// locations are refused)
        archive = tmp_path / "sourcedir.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(code_dir, arcname=".")
        s3 = session.client("s3", endpoint_url=url)
        s3.create_bucket(Bucket="code")
        s3.upload_file(str(archive), "code", "probe/sourcedir.tar.gz")
        for name, environment in (("forked", {}), ("fresh", {"OMP_NUM_THREADS": threads})):
            description = probe_model(name, code_dir, **environment,
                                      SAGEMAKER_SUBMIT_DIRECTORY="s3://code/probe/sourcedir.tar.gz")
            sagemaker.create_model(ModelName=name, ExecutionRoleArn=description["ExecutionRoleArn"],
                                   PrimaryContainer=description["PrimaryContainer"])
        sagemaker.create_endpoint_config(EndpointConfigName="both", ProductionVariants=[
            variant("Forked", "forked"), variant("Fresh", "fresh")])
        sagemaker.create_endpoint(EndpointName="both", EndpointConfigName="both")
        sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="both",
                                                         WaiterConfig={"Delay": 0.1, "MaxAttempts": 1200})
        answers = {}
        for target in ("Forked", "Fresh"):
            response = smr.invoke_endpoint(EndpointName="both", TargetVariant=target, Body=b"{}",
                                           ContentType="application/json")
            answers[target] = json.loads(response["Body"].read())
        fork_server = answers["Forked"]["ppid"]
        assert is_fork_server(fork_server, runtime_pid=process.pid)
        assert answers["Fresh"]["ppid"] == process.pid
        started = [answers["Forked"]["pid"], answers["Fresh"]["pid"], fork_server]
        assert all(running(pid) for pid in started)
    finally:
        process.terminate()
        code = process.wait(60)

    assert code == 0
    assert not [pid for pid in started if running(pid)]
    # nor any other model server of this runtime (their arguments name its state dir)
    assert processes_mentioning(str(tmp_path / "state")) == []


def test_a_forked_model_server_outlives_its_fork_server_but_not_its_deployment(tmp_path, aws):
    description = probe_model("orphan", probe_code(tmp_path / "code"))
    deployment = Deployment("orphan", [(variant("AllTraffic", "orphan"), description)], tmp_path / "work", aws)
    deployment.start(timeout=120)
    try:
        answer = ask(deployment)
        assert_forked(answer)
        os.kill(answer["ppid"], signal.SIGKILL)
        time.sleep(2.5)  # longer than the model server's watch of the runtime (1 s)
        assert running(answer["pid"])  # a fork server that dies takes no model server with it
        assert ask(deployment)["pid"] == answer["pid"]
    finally:
        stopper = threading.Thread(target=deployment.stop, daemon=True)
        stopper.start()
        stopper.join(30)
        FORK_SERVER.shutdown()
    assert not running(answer["pid"])  # and no orphan keeps serving after its endpoint


ORPHAN_SCRIPT = """
import ctypes, json, os, signal, sys, time
from pathlib import Path

# This process adopts orphans and never reaps them, as a runtime running as a container's PID 1 does.
assert ctypes.CDLL("libc.so.6").prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
from smflow.local.support.aws import LocalAws
from smflow.local.executors.hosting import Deployment

url, code_dir, work_dir = sys.argv[1:]
model = {"ModelName": "orphan", "PrimaryContainer": {
    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    "Environment": {"SAGEMAKER_PROGRAM": "probe.py", "SAGEMAKER_SUBMIT_DIRECTORY": "file://" + code_dir}}}
deployment = Deployment("orphan", [({"VariantName": "A", "InitialInstanceCount": 1}, model)], work_dir,
                        LocalAws(url))
deployment.start(timeout=120)
server = deployment.servers[0]
fork_server = int(Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
os.kill(fork_server, signal.SIGKILL)
time.sleep(0.5)  # the model server outlives its fork server: end it too, as a crash would
os.kill(server.pid, signal.SIGKILL)
deadline = time.monotonic() + 20
state = None
while time.monotonic() < deadline:
    try:
        state = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:  # already reaped: the deployment's watcher saw it exit
        state = "Z"
    if state == "Z":
        break
    time.sleep(0.05)
time.sleep(0.5)  # the runtime's reader of the fork server has seen it go
alive = server.is_alive()
import threading
stopper = threading.Thread(target=deployment.stop, daemon=True)
stopper.start()
stopper.join(30)
print(json.dumps({"forked": fork_server != os.getpid(), "exited": state == "Z", "alive": alive,
                  "stopped": not stopper.is_alive()}))
sys.stdout.flush()
os._exit(0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_CHILD_SUBREAPER)")
def test_a_model_server_orphaned_by_its_fork_server_counts_as_exited_once_it_exits(tmp_path, runtime):
    code_dir = probe_code(tmp_path / "code")
    completed = subprocess.run([sys.executable, "-c", ORPHAN_SCRIPT, runtime.url, str(code_dir),
                                str(tmp_path / "work")], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["forked"] and result["exited"]  # the scenario happened
    assert result["alive"] is False and result["stopped"]  # and Deployment.stop returns


# ---------------------------------------------------------------------------- workers
def test_an_instance_computes_at_most_its_workers_requests_at_once(tmp_path, aws):
    description = probe_model("one-worker", probe_code(tmp_path / "code"), SAGEMAKER_MODEL_SERVER_WORKERS="1")
    with deployed(tmp_path / "work", aws, ("AllTraffic", description, 1)) as deployment:
        answers: list[dict] = []
        threads = [threading.Thread(target=lambda: answers.append(ask(deployment, {"sleep": 0.2})))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        last = ask(deployment)
    assert len(answers) == 4
    assert last["max_in_flight"] == 1  # four at once, computed one at a time


def test_invalid_workers_fail_the_start_naming_the_variable(tmp_path, aws):
    description = probe_model("bad-workers", probe_code(tmp_path / "code"), SAGEMAKER_MODEL_SERVER_WORKERS="0")
    deployment = Deployment("bad", [(variant("AllTraffic", "bad-workers"), description)], tmp_path / "work", aws)
    with pytest.raises(ModelServerError, match="SAGEMAKER_MODEL_SERVER_WORKERS '0' of model 'bad-workers'.*"
                                               "positive integer"):
        deployment.start(timeout=60)
    assert not any(server.is_alive() for server in deployment.servers)
    deployment.stop()


def test_warming_up_starts_the_fork_server_of_the_images_framework_only():
    FORK_SERVER.shutdown()
    try:
        FORK_SERVER.warm_up(["174872318107.dkr.ecr.us-west-2.amazonaws.com/kmeans:1", "not-an-image"])
        warmed = {framework for framework, _ in FORK_SERVER._zygotes}
        assert warmed == {"kmeans"}
        FORK_SERVER.warm_up([SKLEARN_IMAGE])
        assert {framework for framework, _ in FORK_SERVER._zygotes} == {"kmeans", "sklearn"}
    finally:
        FORK_SERVER.shutdown()
