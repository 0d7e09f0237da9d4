"""The three example DAGs run with the ``airflow dags test`` CLI (in a fresh process, as ``make
demo`` runs it: ``smflow_airflow.demo.dags_test``) against a real smflow local runtime, on a SQLite
metadata database: synchronously and with ``deferrable=True`` (the ``[operators]
default_deferrable`` option; ``airflow dags test`` runs the triggers in line). The states and XComs
of each run are read back from that database.

Runs that need what the CLI cannot do (a sensor's poke interval shortened, the test DAGs of
``tests/airflow/dags``) run in-process with ``dag.test()``, which is what the CLI calls."""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import pytest

from smflow import naming
from smflow_airflow import demo

from .conftest import AIRFLOW_HOME, DAGS_FOLDER, TEST_DAGS_FOLDER

CLI_TIMEOUT = 900  # seconds: a backstop for a hung `airflow dags test`, not a speed check

pytestmark = pytest.mark.integration

TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z")


@dataclass
class DagRunResult:
    dag_id: str
    run_id: str
    state: str
    seconds: float
    states: dict[str, str] = field(default_factory=dict)
    tries: dict[str, int] = field(default_factory=dict)
    xcom: dict[str, dict] = field(default_factory=dict)  # task id -> {key: value}
    output: str = ""
    exit_code: int | None = None  # of `airflow dags test` (None: run in-process)

    def value(self, task_id: str, key: str = "return_value"):
        return self.xcom.get(task_id, {}).get(key)


@contextmanager
def deferrable_default(enabled: bool):
    """``[operators] default_deferrable`` while the DAG is parsed and run."""
    name = "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"
    os.environ[name] = "True" if enabled else "False"
    try:
        yield
    finally:
        os.environ.pop(name, None)


def collect(dag_id: str, run_id: str, seconds: float, output: str, exit_code: int | None = None) -> DagRunResult:
    """The state, task states, tries and XComs of one DAG run, from the metadata database."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        dag_run = session.scalars(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id)).one()
        result = DagRunResult(dag_id, run_id, str(dag_run.state), seconds, output=output, exit_code=exit_code)
        for ti in dag_run.get_task_instances(session=session):
            result.states[ti.task_id] = str(ti.state)
            result.tries[ti.task_id] = ti.try_number
        rows = session.scalars(XComModel.get_many(run_id=run_id, dag_ids=dag_id)).all()
        for row in rows:
            result.xcom.setdefault(row.task_id, {})[row.key] = XComModel.deserialize_value(row)
    return result


def latest_run(dag_id: str) -> tuple[int, str] | None:
    """``(id, run_id)`` of the DAG's most recently created run."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.execute(select(DagRun.id, DagRun.run_id).where(DagRun.dag_id == dag_id)
                              .order_by(DagRun.id.desc()).limit(1)).first()
    return tuple(row) if row else None


def run_cli(dag_id: str, runtime, *, conf: dict | None = None, deferrable: bool = False) -> DagRunResult:
    """One run of an example DAG with ``airflow dags test`` in a new process (the demo's command
    and environment, on this session's Airflow home and runtime); states and XComs from the DB."""
    env = demo.airflow_env(AIRFLOW_HOME, DAGS_FOLDER, runtime.url, deferrable)
    before = latest_run(dag_id)
    started = time.monotonic()
    code, lines = demo.dags_test(dag_id, env, conf=conf, echo=False, timeout=CLI_TIMEOUT)
    seconds = time.monotonic() - started
    output = "\n".join(lines)
    after = latest_run(dag_id)
    assert after is not None and after != before, f"airflow dags test {dag_id} made no DAG run:\n{output[-5000:]}"
    result = collect(dag_id, after[1], seconds, output, exit_code=code)
    print(f"airflow dags test {dag_id} ({'deferrable' if deferrable else 'sync'}): {result.state} in {seconds:.1f} s")
    return result


def run_dag(dag_id: str, capfd, *, conf: dict | None = None, deferrable: bool = False,
            poke_interval: float | None = None) -> DagRunResult:
    """Parse the DAG's folder and run one DAG run with ``dag.test()`` in this process; collect
    states and XComs."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseSensorOperator

    folder = DAGS_FOLDER if dag_id.startswith("iris_") else TEST_DAGS_FOLDER
    with deferrable_default(deferrable):
        bag = DagBag(dag_folder=str(folder))
        assert not bag.import_errors, bag.import_errors
        dag = bag.get_dag(dag_id)
        for task in dag.tasks:
            if poke_interval is not None and isinstance(task, BaseSensorOperator):
                task.poke_interval = poke_interval  # reschedule sooner than the DAG's 60 s
        capfd.readouterr()
        started = time.monotonic()
        dag_run = dag.test(run_conf=conf)
        seconds = time.monotonic() - started
    captured = capfd.readouterr()
    result = collect(dag_id, dag_run.run_id, seconds, captured.out + captured.err)
    print(f"{dag_id} ({'deferrable' if deferrable else 'sync'}): {result.state} in {seconds:.1f} s")
    return result


def log_time(output: str, text: str) -> datetime:
    """When the task log line containing ``text`` was written (UTC)."""
    for line in output.splitlines():
        match = TIMESTAMP.match(line)
        if match and text in line:
            return datetime.fromisoformat(match.group(1) + "+00:00")
    raise AssertionError(f"{text!r} is not in the task log")


@pytest.fixture(scope="module")
def airflow_runtime(airflow_db, aws_connection, runtime):
    return runtime


# ---------------------------------------------------------------------- iris_lifecycle
@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_iris_lifecycle(airflow_runtime, deferrable):
    result = run_cli("iris_lifecycle", airflow_runtime, deferrable=deferrable)

    assert result.exit_code == 0 and result.state == "success", result.output[-5000:]
    assert set(result.states.values()) == {"success"}, result.states
    train = result.value("train")
    assert train["TrainingJobStatus"] == "Completed" and str(train["HyperParameters"]["max_leaf_nodes"]) == "30"
    assert train["ModelDataUrl"].endswith(f"/{train['TrainingJobName']}/output/model.tar.gz")
    assert result.value("attach")["TrainingJobArn"] == train["TrainingJobArn"]
    assert result.value("create_model")["ModelName"] == train["TrainingJobName"]
    assert result.value("deploy")["EndpointStatus"] == "InService"
    assert result.value("predict")["Count"] == 29
    evaluation = result.value("evaluate")
    assert evaluation["accuracy"] >= 0.9 and len(evaluation["species"]) == 29
    assert f"accuracy {evaluation['accuracy']:.3f}" in result.output  # and in the log
    assert result.value("show_transform_output")["head"] == ["0.0"] * 5  # the first rows are setosa
    assert result.value("batch_transform")["TransformJobStatus"] == "Completed"
    # links: the local console's pages of the job, model and endpoint, which answer
    assert result.value("train", "smflow_training_job")["partition"] == "local"
    job_page = result.value("train", "_link_SageMakerTrainingJobLink")
    assert job_page == f"{airflow_runtime.url}/console/training-jobs/{train['TrainingJobName']}"
    assert result.value("deploy", "_link_SageMakerEndpointLink") == \
        f"{airflow_runtime.url}/console/endpoints/{result.value('deploy')['EndpointName']}"
    import urllib.request

    with urllib.request.urlopen(job_page) as answer:
        assert answer.status == 200 and train["TrainingJobName"] in answer.read().decode()
    # the endpoint is gone: the teardown task deleted it
    endpoint = result.value("deploy")["EndpointName"]
    names = [e["EndpointName"] for e in airflow_runtime.client().sagemaker.list_endpoints()["Endpoints"]]
    assert endpoint not in names
    assert result.value("delete_endpoint")["Deleted"][0] == f"Endpoint/{endpoint}"
    # the training log is in the task log, once: the attach task does not replay it
    trained_lines = [line for line in result.output.splitlines() if "Trained a DecisionTreeClassifier on 150 rows" in line]
    assert len(trained_lines) == 1, trained_lines
    # the connection's password is no common word: Airflow's secret masker leaves "smflow" alone
    assert "***" not in result.output
    if deferrable:
        assert "[DAG TEST] running trigger in line" in result.output
        # a local endpoint is InService when CreateEndpoint answers: never deferred
        for kind in ("TrainingJob", "TransformJob"):
            assert f"Deferring: {kind}" in result.output
        trained = [line for line in result.output.splitlines() if "Trained a DecisionTreeClassifier" in line]
        assert any("SageMakerResourceTrigger" in line for line in trained)  # streamed by the trigger
    else:
        assert "Deferring:" not in result.output


# ---------------------------------------------------------------------- iris_scheduled_retraining
@pytest.fixture
def live_endpoint(airflow_runtime, iris_model):
    client = airflow_runtime.client()
    name = naming.timestamped_name("airflow-it-live")
    client.deploy(model_name=iris_model["model"], endpoint_name=name)
    yield name
    client.delete_endpoint(name)


def test_scheduled_retraining_updates_the_live_endpoint_only_when_not_worse(airflow_runtime, live_endpoint):
    sagemaker = airflow_runtime.client().sagemaker

    # Same data, same hyperparameters: as good as the live model -> promoted (UpdateEndpoint).
    first = run_cli("iris_scheduled_retraining", airflow_runtime, conf={"endpoint_name": live_endpoint})
    assert first.exit_code == 0 and first.state == "success", first.output[-5000:]
    scores = first.value("compare")
    assert scores["promote"] is True and scores["new_accuracy"] >= scores["live_accuracy"] >= 0.9
    assert first.states["update_endpoint"] == "success"
    new_model = first.value("create_model")["ModelName"]
    described = sagemaker.describe_endpoint(EndpointName=live_endpoint)
    assert described["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    assert config["ProductionVariants"][0]["ModelName"] == new_model
    assert f"Updating endpoint {live_endpoint}" in first.output

    # A crippled model (2 leaves) scores worse -> the live endpoint keeps the first run's model.
    second = run_cli("iris_scheduled_retraining", airflow_runtime, deferrable=True,
                     conf={"endpoint_name": live_endpoint, "max_leaf_nodes": 2})
    assert second.exit_code == 0 and second.state == "success", second.output[-5000:]
    assert "Deferring: TrainingJob" in second.output and "Deferring: TransformJob" in second.output
    scores = second.value("compare")
    assert scores["promote"] is False and scores["live_model"] == new_model
    assert scores["new_accuracy"] < scores["live_accuracy"]
    assert second.states["update_endpoint"] == "skipped"
    still = sagemaker.describe_endpoint(EndpointName=live_endpoint)
    assert still["EndpointConfigName"] == described["EndpointConfigName"]


# ---------------------------------------------------------------------- iris_batch_scoring
def test_batch_scoring_with_a_sensor_in_reschedule_mode(airflow_runtime, slow_iris_model, capfd):
    """In-process: the sensor's 60 s poke interval is shortened, which the CLI cannot do."""
    result = run_dag("iris_batch_scoring", capfd, conf={"model_name": slow_iris_model["model"]}, poke_interval=0.5)
    assert result.state == "success", result.output[-5000:]
    summary = result.value("summarize")
    assert summary["rows"] == 29
    assert summary["species_counts"] == {"setosa": 10, "versicolor": 10, "virginica": 9}
    assert result.value("start_scoring")["TransformJobStatus"] == "InProgress"  # the sensor waited
    assert result.value("wait_for_scoring")["TransformJobStatus"] == "Completed"
    assert "Rescheduling task" in result.output or result.tries["wait_for_scoring"] >= 1


def test_batch_scoring_with_a_missing_model_fails_for_good(airflow_runtime, capfd):
    result = run_dag("iris_batch_scoring", capfd, conf={"model_name": "no-such-model"})
    assert result.state == "failed"
    assert result.states["check_model"] == "failed" and result.tries["check_model"] == 1  # no retry
    assert "model 'no-such-model' not found" in result.output


def test_batch_scoring_deferrable(airflow_runtime, slow_iris_model):
    """Deferrable: the sensor (and the start_scoring operator, which does not wait) free the
    worker; the sensor waits in a trigger."""
    result = run_cli("iris_batch_scoring", airflow_runtime, deferrable=True,
                     conf={"model_name": slow_iris_model["model"]})
    assert result.exit_code == 0 and result.state == "success", result.output[-5000:]
    assert set(result.states.values()) == {"success"}, result.states
    assert result.value("start_scoring")["TransformJobStatus"] == "InProgress"
    assert result.value("wait_for_scoring")["TransformJobStatus"] == "Completed"
    assert result.value("summarize")["species_counts"] == {"setosa": 10, "versicolor": 10, "virginica": 9}
    assert "Deferring: TransformJob" in result.output and "[DAG TEST] running trigger in line" in result.output
    assert "Scored 29 rows" in result.output


# ---------------------------------------------------------------------- behaviours on the runtime
@pytest.mark.parametrize("deferrable", [False, True], ids=["sync", "deferrable"])
def test_training_log_streams_into_the_task_log_while_the_job_runs(airflow_runtime, capfd, deferrable):
    result = run_dag("smflow_test_streaming", capfd, deferrable=deferrable)
    assert result.state == "success", result.output[-5000:]
    job = airflow_runtime.client().describe_training_job(result.value("train")["TrainingJobName"])
    first = log_time(result.output, "smflow-streaming-first")
    last = log_time(result.output, "smflow-streaming-last")
    assert (job["TrainingEndTime"] - first).total_seconds() >= 2, "the first line came only at the end"
    assert (last - first).total_seconds() >= 3
    assert result.output.count("smflow-streaming-first") == 1  # shown once, also after resuming


def test_a_job_that_fails_while_deferred_fails_the_task_and_the_retry_starts_a_new_job(airflow_runtime, capfd):
    result = run_dag("smflow_test_failing_training", capfd, deferrable=True)
    assert result.state == "failed"
    assert result.states["train"] == "failed" and result.tries["train"] == 2
    first = naming.stable_name("train", f"smflow_test_failing_training.train.{result.run_id}")
    client = airflow_runtime.client()
    for name in (first, f"{first}-2"):
        job = client.describe_training_job(name)
        assert job["TrainingJobStatus"] == "Failed"
        assert "the data has no label column" in job["FailureReason"]
    assert f"TrainingJob '{first}' ended in status Failed" in result.output
    assert f"TrainingJob '{first}-2' ended in status Failed" in result.output


def test_the_delete_endpoint_teardown_runs_when_a_task_before_it_fails(airflow_runtime, iris_model, capfd):
    endpoint = naming.timestamped_name("airflow-it-teardown")
    result = run_dag("smflow_test_teardown", capfd,
                     conf={"model_name": iris_model["model"], "endpoint_name": endpoint})
    assert result.state == "failed"
    assert result.states == {"deploy": "success", "predict": "failed", "delete_endpoint": "success"}
    assert result.tries["predict"] == 1  # a bad content type fails for good
    names = [e["EndpointName"] for e in airflow_runtime.client().sagemaker.list_endpoints()["Endpoints"]]
    assert endpoint not in names


def test_a_rerun_of_the_same_task_run_reuses_the_finished_job(airflow_runtime, iris_model):
    """Two executions with the same DAG, task and run (a retry, or a cleared task) start one job."""
    from smflow.examples import iris
    from smflow_airflow.operators.sagemaker import SageMakerTrainOperator

    from .conftest import make_context

    client = airflow_runtime.client()

    def jobs() -> set[str]:
        return {job["TrainingJobName"] for job in client.sagemaker.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]}

    operator = SageMakerTrainOperator(task_id="train_rerun", entry_point=str(iris.TRAINING_SCRIPT),
                                      hyperparameters=iris.HYPERPARAMETERS, inputs=iris_model["data"], check_interval=1)
    before = jobs()
    first = operator.execute(make_context("train_rerun"))
    again = operator.execute(make_context("train_rerun"))
    assert first["TrainingJobStatus"] == again["TrainingJobStatus"] == "Completed"
    assert again["TrainingJobArn"] == first["TrainingJobArn"]
    assert jobs() - before == {first["TrainingJobName"]}
