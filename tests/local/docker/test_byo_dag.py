"""``dags/byo_container.py`` with ``airflow dags test`` (a fresh process, as ``make demo`` runs
it: :func:`smflow_airflow.demo.dags_test`) against a local runtime process whose images run on the
test session's Docker daemon: the busybox image trains, serves, predicts and batch-transforms;
a run whose ``train`` fails ends failed with the FailureReason from ``/opt/ml/output/failure`` in
its log, and its endpoint never exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from smflow_airflow import demo

from ...integration.conftest import Runtime

pytestmark = pytest.mark.integration

REPO_DAGS = Path(__file__).resolve().parents[3] / "dags"
CLI_TIMEOUT = 600  # seconds: a backstop for a hung `airflow dags test`, not a speed check


@pytest.fixture(scope="module")
def airflow(byo_image, tmp_path_factory):
    """(runtime, the Airflow environment) with a migrated SQLite metadata database."""
    runtime = Runtime(tmp_path_factory.mktemp("byo-dag-state").resolve())
    runtime.start()
    home = tmp_path_factory.mktemp("byo-airflow-home")
    env = demo.airflow_env(home, REPO_DAGS, runtime.url, deferrable=False)
    code, lines = demo.run(["db", "migrate"], env, echo=False, timeout=CLI_TIMEOUT)
    assert code == 0, "\n".join(lines[-50:])
    yield runtime, env
    runtime.stop()


def _line(lines: list[str], text: str) -> str:
    return next(line for line in lines if text in line)


def test_byo_container_dag_trains_serves_and_transforms_with_the_image(airflow, byo_image):
    runtime, env = airflow
    code, lines = demo.dags_test("byo_container", env, echo=False, timeout=CLI_TIMEOUT, conf={
        "image_uri": byo_image, "rows": [[1, 2], [3, 4]], "hyperparameters": {"scale": 2}})
    output = "\n".join(lines)
    assert code == 0, output[-5000:]
    assert "train: factor 20" in output  # the container's log, streamed into the task log
    assert "Endpoint " in output and "returned 2 predictions" in output
    shown = _line(lines, "Batch transform output at ")
    assert ast.literal_eval(shown[shown.index("["):]) == ["20,40", "60,80"]
    client = runtime.client()
    jobs = client.sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert [job["TrainingJobStatus"] for job in jobs] == ["Completed"]
    assert client.sagemaker.list_endpoints()["Endpoints"] == []  # the teardown deleted it


def test_a_failing_train_fails_the_run_with_the_failure_file_in_its_log(airflow, byo_image):
    runtime, env = airflow
    code, lines = demo.dags_test("byo_container", env, echo=False, timeout=CLI_TIMEOUT, conf={
        "image_uri": byo_image, "hyperparameters": {"fail": "ValueError: no rows to learn from"}})
    output = "\n".join(lines)
    assert code != 0, output[-5000:]
    assert "AlgorithmError: ValueError: no rows to learn from, exit code: 3" in output
    failed = [job for job in runtime.client().sagemaker.list_training_jobs()["TrainingJobSummaries"]
              if job["TrainingJobStatus"] == "Failed"]
    assert len(failed) == 1
    assert runtime.client().sagemaker.list_endpoints()["Endpoints"] == []
