"""``docker-compose.yml`` is valid Compose (checked by ``docker compose config`` or Debian's
``docker-compose config``, which CI installs; no image is pulled or built) and wires the services
as the README says: the runtime, Airflow 3's four components with the example DAGs and the
connection, and a Prefect server with the process that serves the example flows."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _compose_command() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


@pytest.fixture(scope="module")
def config() -> dict:
    command = _compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed (CI installs Debian's docker-compose)")
    done = subprocess.run([*command, "-f", str(REPO / "docker-compose.yml"), "config", "--format", "json"]
                          if command[-1] == "compose" else [*command, "-f", str(REPO / "docker-compose.yml"), "config"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    if command[-1] == "compose":
        return json.loads(done.stdout)
    import yaml  # docker-compose v1 prints YAML; PyYAML comes with Airflow and Prefect

    return yaml.safe_load(done.stdout)


def test_the_compose_file_has_the_runtime_airflow_and_prefect(config):
    assert {"smflow", "postgres", "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-triggerer", "prefect-server", "prefect-serve"} <= set(config["services"])


def test_airflow_reaches_the_runtime_and_its_own_execution_api(config):
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"):
        environment = config["services"][name]["environment"]
        connection = json.loads(environment["AIRFLOW_CONN_AWS_DEFAULT"])
        assert connection["extra"]["endpoint_url"] == "http://smflow:9510"
        assert connection["password"] not in {"smflow", "password", "secret", "airflow"}
        assert environment["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert environment["SMFLOW_CONSOLE_URL"] == "http://127.0.0.1:9510"  # links the host's browser opens
        assert any(str(volume).endswith("/opt/airflow/dags:ro") or (isinstance(volume, dict) and
                   volume.get("target") == "/opt/airflow/dags") for volume in config["services"][name]["volumes"])


def test_prefect_serves_the_example_flows_against_the_runtime(config):
    serve = config["services"]["prefect-serve"]
    assert serve["environment"]["PREFECT_API_URL"] == "http://prefect-server:4200/api"
    assert serve["environment"]["AWS_ENDPOINT_URL"] == "http://smflow:9510"
    command = serve["command"] if isinstance(serve["command"], list) else serve["command"].split()
    assert command[-1] == "flows/serve_examples.py" and (REPO / command[-1]).is_file()


def test_ports_are_published_on_loopback_only(config):
    for name, service in config["services"].items():
        for port in service.get("ports", []):
            published = port if isinstance(port, str) else f"{port.get('host_ip')}:{port.get('published')}"
            assert str(published).startswith("127.0.0.1:"), (name, port)
