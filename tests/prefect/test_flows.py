"""The example flows and the tasks' retry safety and teardown on a real local runtime process,
with Prefect's temporary API (the scheduled flow is run once, not served)."""

from __future__ import annotations

import ast
import importlib.util
import runpy
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("prefect")

from prefect import flow, task  # noqa: E402
from prefect.transactions import transaction  # noqa: E402

from smflow import naming  # noqa: E402
from smflow.client import SageMakerClient  # noqa: E402
from smflow.examples import iris  # noqa: E402
from smflow.waiting import Backoff  # noqa: E402
from smflow_prefect import deploy_model, predict, train_model  # noqa: E402

from .readback import run_artifacts, run_logs, task_runs  # noqa: E402

pytestmark = pytest.mark.integration
FLOWS = Path(__file__).resolve().parents[2] / "flows"


def load_flow_module(name: str):
    """Import ``flows/<name>.py`` as the module ``<name>``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FLOWS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def latest_flow_run(flow_name: str):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                       sort=FlowRunSort.START_TIME_DESC, limit=1)
    return run


def endpoint_names(runtime) -> list[str]:
    return [e["EndpointName"] for e in runtime.boto3_client("sagemaker").list_endpoints()["Endpoints"]]


@pytest.fixture(scope="session")
def iris_model(runtime) -> str:
    """One trained Iris model on the runtime, made with the smflow client directly."""
    client = SageMakerClient(endpoint_url=runtime.url, backoff=Backoff(initial=0.1, factor=1.2, maximum=1.0),
                             log=lambda line: None)
    data = client.upload_data(iris.write_training_csv(runtime.state_dir.parent / "iris-data" / "iris.csv").parent,
                              key_prefix="prefect-tests/iris")
    job = client.train(entry_point=str(iris.TRAINING_SCRIPT), hyperparameters=iris.HYPERPARAMETERS,
                       inputs={"train": data}, base_job_name="iris-prefect-tests", logs=False)
    return client.create_model(training_job_name=job["TrainingJobName"])["ModelName"]


def test_iris_lifecycle_script_runs_the_whole_lifecycle(runtime, monkeypatch, capsys):
    """``python flows/iris_lifecycle.py`` (here in-process, on the test API and runtime)."""
    monkeypatch.setattr(sys, "argv", ["iris_lifecycle.py", "--state-dir", str(runtime.state_dir)])
    begin = time.monotonic()
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(FLOWS / "iris_lifecycle.py"), run_name="__main__")
    wall = time.monotonic() - begin
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    assert f"Using the smflow local runtime at {runtime.url}" in out  # found the running one
    assert "Iris lifecycle flow finished in" in out and "accuracy 1.000" in out
    print(f"iris-lifecycle flow wall time: {wall:.1f} s")

    run = latest_flow_run("iris-lifecycle")
    assert run.state.is_completed()
    runs = {task_run.name.rsplit("-", 1)[0]: task_run for task_run in task_runs(run.id)}
    assert set(runs) >= {"upload_data", "train_model", "attach_training_job", "create_model", "deploy_model",
                         "predict", "evaluate", "batch_transform", "show_transform_output", "delete_endpoint"}
    training_lines = [log.message for log in run_logs(run.id) if log.task_run_id == runs["train_model"].id]
    assert any(line.startswith("Trained a DecisionTreeClassifier on 150 rows") for line in training_lines)
    artifacts = {artifact.key: artifact for artifact in run_artifacts(run.id)}
    assert set(artifacts) == {"iris-training-job", None, "iris-predictions", "iris-batch-transform"}
    assert artifacts[None].data == artifacts["iris-training-job"].data  # attach_training_job's, same job
    assert "| max_leaf_nodes | 30 |" in artifacts["iris-training-job"].data
    assert "/output/model.tar.gz`" in artifacts["iris-training-job"].data
    assert artifacts["iris-predictions"].type == "table" and '"sepal length (cm)": 5.0' in artifacts["iris-predictions"].data
    assert artifacts["iris-batch-transform"].data.startswith("[s3://sagemaker-us-east-1-123456789012/iris-transform-")
    assert f"]({runtime.url}/sagemaker-us-east-1-123456789012?list-type=2&prefix=iris-transform-" in (
        artifacts["iris-batch-transform"].data)
    assert not [name for name in endpoint_names(runtime) if name.startswith("iris-")]  # deleted at the end


def test_a_retried_train_model_attaches_to_the_running_job(runtime, monkeypatch):
    """The first attempt starts the job and then loses the connection while waiting; the retry
    attaches to that job (one job, run_count 2)."""
    real_wait = SageMakerClient.wait_for_training_job
    lost = []

    def wait_once_lost(self, job_name, **kwargs):
        if not lost:
            lost.append(job_name)
            raise ConnectionError("connection to the SageMaker API lost")
        return real_wait(self, job_name, **kwargs)

    monkeypatch.setattr(SageMakerClient, "wait_for_training_job", wait_once_lost)
    data = SageMakerClient(endpoint_url=runtime.url).upload_data(
        iris.write_training_csv(runtime.state_dir.parent / "retry-data" / "iris.csv").parent,
        key_prefix="prefect-tests/retry")

    @flow
    def train() -> dict:
        return train_model.with_options(retries=1, retry_delay_seconds=0)(
            entry_point=str(iris.TRAINING_SCRIPT), inputs=data, base_job_name="prefect-retry",
            aws_credentials=runtime.credentials())

    state = train(return_state=True)
    job = state.result()
    jobs = runtime.boto3_client("sagemaker").list_training_jobs(NameContains="prefect-retry")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in jobs] == [job["TrainingJobName"]] == lost
    assert job["TrainingJobStatus"] == "Completed"
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.run_count == 2


def test_teardown_on_failure_deletes_the_endpoint_a_failed_step_left(runtime, iris_model):
    endpoint_name = naming.timestamped_name("prefect-teardown")

    @task
    def reject(predictions: list) -> None:
        raise ValueError(f"rejected {len(predictions)} predictions")

    @flow
    def guarded():
        with transaction():
            endpoint = deploy_model(iris_model, endpoint_name=endpoint_name, teardown_on_failure=True,
                                    aws_credentials=runtime.credentials())
            assert endpoint_name in endpoint_names(runtime)  # it was up
            reject(predict(endpoint["EndpointName"], [[5.1, 3.5, 1.4, 0.2]], aws_credentials=runtime.credentials()))

    state = guarded(return_state=True)
    assert state.is_failed() and "rejected 1 predictions" in state.message
    assert endpoint_name not in endpoint_names(runtime)
    sagemaker = runtime.boto3_client("sagemaker")
    assert sagemaker.describe_model(ModelName=iris_model)["ModelName"] == iris_model  # the model is kept


def test_batch_scoring_flow_scores_with_an_existing_model(runtime, iris_model):
    scoring = load_flow_module("iris_batch_scoring")
    state = scoring.iris_batch_scoring(model_name=iris_model, aws_credentials=runtime.credentials(),
                                       return_state=True)
    result = state.result()
    assert result["rows"] == 29
    assert result["species_counts"] == {"setosa": 10, "versicolor": 10, "virginica": 9}
    keys = {artifact.key for artifact in run_artifacts(state.state_details.flow_run_id)}
    assert keys == {"iris-batch-scoring", "iris-batch-scoring-output"}

    missing = scoring.iris_batch_scoring(model_name="no-such-model", aws_credentials=runtime.credentials(),
                                         return_state=True)
    assert missing.is_failed() and "model 'no-such-model' not found" in missing.message


def test_scheduled_retraining_promotes_only_a_model_at_least_as_good(runtime):
    retraining = load_flow_module("iris_scheduled_retraining")
    endpoint_name = naming.timestamped_name("prefect-live")
    sagemaker = runtime.boto3_client("sagemaker")

    def live_model() -> str:
        config = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        return sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]

    try:
        first = retraining.iris_scheduled_retraining(endpoint_name=endpoint_name,
                                                     aws_credentials=runtime.credentials())
        assert first["promote"] and first["live_model"] is None and first["new_accuracy"] == 1.0
        assert live_model() == first["new_model"]  # the first run creates the endpoint

        state = retraining.iris_scheduled_retraining(endpoint_name=endpoint_name, max_leaf_nodes=2,
                                                     aws_credentials=runtime.credentials(), return_state=True)
        worse = state.result()
        assert worse["live_model"] == first["new_model"] and worse["live_accuracy"] == 1.0
        assert worse["new_accuracy"] < 1.0 and not worse["promote"]
        assert live_model() == first["new_model"]  # the worse model did not replace it
        (decision,) = [a for a in run_artifacts(state.state_details.flow_run_id) if a.key == "iris-retraining-decision"]
        assert "**Not promoted** to endpoint" in decision.data
    finally:
        SageMakerClient(endpoint_url=runtime.url).delete_endpoint(endpoint_name)


def test_batch_scoring_script_scores_with_the_newest_iris_model(runtime, iris_model, monkeypatch, capsys):
    """``python flows/iris_batch_scoring.py --endpoint-url URL`` (in-process, on the test API)."""
    monkeypatch.setattr(sys, "argv", ["iris_batch_scoring.py", "--endpoint-url", runtime.url])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(FLOWS / "iris_batch_scoring.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert exit_info.value.code == 0, out
    result = ast.literal_eval(out.strip().splitlines()[-1])  # the script prints the flow's result
    assert result["rows"] == 29 and sum(result["species_counts"].values()) == 29
    newest = runtime.boto3_client("sagemaker").list_models(
        NameContains="iris", SortBy="CreationTime", SortOrder="Descending")["Models"][0]["ModelName"]
    job = result["output"].split("/")[3]
    assert runtime.boto3_client("sagemaker").describe_transform_job(TransformJobName=job)["ModelName"] == newest


def test_retraining_script_will_not_serve_without_a_scheduling_api(monkeypatch, capsys):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    retraining = load_flow_module("iris_scheduled_retraining")
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert retraining.main(["--cron", "0 3 * * 1"]) == 2
    assert "Serving needs a Prefect API that schedules runs" in capsys.readouterr().err
