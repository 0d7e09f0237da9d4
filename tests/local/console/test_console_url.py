"""``smflow local up`` prints where the console is, and that URL answers."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
import requests

pytestmark = pytest.mark.integration


def test_local_up_prints_the_console_url(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "smflow.cli", "local"]
    state = ["--state-dir", str(tmp_path / "state")]
    up = subprocess.run([*command, "up", "--port", str(port), *state], check=False, capture_output=True, text=True,
                        timeout=120)
    try:
        assert up.returncode == 0, up.stderr
        assert up.stdout.strip() == f"http://127.0.0.1:{port}"  # stdout stays the runtime's URL alone
        console = f"http://127.0.0.1:{port}/console/"
        assert f"local console: {console}" in up.stderr
        page = requests.get(console, timeout=30)
        assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
    finally:
        subprocess.run([*command, "down", *state], check=False, capture_output=True, timeout=120)
