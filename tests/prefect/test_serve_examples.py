"""``flows/serve_examples.py`` (the serve process of docker-compose.yml): the deployments it serves,
and its refusal to serve on Prefect's ephemeral API, which runs no schedules."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

FLOWS = Path(__file__).resolve().parents[2] / "flows"


def _module():
    spec = importlib.util.spec_from_file_location("serve_examples", FLOWS / "serve_examples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_example_flows_are_served_as_deployments():
    deployments = {deployment.name: deployment for deployment in _module().deployments(cron="0 * * * *")}
    assert set(deployments) == {"iris-lifecycle", "iris-batch-scoring", "iris-scheduled-retraining"}
    retraining = deployments["iris-scheduled-retraining"]
    assert [schedule.schedule.cron for schedule in retraining.schedules] == ["0 * * * *"]
    assert retraining.parameters == {"endpoint_name": "iris-live"}
    assert not deployments["iris-lifecycle"].schedules


def test_serving_without_a_prefect_server_says_what_to_do(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(FLOWS / "serve_examples.py")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2
    assert "set PREFECT_API_URL to a Prefect server" in done.stderr
