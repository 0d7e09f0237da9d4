"""The example flows and the tasks' retry safety and teardown on a real local runtime process,
with Prefect's temporary API (the scheduled flow is run once, not served)."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("prefect")

from prefect import flow, task  # noqa: E402
from prefect.transactions import transaction  # noqa: E402

from smflow import naming  # noqa: E402
from smflow.client import SageMakerClient  # noqa: E402
from smflow.examples import iris  # noqa: E402
from smflow.waiting import Backoff  # noqa: E402
from smflow_prefect import (  # noqa: E402
    atrain_model,
    attach_training_job,
    batch_transform,
    deploy_model,
    predict,
    train_model,
)

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


def run_script(tmp_path, script: str, *args: str) -> subprocess.CompletedProcess:
    """``python flows/<script> <args>`` in a child process with a temporary ``PREFECT_HOME`` and no
    ``PREFECT_API_URL``: the script starts Prefect's ephemeral API itself, as a user's first run."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("PREFECT_", "AWS_"))}
    home = tmp_path / "prefect-home"
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
               AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"))
    done = subprocess.run([sys.executable, str(FLOWS / script), *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=900)
    assert (home / "prefect.db").exists(), "the run was not recorded in the temporary PREFECT_HOME"
    return done


def test_iris_lifecycle_script_runs_the_whole_lifecycle(runtime, tmp_path):
    """``python flows/iris_lifecycle.py --endpoint-url URL``: a child process, Prefect's ephemeral API."""
    sagemaker = runtime.boto3_client("sagemaker")
    jobs_before = {j["TrainingJobName"] for j in sagemaker.list_training_jobs(
        NameContains="iris-train", MaxResults=100)["TrainingJobSummaries"]}
    done = run_script(tmp_path, "iris_lifecycle.py", "--endpoint-url", runtime.url)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Iris lifecycle flow finished in" in done.stdout and "accuracy 1.000" in done.stdout
    assert "Trained a DecisionTreeClassifier on 150 rows" in output  # the job's log, in the task run's logs
    assert "Predicted 29 rows, accuracy 1.000" in output
    assert "only covers the deployment itself" not in output  # the flow has the teardown hook
    new_jobs = [j for j in sagemaker.list_training_jobs(NameContains="iris-train", MaxResults=100)[
        "TrainingJobSummaries"] if j["TrainingJobName"] not in jobs_before]
    assert [j["TrainingJobStatus"] for j in new_jobs] == ["Completed"]  # one job
    assert not [name for name in endpoint_names(runtime) if name.startswith("iris-")]  # deleted at the end


def test_iris_lifecycle_deletes_its_endpoint_when_a_later_step_fails(runtime, iris_model):
    """The flow's hook, no transaction: the accuracy check fails after the deployment."""
    lifecycle = load_flow_module("iris_lifecycle")
    endpoint_name = naming.timestamped_name("iris-fails")
    state = lifecycle.iris_lifecycle(aws_credentials=runtime.credentials(), min_accuracy=1.5,
                                     endpoint_name=endpoint_name, return_state=True)
    assert state.is_failed() and "below min_accuracy 1.5" in state.message
    assert endpoint_name not in endpoint_names(runtime)
    flow_run_id = state.state_details.flow_run_id
    artifacts = run_artifacts(flow_run_id)
    # train_model's artifact only: attach_training_job right after it does not repeat it
    assert [(a.key, a.type) for a in artifacts] == [("iris-training-job", "markdown"), ("iris-predictions", "table")]
    assert "| max_leaf_nodes | 30 |" in artifacts[0].data
    messages = [log.message for log in run_logs(flow_run_id)]
    assert any(f"Tearing down endpoint {endpoint_name}: flow run" in m for m in messages)


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


def test_a_retried_flow_attaches_to_the_jobs_its_failed_attempt_started(runtime, iris_model):
    """``@flow(retries=1)``: attempt 1 trains and batch-transforms, then a later step fails; attempt
    2 makes the same calls and attaches to both jobs: one CreateTrainingJob, one
    CreateTransformJob, one artifact per job."""
    client = SageMakerClient(endpoint_url=runtime.url)
    data = client.upload_data(iris.write_training_csv(runtime.state_dir.parent / "flow-retry-data" / "iris.csv").parent,
                              key_prefix="prefect-tests/flow-retry/train")
    features = iris.write_features_csv(runtime.state_dir.parent / "flow-retry-features" / "rows.csv",
                                       iris.blog_test_rows()[0])
    rows = client.upload_data(features.parent, key_prefix="prefect-tests/flow-retry/rows")
    base = naming.timestamped_name("flowretry")  # unique to this test run
    attempts: list[tuple[str, str]] = []

    @flow(retries=1, retry_delay_seconds=0)
    def train_and_score() -> tuple[str, str]:
        credentials = {"aws_credentials": runtime.credentials()}
        job = train_model(entry_point=str(iris.TRAINING_SCRIPT), inputs=data, base_job_name=f"{base}-train",
                          logs=False, **credentials)
        attach_training_job(job["TrainingJobName"], logs=False, **credentials)
        scored = batch_transform(model_name=iris_model, data=rows, base_job_name=f"{base}-score", **credentials)
        attempts.append((job["TrainingJobName"], scored["TransformJobName"]))
        if len(attempts) == 1:
            raise RuntimeError("a later step failed once")
        return attempts[-1]

    state = train_and_score(return_state=True)
    assert state.is_completed(), state.message
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    sagemaker = runtime.boto3_client("sagemaker")
    trained = sagemaker.list_training_jobs(NameContains=f"{base}-train")["TrainingJobSummaries"]
    scored = sagemaker.list_transform_jobs(NameContains=f"{base}-score")["TransformJobSummaries"]
    assert [j["TrainingJobName"] for j in trained] == [attempts[0][0]]  # exactly one CreateTrainingJob
    assert [j["TransformJobName"] for j in scored] == [attempts[0][1]]  # exactly one CreateTransformJob
    # one artifact per job, not one per attempt nor one more for attaching
    training, link = run_artifacts(state.state_details.flow_run_id)
    assert training.data.startswith(f"# Training job `{attempts[0][0]}`")
    assert link.description == (f"Output of SageMaker transform job [{attempts[0][1]}]"
                                f"({runtime.url}/console/transform-jobs/{attempts[0][1]})")
    assert f"]({runtime.url}/console/s3/" in link.data  # the output, in the local console


def test_a_retried_async_flow_attaches_to_the_job_its_failed_attempt_started(runtime):
    data = SageMakerClient(endpoint_url=runtime.url).upload_data(
        iris.write_training_csv(runtime.state_dir.parent / "async-retry-data" / "iris.csv").parent,
        key_prefix="prefect-tests/async-flow-retry")
    base = naming.timestamped_name("aflowretry")
    names: list[str] = []

    @flow(retries=1, retry_delay_seconds=0)
    async def train() -> str:
        job = await atrain_model(entry_point=str(iris.TRAINING_SCRIPT), inputs=data, base_job_name=base,
                                 logs=False, aws_credentials=runtime.credentials())
        names.append(job["TrainingJobName"])
        if len(names) == 1:
            raise RuntimeError("a later step failed once")
        return names[-1]

    assert asyncio.run(train()) == names[0] == names[1]
    jobs = runtime.boto3_client("sagemaker").list_training_jobs(NameContains=base)["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in jobs] == [names[0]]


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


def test_scheduled_retraining_promotes_only_a_model_at_least_as_good(runtime, tmp_path):
    retraining = load_flow_module("iris_scheduled_retraining")
    endpoint_name = naming.timestamped_name("prefect-live")
    sagemaker = runtime.boto3_client("sagemaker")

    def live_model() -> str:
        config = sagemaker.describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
        return sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0]["ModelName"]

    try:
        # the first run: `python flows/iris_scheduled_retraining.py --once`, Prefect's ephemeral API
        done = run_script(tmp_path, "iris_scheduled_retraining.py", "--once", "--endpoint-url", runtime.url,
                          "--endpoint-name", endpoint_name)
        assert done.returncode == 0, done.stdout + done.stderr
        first = ast.literal_eval(done.stdout.strip().splitlines()[-1])  # the script prints the flow's result
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


def test_batch_scoring_defaults_to_the_newest_iris_model(runtime, iris_model):
    scoring = load_flow_module("iris_batch_scoring")
    result = scoring.iris_batch_scoring(aws_credentials=runtime.credentials())  # no model_name
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
