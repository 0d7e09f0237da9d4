"""The SageMaker Python SDK v2 itself, to compare smflow with: ``sagemaker_sdk``.

The SDK is never a dependency of smflow: the fixture installs it into its own virtual environment,
cached under the repository's git-ignored ``.smflow/sdk/`` and keyed by the SDK and Python
versions, so it is built once (about a minute: pip resolves and installs ~130 packages) and reused
by later runs. Tests talk to it through :meth:`SageMakerSDK.run`: one subprocess per batch, JSON
in and out, since importing ``sagemaker`` takes seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SDK_VERSION = "2.257.7"  # the last v2 release when these tests were written (sagemaker<3)
CACHE = Path(__file__).resolve().parents[2] / ".smflow" / "sdk"
READY = "ready.json"  # written last: a directory without it is a half-built environment


@dataclass(frozen=True)
class SageMakerSDK:
    """A virtual environment holding ``sagemaker==SDK_VERSION``.

    Attributes:
        python: its interpreter.
        version: ``sagemaker.__version__``.
        build_seconds: how long creating the environment took (when it was created).
    """

    python: Path
    version: str
    build_seconds: float

    def run(self, code: str, payload: Any = None, *, timeout: float = 300) -> Any:
        """Run ``code`` in the SDK's interpreter with ``payload`` as JSON on stdin; the JSON it
        prints last on stdout is returned. The SDK's logging and warnings are silenced."""
        prologue = "import logging, warnings\nlogging.disable(logging.CRITICAL)\nwarnings.simplefilter('ignore')\n"
        completed = subprocess.run(
            [str(self.python), "-c", prologue + code],
            input=json.dumps(payload), capture_output=True, text=True, timeout=timeout,
        )
        if completed.returncode:
            raise AssertionError(f"the SageMaker Python SDK's interpreter failed:\n{completed.stderr[-4000:]}")
        return json.loads(completed.stdout.strip().splitlines()[-1])


def _build(directory: Path) -> float:
    """Create the virtual environment; its duration in seconds. Skips the tests if pip cannot
    install the SDK (no index, no wheel for this Python)."""
    shutil.rmtree(directory, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True, capture_output=True)
    install = subprocess.run(
        [str(directory / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"sagemaker=={SDK_VERSION}", "scipy"],  # scipy: the SDK's sparse record_set writer needs it
        capture_output=True, text=True, timeout=1800,
    )
    if install.returncode:
        shutil.rmtree(directory, ignore_errors=True)
        pytest.skip(f"pip could not install sagemaker=={SDK_VERSION} to compare with: {install.stderr.strip()[-600:]}")
    return time.monotonic() - started


@pytest.fixture(scope="session")
def sagemaker_sdk() -> SageMakerSDK:
    """The SageMaker Python SDK v2 in its own (cached) virtual environment."""
    directory = CACHE / f"sagemaker-{SDK_VERSION}-scipy-py{sys.version_info.major}.{sys.version_info.minor}"
    ready = directory / READY
    if not ready.is_file():
        seconds = _build(directory)
        python = directory / "bin" / "python"
        version = subprocess.run(
            [str(python), "-c", "from importlib.metadata import version; print(version('sagemaker'))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        ready.write_text(json.dumps({"version": version, "build_seconds": round(seconds, 1)}))
    facts = json.loads(ready.read_text())
    return SageMakerSDK(python=directory / "bin" / "python", version=facts["version"],
                        build_seconds=facts["build_seconds"])
