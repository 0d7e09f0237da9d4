"""train_model, attach_training_job, wait_for_training_job (and async twins) in Prefect flows,
against stubbed SageMaker responses (S3, STS and CloudWatch Logs from moto)."""

from __future__ import annotations

import asyncio
import re
import time

import boto3
import pytest

pytest.importorskip("prefect")

from prefect import flow, task  # noqa: E402

from smflow import naming  # noqa: E402
from smflow_prefect import (  # noqa: E402
    aattach_training_job,
    atrain_model,
    attach_training_job,
    await_for_training_job,
    task_run_idempotency_key,
    train_model,
    wait_for_training_job,
)

from .conftest import REGION, ROLE  # noqa: E402
from .readback import run_artifacts, run_logs, task_runs  # noqa: E402
from .responses import not_found, training_job  # noqa: E402


class Capture:
    """An expected_params value that accepts anything and remembers what it saw."""

    def __init__(self):
        self.values = []

    def __eq__(self, other):
        self.values.append(other)
        return True


def log_lines(job_name: str, *lines: str) -> None:
    """Put training log lines where SageMaker writes them (moto's CloudWatch Logs)."""
    logs = boto3.client("logs", region_name=REGION)
    group = "/aws/sagemaker/TrainingJobs"
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    now = int(time.time() * 1000)
    stream = f"{job_name}/algo-1-{now // 1000}"
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)])


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text("print('training')\n")
    return str(path)


def test_train_model_streams_logs_to_the_task_run_and_records_the_job(stubbed, credentials, script):
    name = "iris-unit"
    not_found(stubbed.sagemaker, "describe_training_job", TrainingJobName=name)
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"), {"TrainingJobName": name})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "Completed"), {"TrainingJobName": name})
    log_lines(name, "Trained a DecisionTreeClassifier on 150 rows", "training accuracy 1.000")

    @flow
    def train() -> dict:
        return train_model(entry_point=script, hyperparameters={"max_leaf_nodes": 30}, inputs="s3://bucket/iris",
                           job_name=name, role=ROLE, artifact_key="iris-training", aws_credentials=credentials)

    state = train(return_state=True)
    summary = state.result()
    stubbed.assert_done()
    assert summary["TrainingJobStatus"] == "Completed"
    assert summary["ModelDataUrl"] == f"s3://bucket/{name}/output/model.tar.gz"
    assert summary["HyperParameters"] == {"max_leaf_nodes": 30}
    sent = stubbed.request("CreateTrainingJob")
    assert sent["TrainingJobName"] == name and sent["HyperParameters"]["max_leaf_nodes"] == "30"
    assert sent["InputDataConfig"][0]["ChannelName"] == "train"

    flow_run_id = state.state_details.flow_run_id
    (train_run,) = [run for run in task_runs(flow_run_id) if run.name.startswith("train_model")]
    task_logs = [log.message for log in run_logs(flow_run_id) if log.task_run_id == train_run.id]
    assert "Trained a DecisionTreeClassifier on 150 rows" in task_logs
    assert "training accuracy 1.000" in task_logs
    assert any("Completed; model data at" in line for line in task_logs)

    (artifact,) = run_artifacts(flow_run_id)
    assert (artifact.key, artifact.type, artifact.task_run_id) == ("iris-training", "markdown", train_run.id)
    assert f"# Training job `{name}`" in artifact.data
    assert "| max_leaf_nodes | 30 |" in artifact.data
    assert f"`s3://bucket/{name}/output/model.tar.gz`" in artifact.data


def test_a_retried_train_model_attaches_to_the_job_its_first_attempt_started(stubbed, credentials):
    """Attempt 1 creates the job, then loses the API while waiting; attempt 2 derives the same
    job name and attaches to the running job: create_training_job is called once."""
    names = Capture()
    not_found(stubbed.sagemaker, "describe_training_job", TrainingJobName=names)
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
    stubbed.sagemaker.add_client_error("describe_training_job", service_error_code="InternalFailure",
                                       http_status_code=500, expected_params={"TrainingJobName": names})
    config = {"AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
              "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
              "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
              "StoppingCondition": {"MaxRuntimeInSeconds": 3600}}
    for status in ("InProgress", "InProgress", "Completed"):  # attempt 2: find it (it matches), wait for it
        stubbed.sagemaker.add_response("describe_training_job", training_job(
            "placeholder", status, AlgorithmSpecification=config["AlgorithmSpecification"],
            OutputDataConfig=config["OutputDataConfig"], HyperParameters={}), {"TrainingJobName": names})

    @flow
    def train() -> dict:
        return train_model.with_options(retries=1, retry_delay_seconds=0)(
            config=config, base_job_name="iris", role=ROLE, logs=False, aws_credentials=credentials)

    state = train(return_state=True)
    assert state.is_completed(), state.message
    stubbed.assert_done()
    assert stubbed.calls.count("CreateTrainingJob") == 1
    names.values.append(stubbed.request("CreateTrainingJob")["TrainingJobName"])
    assert len(set(names.values)) == 1, names.values  # every call, both attempts, one job name
    (name,) = set(names.values)
    assert re.fullmatch(r"iris-[0-9a-f]{10}", name)
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.run_count == 2
    assert name.startswith("iris-") and name != naming.stable_name("iris", f"prefect/{run.task_key}/{run.dynamic_key}")


def test_failed_training_fails_the_task_with_job_name_and_reason_and_records_it(stubbed, credentials):
    reason = "AlgorithmError: ValueError: the data has no label column"
    not_found(stubbed.sagemaker, "describe_training_job")
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
    stubbed.sagemaker.add_response("describe_training_job", training_job("broken", "Failed", reason))
    stubbed.sagemaker.add_response("describe_training_job", training_job("broken", "Failed", reason))

    @flow
    def train():
        return train_model(config={"AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
                                   "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
                                   "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                      "VolumeSizeInGB": 30},
                                   "StoppingCondition": {"MaxRuntimeInSeconds": 60}},
                           job_name="broken", role=ROLE, logs=False, aws_credentials=credentials)

    state = train(return_state=True)
    assert state.is_failed()
    stubbed.assert_done()
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.state.is_failed()
    assert "TrainingJob 'broken' ended in status Failed" in run.state.message
    assert reason in run.state.message
    (artifact,) = run_artifacts(state.state_details.flow_run_id)
    assert f"**FailureReason:** {reason}" in artifact.data


def test_wait_for_training_job_gives_up_after_its_timeout(stubbed, credentials):
    for _ in range(20):
        stubbed.sagemaker.add_response("describe_training_job", training_job("slow", "InProgress"))

    @flow
    def wait():
        return wait_for_training_job("slow", logs=False, timeout=0.5, aws_credentials=credentials)

    state = wait(return_state=True)
    assert state.is_failed()
    with pytest.raises(TimeoutError, match="TrainingJob 'slow' still InProgress after 0 s"):
        state.result()
    assert 2 <= stubbed.calls.count("DescribeTrainingJob") <= 6  # backoff: 0.2 s, 0.24 s, ...


def test_attach_and_wait_return_the_summary_of_a_finished_job(stubbed, credentials):
    stubbed.sagemaker.add_response("describe_training_job", training_job("done", "Completed"))  # attach: exists?
    stubbed.sagemaker.add_response("describe_training_job", training_job("done", "Completed"))  # attach: wait
    stubbed.sagemaker.add_response("describe_training_job", training_job("done", "Completed"))  # wait_for

    @flow
    def attach_then_wait():
        attached = attach_training_job("done", logs=False, aws_credentials=credentials)
        waited = wait_for_training_job("done", logs=False, aws_credentials=credentials)
        return attached, waited

    attached, waited = attach_then_wait()
    stubbed.assert_done()
    assert attached == waited
    assert attached["TrainingJobName"] == "done" and attached["TrainingTimeInSeconds"] == 7
    assert attached["TrainingEndTime"] == "2026-11-21T10:00:07+00:00"  # JSON-ready


def test_attach_to_a_missing_job_names_it(stubbed, credentials):
    not_found(stubbed.sagemaker, "describe_training_job")

    @flow
    def attach():
        return attach_training_job("nope", aws_credentials=credentials)

    with pytest.raises(ValueError, match="training job 'nope' not found"):
        attach()


def test_async_twins_stream_logs_and_record_the_job(stubbed, credentials):
    name = "iris-async"
    not_found(stubbed.sagemaker, "describe_training_job", TrainingJobName=name)
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))  # wait=False answer
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "InProgress"))
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "Completed"))
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "Completed"))  # aattach: exists?
    stubbed.sagemaker.add_response("describe_training_job", training_job(name, "Completed"))  # await_for
    log_lines(name, "async training line")

    @flow
    async def train() -> tuple:
        job = await atrain_model(config={"AlgorithmSpecification": {"TrainingImage": "i", "TrainingInputMode": "File"},
                                         "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
                                         "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                                            "VolumeSizeInGB": 30},
                                         "StoppingCondition": {"MaxRuntimeInSeconds": 60}},
                                 job_name=name, role=ROLE, artifact_key="async-training", aws_credentials=credentials)
        attached = await aattach_training_job(name, aws_credentials=credentials)
        waited = await await_for_training_job(name, logs=False, aws_credentials=credentials)
        return job, attached, waited

    state = asyncio.run(train(return_state=True))
    job, attached, waited = state.result()
    stubbed.assert_done()
    assert job["TrainingJobStatus"] == attached["TrainingJobStatus"] == waited["TrainingJobStatus"] == "Completed"
    flow_run_id = state.state_details.flow_run_id
    (train_run,) = [run for run in task_runs(flow_run_id) if run.name.startswith("atrain_model")]
    assert "async training line" in [log.message for log in run_logs(flow_run_id) if log.task_run_id == train_run.id]
    # one artifact: attaching to and waiting for the job atrain_model summarised do not repeat it
    assert [artifact.key for artifact in run_artifacts(flow_run_id)] == ["async-training"]


def test_idempotency_key_is_stable_across_retries_and_distinct_across_calls_and_runs():
    seen: list[str] = []

    @task(retries=2, retry_delay_seconds=0)
    def flaky() -> str:
        seen.append(task_run_idempotency_key())
        if len(seen) % 3 != 0:
            raise RuntimeError("transient")
        return seen[-1]

    @flow
    def twice() -> list[str]:
        return [flaky(), flaky()]

    first = twice()
    assert seen[0:3] == [first[0]] * 3 and seen[3:6] == [first[1]] * 3  # three attempts each, one key
    assert first[0] != first[1]  # two calls in one flow run
    second = twice()
    assert not set(first) & set(second)  # another flow run
    assert task_run_idempotency_key() is None  # outside a task run


def test_a_retried_flow_derives_the_same_keys_for_the_same_calls_whatever_the_thread_order():
    """Attempt 1 and attempt 2 of one flow run: the same calls (by task, arguments and count)
    get the same keys, also when submitted concurrently from threads in another order; calls
    with other arguments or a second identical call get other keys."""
    seen: list[tuple[int, str, str]] = []
    attempts: list[int] = []

    @task
    def start(job: str) -> str:
        key = task_run_idempotency_key()
        seen.append((len(attempts), job, key))
        return key

    @flow(retries=1, retry_delay_seconds=0)
    def twice() -> None:
        attempts.append(1)
        jobs = ["a", "b", "c"] if len(attempts) == 1 else ["c", "b", "a"]  # other submission order
        for future in [start.submit(job) for job in jobs]:
            future.result()
        start("a")  # a second call with the same arguments
        if len(attempts) == 1:
            raise RuntimeError("a later step failed once")

    state = twice(return_state=True)
    assert state.is_completed()
    first = [(job, key) for attempt, job, key in seen if attempt == 1]
    second = [(job, key) for attempt, job, key in seen if attempt == 2]
    assert len(first) == len(second) == 4
    assert sorted(first) == sorted(second)  # same call -> same key, in both attempts
    assert len({key for _, key in first}) == 4  # every call its own key
    flow_run_id = state.state_details.flow_run_id
    assert all(key.startswith(f"prefect/{flow_run_id}/") for _, key in first)


def test_idempotency_key_hashes_arguments_but_not_credentials(credentials):
    from smflow_prefect.idempotency import arguments_digest

    assert arguments_digest({"a": 1, "aws_credentials": credentials}) == arguments_digest({"a": 1})
    assert arguments_digest({"a": 1, "b": {"y": 2, "x": 1}}) == arguments_digest({"b": {"x": 1, "y": 2}, "a": 1})
    assert arguments_digest({"a": 1}) != arguments_digest({"a": 2})


def test_retry_transient_only_does_not_retry_a_failed_job_but_retries_a_lost_call(stubbed, credentials):
    from smflow_prefect import retry_transient_only

    config = {"AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
              "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
              "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
              "StoppingCondition": {"MaxRuntimeInSeconds": 60}}
    reason = "AlgorithmError: ValueError: the data has no label column"
    not_found(stubbed.sagemaker, "describe_training_job")
    stubbed.sagemaker.add_response("create_training_job", {"TrainingJobArn": "arn:x"})
    stubbed.sagemaker.add_response("describe_training_job", training_job("broken", "Failed", reason))
    stubbed.sagemaker.add_response("describe_training_job", training_job("broken", "Failed", reason))  # artifact
    guarded = train_model.with_options(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_transient_only)

    @flow
    def train_broken():
        return guarded(config=config, job_name="broken", role=ROLE, logs=False, aws_credentials=credentials)

    state = train_broken(return_state=True)
    assert state.is_failed() and reason in state.message
    stubbed.assert_done()
    assert stubbed.calls.count("CreateTrainingJob") == 1  # no second paid job
    (run,) = task_runs(state.state_details.flow_run_id)
    assert run.run_count == 1

    stubbed.sagemaker.add_client_error("describe_training_job", service_error_code="InternalFailure",
                                       http_status_code=500)  # attempt 1: the API is down
    stubbed.sagemaker.add_response("describe_training_job", training_job("done", "Completed"))  # attempt 2

    @flow
    def wait_done():
        return wait_for_training_job.with_options(retries=1, retry_delay_seconds=0,
                                                  retry_condition_fn=retry_transient_only)(
            "done", logs=False, aws_credentials=credentials)

    assert wait_done()["TrainingJobStatus"] == "Completed"
    stubbed.assert_done()
