"""What a new user meets in the first hour: the README's client snippet runs as written, the
runtime finds a free port when 9510 belongs to another program, a runtime of another smflow build
is never reused silently, ``smflow local reset`` cleans up, and ``make demo PORT=...`` passes the
port on."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from smflow import cli
from smflow.local import launcher

REPO = Path(__file__).resolve().parents[2]


def _client_snippet() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Using the client\n"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_client_snippet_runs_as_written(runtime, tmp_path):
    (tmp_path / "dags").symlink_to(REPO / "dags")  # "from the root of a checkout"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=runtime.url, AWS_ACCESS_KEY_ID="smflow", AWS_SECRET_ACCESS_KEY="smflow",
               AWS_DEFAULT_REGION="us-east-1")
    done = subprocess.run([sys.executable, "-c", _client_snippet()], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "[0.]"  # setosa
    output_path = lines[-1]
    assert output_path.startswith("s3://")
    assert "Trained a DecisionTreeClassifier" in done.stderr  # the job's log, through logging
    endpoints = runtime.boto3_client("sagemaker").list_endpoints()["Endpoints"]
    assert "iris" not in [endpoint["EndpointName"] for endpoint in endpoints]  # deleted, not left running
    bucket, _, prefix = output_path[5:].partition("/")
    keys = [item["Key"] for item in runtime.boto3_client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert keys == [f"{prefix.rstrip('/')}/iris-rows.csv.out"]


@pytest.fixture
def held_port(monkeypatch):
    """Another program listening on the runtime's default port."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        monkeypatch.setattr(launcher, "DEFAULT_PORT", port)
        yield port


def test_a_free_port_is_chosen_when_the_default_one_belongs_to_another_program(held_port, tmp_path, capsys):
    try:
        assert cli.main(["local", "up", "--state-dir", str(tmp_path)]) == 0
        url = capsys.readouterr().out.strip()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(f":{held_port}")
        sts = boto3.client("sts", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                           aws_secret_access_key="x")
        assert sts.get_caller_identity()["Account"]
    finally:
        launcher.stop(tmp_path)


def test_an_explicit_port_that_is_taken_is_refused_with_the_way_out(held_port, tmp_path, capsys):
    assert cli.main(["local", "up", "--state-dir", str(tmp_path), "--port", str(held_port)]) == 1
    assert "pass another --port, or none" in capsys.readouterr().err


def test_a_runtime_of_another_build_is_not_reused(tmp_path):
    info, started = launcher.start_background(tmp_path, port=0)
    try:
        assert started and info.build == launcher.runtime_build()
        stored = json.loads((tmp_path / launcher.RUNTIME_FILE).read_text())
        stored["build"] = "0.0.1+elsewhere"
        (tmp_path / launcher.RUNTIME_FILE).write_text(json.dumps(stored))
        with pytest.raises(launcher.LauncherError, match=r"another smflow build \(0\.0\.1\+elsewhere.*smflow local down"):
            launcher.start_background(tmp_path, port=0)
    finally:
        launcher.stop(tmp_path)
    assert launcher.read_info(tmp_path) is None


def test_reset_stops_the_runtime_and_deletes_its_state_but_the_environments(tmp_path, capsys):
    info, _ = launcher.start_background(tmp_path, port=0)
    s3 = boto3.client("s3", endpoint_url=info.url, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x")
    s3.create_bucket(Bucket="kept-until-reset")
    (tmp_path / "environments" / "some-framework").mkdir(parents=True)

    assert cli.main(["local", "reset", "--state-dir", str(tmp_path)]) == 0
    assert launcher.read_info(tmp_path) is None
    assert [entry.name for entry in tmp_path.iterdir()] == ["environments"]
    assert "kept: environments" in capsys.readouterr().err

    info, _ = launcher.start_background(tmp_path, port=0)
    try:
        s3 = boto3.client("s3", endpoint_url=info.url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
        assert s3.list_buckets()["Buckets"] == []
    finally:
        assert cli.main(["local", "reset", "--all", "--state-dir", str(tmp_path)]) == 0
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["demo", "demo-client", "local-up"])
def test_make_passes_the_port_on(target):
    done = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(REPO), target, "PORT=9600"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1].endswith("--port 9600")
