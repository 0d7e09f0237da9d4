"""``iris_lifecycle`` in a real Airflow 3 deployment: api-server, scheduler, dag-processor and
triggerer as separate processes (LocalExecutor, SQLite), the run triggered and followed through the
REST API, once with tasks that wait in their workers and once deferrable (waits in the triggerer)."""

from __future__ import annotations

import pytest

from tests.airflow.conftest import DAGS_FOLDER
from tests.airflow.deployment import AirflowDeployment

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("deferrable", [False, True], ids=["plain", "deferrable"])
def test_iris_lifecycle_runs_in_a_real_deployment(runtime, tmp_path, deferrable):
    deployment = AirflowDeployment(tmp_path / "airflow", DAGS_FOLDER, runtime.url, deferrable=deferrable)
    try:
        deployment.start()
        deployment.wait_for_dag("iris_lifecycle")
        state, tasks = deployment.run_dag("iris_lifecycle")
        assert state == "success", f"{tasks}\n{deployment.logs()}"
        assert set(tasks.values()) == {"success"}, tasks
        if deferrable:
            assert "Trigger" in (tmp_path / "airflow" / "triggerer.log").read_text(errors="replace")
    finally:
        deployment.stop()
    jobs = runtime.client().sagemaker.list_training_jobs()["TrainingJobSummaries"]
    assert [job["TrainingJobStatus"] for job in jobs if job["TrainingJobName"].startswith("iris-train")]
