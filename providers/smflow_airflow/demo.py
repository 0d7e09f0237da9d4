"""``python -m smflow_airflow.demo``: run the ``iris_lifecycle`` DAG with ``airflow dags test`` on
smflow's local runtime, with an Airflow of its own.

1. starts the local runtime in the background unless it is running (or uses ``--endpoint-url``);
2. sets up an Airflow home (default ``<repo>/.smflow/airflow``) with a SQLite metadata database
   (``airflow db migrate``), no example DAGs, and the repository's ``dags/`` folder;
3. points the ``aws_default`` connection at the runtime (``AIRFLOW_CONN_AWS_DEFAULT`` with
   ``endpoint_url`` in its extras);
4. runs ``airflow dags test iris_lifecycle`` and exits with its status (non-zero when the DAG run
   failed).

Nothing goes through a shell; the Airflow commands run with this interpreter (``-m airflow``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DAGS_FOLDER = REPO / "dags"
DEFAULT_AIRFLOW_HOME = REPO / ".smflow" / "airflow"
DAG_ID = "iris_lifecycle"
HIGHLIGHTS = ("Uploaded the Iris data set", "Predicted ", "Species: ", "Batch transform output at",
              "Deleted Endpoint", "DagRun Finished")


def airflow_env(home: Path, dags_folder: Path, endpoint_url: str, deferrable: bool) -> dict[str, str]:
    """The environment of the demo's Airflow (everything else is inherited)."""
    connection = {
        "conn_type": "aws",
        # Airflow masks the password wherever it appears in logs and the UI: never a common word.
        "login": "smflow-local-key",
        "password": "smflow-local-secret",
        "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
    }
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "True" if deferrable else "False",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
    }


def run(argv: list[str], env: dict[str, str], echo: bool = True,
        timeout: float | None = None) -> tuple[int, list[str]]:
    """Run ``python -m airflow <argv>``; stream its output (when ``echo``) and return its exit
    status and output lines. After ``timeout`` seconds the process is killed (exit status < 0)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow", *argv], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, bufsize=1,
    )
    watchdog = threading.Timer(timeout, process.kill) if timeout else None
    if watchdog:
        watchdog.start()
    lines: list[str] = []
    assert process.stdout is not None
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if echo:
                print(line, end="", flush=True)
        return process.wait(), lines
    finally:
        if watchdog:
            watchdog.cancel()


def dags_test(dag_id: str, env: dict[str, str], *, conf: dict[str, Any] | None = None, echo: bool = True,
              timeout: float | None = None) -> tuple[int, list[str]]:
    """``airflow dags test <dag_id> [--conf <JSON>]`` in ``env`` (see :func:`airflow_env`): one DAG
    run in this process's interpreter, triggers run in line when tasks defer. Returns its exit
    status (non-zero when the run failed) and output lines."""
    argv = ["dags", "test", dag_id]
    if conf is not None:
        argv += ["--conf", json.dumps(conf)]
    return run(argv, env, echo=echo, timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smflow_airflow.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="an already running runtime (default: start the local one)")
    parser.add_argument("--port", type=int, default=None, help="port of the local runtime it starts (default 9510, or a free one when 9510 is taken)")
    parser.add_argument("--airflow-home", type=Path, default=DEFAULT_AIRFLOW_HOME)
    parser.add_argument("--dags-folder", type=Path, default=DEFAULT_DAGS_FOLDER)
    parser.add_argument("--deferrable", action="store_true", help="wait in triggers ([operators] default_deferrable)")
    parser.add_argument("--quiet", action="store_true", help="print only the highlights of the run")
    args = parser.parse_args(argv)

    if not (args.dags_folder / f"{DAG_ID}.py").is_file():
        print(f"demo: {args.dags_folder / (DAG_ID + '.py')} not found; pass --dags-folder", file=sys.stderr)
        return 2
    url = args.endpoint_url
    if not url:
        from smflow.local import launcher

        try:
            info, started = launcher.start_background(port=args.port)
        except launcher.LauncherError as error:
            print(f"demo: {error}", file=sys.stderr)
            return 1
        url = info.url
        print(f"{'Started' if started else 'Using'} the smflow local runtime at {url} (state in {info.state_dir})")

    args.airflow_home.mkdir(parents=True, exist_ok=True)
    env = airflow_env(args.airflow_home.resolve(), args.dags_folder.resolve(), url, args.deferrable)
    begin = time.monotonic()
    print(f"Airflow home {args.airflow_home} (SQLite metadata database): airflow db migrate", flush=True)
    code, lines = run(["db", "migrate"], env, echo=False)
    if code != 0:
        print("\n".join(lines[-40:]), file=sys.stderr)
        print(f"demo: airflow db migrate failed ({code})", file=sys.stderr)
        return code
    print(f"airflow dags test {DAG_ID}{' (deferrable)' if args.deferrable else ''}", flush=True)
    code, lines = dags_test(DAG_ID, env, echo=not args.quiet)
    print("\nHighlights:")
    for number, line in enumerate(lines):
        if any(marker in line for marker in HIGHLIGHTS):
            print(f"  {line.strip()[:300]}")
        if "Batch transform output at" in line:  # and its first lines
            for following in lines[number + 1:number + 6]:
                print(f"    {following.strip()[:300]}")
    outcome = "succeeded" if code == 0 else f"failed (exit status {code})"
    print(f"{DAG_ID} {outcome} in {time.monotonic() - begin:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
