"""The MLflow peer of the invocation benchmark: ``mlflow models serve --env-manager local`` on
the same scikit-learn model.

MLflow pins versions that fight the project's Airflow and Prefect pins, so it never goes into
``.venv``: :func:`ensure_venv` creates ``.venv-bench/`` beside it (once; reused while the pins
are unchanged) with ``mlflow-skinny`` and the very scikit-learn, NumPy, pandas, SciPy and
joblib versions of ``.venv``, so that both load the same pickled model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from _common import HOST, REPO, log, stop_process, wait_http

VENV = REPO / ".venv-bench"
PINNED = ("scikit-learn", "numpy", "pandas", "scipy", "joblib")
STAMP = VENV / ".smflow-bench-mlflow.json"
INSTALL_TIMEOUT = 900.0  # seconds


class PeerUnavailable(Exception):
    """MLflow cannot be installed or run here; ``str(e)`` says why."""


def _base_python() -> str:
    return getattr(sys, "_base_executable", None) or sys.executable


def _bin(name: str) -> Path:
    return VENV / "bin" / name


def ensure_venv() -> Path:
    """``.venv-bench/bin/python`` with MLflow installed (created or reused)."""
    pins = {name: metadata.version(name) for name in PINNED}
    wanted = {"pins": pins, "packages": ["mlflow-skinny"]}
    if STAMP.is_file() and _bin("mlflow").exists():
        try:
            if json.loads(STAMP.read_text()) == wanted:
                return _bin("python")
        except ValueError:
            pass
    log(f"creating {VENV} with mlflow-skinny and {', '.join(f'{k}=={v}' for k, v in pins.items())}")
    try:
        if not _bin("python").exists():
            subprocess.run([_base_python(), "-m", "venv", str(VENV)], check=True, capture_output=True,
                           text=True, timeout=300)
        command = [str(_bin("python")), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "mlflow-skinny", *(f"{k}=={v}" for k, v in pins.items())]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or error.stdout or "").strip().splitlines()[-3:]
        raise PeerUnavailable(f"could not install MLflow into {VENV}: {' / '.join(tail)}") from None
    except (subprocess.TimeoutExpired, OSError) as error:
        raise PeerUnavailable(f"could not install MLflow into {VENV}: {error}") from None
    STAMP.write_text(json.dumps(wanted))
    return _bin("python")


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # mlflow runs `uvicorn` from PATH
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    return env


def export_model(python: Path, joblib_path: Path, destination: Path) -> Path:
    """Save the joblib model as an MLflow model (``mlflow.sklearn.save_model``)."""
    code = (
        "import sys, joblib, mlflow.sklearn\n"
        "mlflow.sklearn.save_model(joblib.load(sys.argv[1]), sys.argv[2], serialization_format=\"cloudpickle\")\n"
    )
    try:
        subprocess.run([str(python), "-c", code, str(joblib_path), str(destination)], check=True,
                       capture_output=True, text=True, timeout=300, env=_environment())
    except subprocess.CalledProcessError as error:
        tail = (error.stderr or "").strip().splitlines()[-3:]
        raise PeerUnavailable(f"MLflow could not save the model: {' / '.join(tail)}") from None
    return destination


class MlflowServer:
    """``mlflow models serve -m <model> --env-manager local`` on 127.0.0.1:<port> (MLflow's
    defaults otherwise)."""

    def __init__(self, model_dir: Path, port: int, log_path: Path):
        self.model_dir = model_dir
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> MlflowServer:
        output = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [str(_bin("mlflow")), "models", "serve", "-m", str(self.model_dir), "--env-manager", "local",
             "-h", HOST, "-p", str(self.port)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=_environment(),
            cwd=self.log_path.parent, start_new_session=True,
        )
        output.close()
        try:
            wait_http(self.port, "/ping", timeout=180, process=self.process)
        except (TimeoutError, RuntimeError) as error:
            tail = self.log_path.read_text(errors="replace").strip().splitlines()[-3:]
            self.__exit__()
            raise PeerUnavailable(f"mlflow models serve did not start: {error}: {' / '.join(tail)}") from None
        return self

    def pids(self) -> list[int]:
        """The serving processes (mlflow's CLI, its uvicorn and workers)."""
        from _common import children_of

        if self.process is None:
            return []
        found, queue = [], [self.process.pid]
        while queue:
            pid = queue.pop()
            found.append(pid)
            queue += children_of(pid)
        return found

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, 15)
            except OSError:
                pass
            stop_process(self.process)
            try:
                os.killpg(self.process.pid, 9)
            except OSError:
                pass
            self.process = None
