"""The `smflow local` command line: up, status, down, and a clear error for a busy port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from smflow.local import launcher

from .conftest import free_port

pytestmark = pytest.mark.integration
SMFLOW = str(Path(sys.executable).with_name("smflow"))


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SMFLOW, *args], capture_output=True, text=True, timeout=120, check=False)


def test_up_status_down(tmp_path):
    port = str(free_port())
    state = str(tmp_path / "state")
    up = run("local", "up", "--port", port, "--state-dir", state)
    try:
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == f"http://127.0.0.1:{port}"
        again = run("local", "up", "--port", port, "--state-dir", state)
        assert again.returncode == 0 and "already running" in again.stderr
        status = run("local", "status", "--state-dir", state)
        assert status.returncode == 0 and f"running at http://127.0.0.1:{port}" in status.stdout
        assert "0 training jobs" in status.stdout
    finally:
        down = run("local", "down", "--state-dir", state)
    assert down.returncode == 0 and "stopped" in down.stderr
    assert run("local", "status", "--state-dir", state).returncode == 3


def test_busy_port_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = run("local", "up", "--port", port, "--state-dir", str(tmp_path / "s"))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr and "--port" in result.stderr


def test_the_command_line_defaults_are_the_launchers():
    """``smflow local`` parses its arguments without importing the runtime; its defaults are the
    launcher's."""
    from smflow import cli

    assert (cli.DEFAULT_HOST, cli.DEFAULT_PORT) == (launcher.DEFAULT_HOST, launcher.DEFAULT_PORT)


def test_allow_host_and_check_signatures_reach_the_background_runtime(tmp_path):
    import http.client

    import boto3
    from botocore.exceptions import ClientError

    port = free_port()
    state = str(tmp_path / "state")
    bad_keys = tmp_path / "empty.ini"
    bad_keys.write_text("[team]\n")
    refused = run("local", "up", "--port", str(port), "--state-dir", state, "--check-signatures", str(bad_keys))
    assert refused.returncode != 0 and "aws_access_key_id" in refused.stderr
    keys = tmp_path / "keys.ini"
    keys.write_text("[team]\naws_access_key_id = AKIDCLI\naws_secret_access_key = cli-secret\n")
    up = run("local", "up", "--port", str(port), "--state-dir", state, "--allow-host", "smflow",
             "--check-signatures", str(keys))
    try:
        assert up.returncode == 0, up.stderr
        url = up.stdout.strip()

        def answer_for(host: str) -> tuple[int, str | None]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            connection.request("GET", "/", headers={"Host": host})
            response = connection.getresponse()
            return response.status, response.getheader("x-amzn-ErrorType")

        assert answer_for(f"other.example:{port}") == (403, "HostNotAllowed")
        # answered by that name, then refused: not signed
        assert answer_for(f"smflow:{port}") == (403, "SignatureDoesNotMatch")
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDCLI",
                          aws_secret_access_key="cli-secret")
        assert s3.list_buckets()["Buckets"] == []
        with pytest.raises(ClientError):
            boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="AKIDCLI",
                         aws_secret_access_key="wrong").list_buckets()
    finally:
        run("local", "down", "--state-dir", state)
