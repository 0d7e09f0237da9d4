"""A real Airflow 3 deployment for tests: api-server, scheduler, dag-processor and triggerer as
separate processes (LocalExecutor, SQLite metadata database) on free loopback ports, configured
as the README's "Running in your own Airflow" says, driven through the public REST API (v2)."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from smflow_airflow import demo

REPO = Path(__file__).resolve().parents[2]
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AirflowDeployment:
    """Start with :meth:`start`, stop with :meth:`stop`; each component logs to ``<home>/<name>.log``."""

    def __init__(self, home: Path, dags_folder: Path, endpoint_url: str, *, deferrable: bool) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **demo.airflow_env(home, dags_folder, endpoint_url, deferrable),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([
                {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                 "kwargs": {"path": str(dags_folder)}},
            ]),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            # SQLite: wait for locks (see tests/airflow/sqlite_settings.py); the components run
            # from the repository's root, so `tests` imports.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "tests.airflow.sqlite_settings.CONNECT_ARGS",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "tests.airflow.sqlite_settings.CONNECT_ARGS",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # Task processes reach the api-server's Execution API here.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # One secret for every component: tokens signed by one are checked by the others.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        self.processes: dict[str, subprocess.Popen] = {}
        self._token: str | None = None

    def start(self, timeout: float = 240.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        migrated = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=self.env,
                                  capture_output=True, text=True, timeout=600, cwd=REPO)
        if migrated.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stdout[-3000:]}{migrated.stderr[-3000:]}")
        for name in COMPONENTS:
            argv = [sys.executable, "-m", "airflow", name]
            if name == "api-server":
                argv += ["--host", "127.0.0.1", "--port", str(self.port)]
            log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
            self.processes[name] = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=REPO)
            log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self._token = json.loads(self._request("GET", "/auth/token", authorized=False))["access_token"]
                return
            except (OSError, urllib.error.URLError):
                time.sleep(1)
        raise RuntimeError(f"the api-server did not answer within {timeout:.0f} s:\n{self.logs()}")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {process.returncode}:\n{self.logs()}")

    def logs(self, lines: int = 40) -> str:
        parts = []
        for name in COMPONENTS:
            path = self.home / f"{name}.log"
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {name} ---\n" + "\n".join(tail))
        return "\n".join(parts)

    def _request(self, method: str, path: str, body: Any = None, *, authorized: bool = True) -> bytes:
        request = urllib.request.Request(self.url + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if authorized:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read()

    def api(self, method: str, path: str, body: Any = None) -> dict:
        """A call to the REST API v2 (``path`` below ``/api/v2``). Raises RuntimeError with the
        components' logs on an HTTP error other than 404."""
        try:
            return json.loads(self._request(method, f"/api/v2{path}", body) or b"{}")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                raise
            raise RuntimeError(f"{method} /api/v2{path}: HTTP {error.code}\n{self.logs()}") from error

    def wait_for_dag(self, dag_id: str, timeout: float = 180.0) -> None:
        """Until the dag-processor has parsed ``dag_id``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.api("GET", f"/dags/{dag_id}")
                return
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
            time.sleep(2)
        raise RuntimeError(f"DAG {dag_id} was not parsed within {timeout:.0f} s:\n{self.logs()}")

    def run_dag(self, dag_id: str, timeout: float = 600.0) -> tuple[str, dict[str, str]]:
        """Trigger a run through the REST API and wait for its end; returns (state, task states)."""
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None})
        run_id = run["dag_run_id"]
        deadline = time.monotonic() + timeout
        state = run["state"]
        while time.monotonic() < deadline:
            self._check_alive()
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in TERMINAL_RUN_STATES:
                break
            time.sleep(2)
        instances = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return state, {instance["task_id"]: instance["state"] for instance in instances}

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
        return self._request("GET", path).decode(errors="replace")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, 15)
                except ProcessLookupError:
                    pass
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, 9)
                process.wait()
