"""`pip install smflow` is thin: the wheel built from this checkout, installed into fresh virtual
environments, brings boto3, botocore and numpy and none of the local runtime's packages; the
client, the Airflow provider and the Prefect tasks import and build requests there.

The environments are made with uv (``smflow[dev]``), which resolves the wheel's requirements
from the package index and installs them as pip would, in seconds: with pip the two integration
environments took about 4 minutes on a 2-core machine (about 20 s per venv, 1.5 min per
install), uv takes about 40 s for the whole module. Nothing from the environment running the
tests leaks in: new venvs, no ``--system-site-packages``, no ``PYTHONPATH``, and the scripts
assert that smflow is imported from the venv.

In the environments, a hook records every import of a local-only package made by smflow's code
(cached imports too), so an import inside a try/except is caught as well as a missing module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_TREES = (ROOT / "runtime" / "smflow", ROOT / "providers" / "smflow_airflow", ROOT / "flows" / "smflow_prefect")

# Distributions that only `smflow[local]` installs, and their top-level import names.
LOCAL_ONLY = {
    "moto": "moto",
    "werkzeug": "werkzeug",
    "httptools": "httptools",
    "sagemaker-training": "sagemaker_training",
    "scikit-learn": "sklearn",
    "scipy": "scipy",
    "pandas": "pandas",
    "joblib": "joblib",
    "psutil": "psutil",
}
# Airflow itself requires two of them: apache-airflow-core and apache-airflow-task-sdk require
# psutil, and its API server stack (fastapi-cli -> uvicorn[standard]) requires httptools.
# test_wheel_metadata checks that smflow's own `airflow` extra asks for neither.
AIRFLOW_REQUIRES = {"psutil", "httptools"}

CALL_TIMEOUT = 600  # seconds, one uv or python call


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~\[;(]", requirement, maxsplit=1)[0]).lower()


def _clean_env(tmp: Path) -> dict[str, str]:
    """The environment of the tests minus what would make a venv see this checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(AIRFLOW_HOME=str(tmp / "airflow"), PREFECT_HOME=str(tmp / "prefect"),
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true",  # botocore's credential chain would ask the EC2 metadata service
               AIRFLOW_CONN_SMFLOW_LOCAL=json.dumps(
                   {"conn_type": "aws", "extra": {"endpoint_url": "http://127.0.0.1:9", "region_name": "us-east-1"}}))
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=CALL_TIMEOUT)
    command = " ".join(arg if len(arg) < 100 else "<script>" for arg in args)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def uv() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        pytest.fail("uv is missing: it comes with smflow[dev] (`make install`)")
    return find_uv_bin()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, uv) -> Path:
    """The wheel built from a copy of the checkout (a stale build/ folder can't leak in)."""
    scratch = tmp_path_factory.mktemp("wheel")
    source = scratch / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for tree in ("runtime", "providers", "flows"):
        shutil.copytree(ROOT / tree, source / tree, ignore=ignore)
    _run([uv, "build", "--wheel", "--quiet", "--out-dir", str(scratch / "dist"), str(source)], _clean_env(scratch))
    (built,) = (scratch / "dist").glob("smflow-*.whl")
    return built


def _install(uv: str, wheel: Path, venv: Path, extra: str | None) -> dict[str, str]:
    """A fresh venv with the wheel (and ``extra``) installed; its distributions, name -> version."""
    env = _clean_env(venv.parent)
    _run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], env)
    requirement = f"smflow[{extra}] @ {wheel.as_uri()}" if extra else str(wheel)
    _run([uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), requirement], env)
    listing = _run([uv, "pip", "list", "--python", str(venv / "bin" / "python"), "--format", "json"], env)
    return {_name(item["name"]): item["version"] for item in json.loads(listing)}


# Run inside the venv with the local-only import names (argv[1]) and the calls to make (argv[2]):
# the import hook on, sockets that refuse to connect; prints the result as JSON.
PROBE = r'''
import builtins, importlib, importlib.util, json, pkgutil, socket, sys
LOCAL_ONLY = set(json.loads(sys.argv[1]))
hits = []
_import = builtins.__import__

def _ours(module):
    if not module or module.startswith("smflow.local") or module in ("smflow.cli", "smflow.demo"):
        return False
    return module.split(".")[0] in ("smflow", "smflow_airflow", "smflow_prefect") and not module.startswith("smflow.examples")

def _hook(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__")
    if level == 0 and name.split(".")[0] in LOCAL_ONLY and _ours(importer):
        hits.append(f"{importer} imports {name}")
    return _import(name, globals, locals, fromlist, level)

builtins.__import__ = _hook

def _no_network(self, address):
    raise AssertionError(f"network call to {address}")

socket.socket.connect = _no_network

imported = []
def load(name):
    module = importlib.import_module(name)
    imported.append(name)
    return module

def walk(package):
    root = load(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if _ours(info.name):
            load(info.name)

import smflow
assert "site-packages" in smflow.__file__ and smflow.__file__.startswith(sys.prefix), smflow.__file__
assert not [p for p in sys.path if "site-packages" in p and not p.startswith(sys.prefix)], sys.path
result = {"smflow": smflow.__file__}
exec(sys.argv[2])
result.update(imported=imported, hits=hits,
              importable=sorted(n for n in LOCAL_ONLY if importlib.util.find_spec(n) is not None))
print(json.dumps(result))
'''

# A CreateTrainingJob request for code already in S3, so nothing is uploaded; validated by
# botocore's model as the call would be.
TRAINING_REQUEST = r'''
def training_request(client):
    from botocore.validate import validate_parameters
    request = client.prepare_training_job(
        job_name="thin-install", entry_point="train.py", source_dir="s3://bucket/code/sourcedir.tar.gz",
        role="arn:aws:iam::123456789012:role/sagemaker", output_path="s3://bucket/output",
        code_location="s3://bucket/code", inputs="s3://bucket/data",
    )
    validate_parameters(request, client.sagemaker.meta.service_model.operation_model("CreateTrainingJob").input_shape)
    result["image"] = request["AlgorithmSpecification"]["TrainingImage"]
'''

CLIENT_CALLS = TRAINING_REQUEST + r'''
walk("smflow")
from smflow.client import SageMakerClient
training_request(SageMakerClient(endpoint_url="http://127.0.0.1:9", region_name="us-east-1"))
'''

AIRFLOW_CALLS = TRAINING_REQUEST + r'''
for name in ("smflow_airflow.operators.sagemaker", "smflow_airflow.hooks.sagemaker",
             "smflow_airflow.sensors.sagemaker", "smflow_airflow.triggers.sagemaker"):
    load(name)
walk("smflow_airflow")
from importlib.metadata import entry_points
(provider,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("smflow_airflow")]
result["provider"] = provider.load()()["package-name"]

from smflow_airflow.hooks.sagemaker import SageMakerClientHook
from smflow_airflow.operators.sagemaker import SageMakerTrainOperator
SageMakerTrainOperator(task_id="train", entry_point="train.py", aws_conn_id="smflow_local")
training_request(SageMakerClientHook(aws_conn_id="smflow_local").get_client())  # AIRFLOW_CONN_SMFLOW_LOCAL
'''

PREFECT_CALLS = TRAINING_REQUEST + r'''
walk("smflow_prefect")
import smflow_prefect
from prefect import Task
result["tasks"] = sorted(n for n in smflow_prefect.__all__ if isinstance(getattr(smflow_prefect, n), Task))

from prefect_aws import AwsCredentials
from prefect_aws.client_parameters import AwsClientParameters
from smflow_prefect.clients import sagemaker_client
block = AwsCredentials(region_name="us-east-1", aws_client_parameters=AwsClientParameters(endpoint_url="http://127.0.0.1:9"))
training_request(sagemaker_client(block))
'''


def _probe(venv: Path, calls: str) -> dict:
    out = _run([str(venv / "bin" / "python"), "-c", PROBE, json.dumps(sorted(set(LOCAL_ONLY.values()))), calls],
               _clean_env(venv.parent))
    return json.loads(out.strip().splitlines()[-1])


def _metadata(wheel: Path) -> dict[str | None, set[str]]:
    """Requires-Dist of the wheel: extra (None for the core) -> distribution names."""
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    requires: dict[str | None, set[str]] = {}
    for line in message.get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        requires.setdefault(extra.group(1) if extra else None, set()).add(_name(requirement))
    return requires


def test_wheel_metadata(wheel):
    requires = _metadata(wheel)
    assert requires[None] == {"boto3", "botocore", "numpy"}
    # protobuf (RecordIO-protobuf, smflow.recordio) is in local, airflow and prefect: not local-only.
    # docker (the Docker Engine API, smflow.local.containers.docker) is required by prefect itself: not local-only.
    assert requires["local"] == set(LOCAL_ONLY) | {"protobuf", "docker"}
    assert "protobuf" in requires["airflow"] and "protobuf" in requires["prefect"]
    assert not requires["airflow"] & set(LOCAL_ONLY), requires["airflow"]
    assert not requires["prefect"] & set(LOCAL_ONLY), requires["prefect"]


def test_wheel_ships_every_file_of_the_packages(wheel):
    """Data files too: py.typed, the framework registries, anything the local runtime reads."""
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    expected = {
        path.relative_to(tree.parent).as_posix()
        for tree in PACKAGE_TREES
        for path in tree.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert "smflow/py.typed" in expected
    assert expected - shipped == set()


def test_thin_install_builds_requests_without_the_local_runtime(uv, wheel, tmp_path):
    installed = _install(uv, wheel, tmp_path / "venv", extra=None)
    assert not set(installed) & set(LOCAL_ONLY), sorted(set(installed) & set(LOCAL_ONLY))
    result = _probe(tmp_path / "venv", CLIENT_CALLS)
    assert result["importable"] == [] and result["hits"] == []
    assert "smflow.client" in result["imported"] and "smflow.aio" in result["imported"]
    assert result["image"].startswith("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:")


def test_airflow_provider_installs_without_the_local_runtime(uv, wheel, tmp_path):
    installed = _install(uv, wheel, tmp_path / "venv", extra="airflow")
    assert "apache-airflow" in installed
    assert not (set(installed) & set(LOCAL_ONLY)) - AIRFLOW_REQUIRES, sorted(set(installed) & set(LOCAL_ONLY))
    result = _probe(tmp_path / "venv", AIRFLOW_CALLS)
    assert result["hits"] == []
    assert not set(result["importable"]) - {LOCAL_ONLY[name] for name in AIRFLOW_REQUIRES}
    assert {"smflow_airflow.operators.sagemaker", "smflow_airflow.hooks.sagemaker", "smflow_airflow.sensors.sagemaker",
            "smflow_airflow.triggers.sagemaker"} <= set(result["imported"])
    assert result["provider"] == "smflow"
    assert result["image"].startswith("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:")


def test_prefect_tasks_install_without_the_local_runtime(uv, wheel, tmp_path):
    installed = _install(uv, wheel, tmp_path / "venv", extra="prefect")
    assert "prefect" in installed
    assert not set(installed) & set(LOCAL_ONLY), sorted(set(installed) & set(LOCAL_ONLY))
    result = _probe(tmp_path / "venv", PREFECT_CALLS)
    assert result["importable"] == [] and result["hits"] == []
    assert {"train_model", "atrain_model", "deploy_model", "batch_transform"} <= set(result["tasks"])
    assert result["image"].startswith("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:")
