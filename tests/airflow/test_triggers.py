"""Tests of SageMakerResourceTrigger: serialization, the events it fires (including a job that fails
while the task is deferred), log streaming, timeouts, on_kill, and that it never blocks the
triggerer's event loop."""

from __future__ import annotations

import asyncio
import importlib
import sys
import threading
import time
from collections import defaultdict

import pytest

import smflow
from smflow.client import SageMakerClient
from smflow.logs import LogTail
from smflow_airflow.hooks.sagemaker import SageMakerClientHook
from smflow_airflow.triggers.sagemaker import SageMakerResourceTrigger

from .conftest import STUB_ENDPOINT, connection_uri
from .responses import endpoint, training_job, transform_job


def run_trigger(trigger: SageMakerResourceTrigger) -> list[dict]:
    async def collect():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


@pytest.fixture
def trigger_client(stubbed, monkeypatch):
    """The trigger builds the stubbed client instead of the connection's."""
    monkeypatch.setattr(SageMakerResourceTrigger, "_make_client", lambda self: stubbed.get_client(self.log.info))
    return stubbed


def make_trigger(**kwargs) -> SageMakerResourceTrigger:
    kwargs.setdefault("kind", "TrainingJob")
    kwargs.setdefault("name", "job-1")
    kwargs.setdefault("check_interval", 0.01)
    return SageMakerResourceTrigger(**kwargs)


def test_serialize_round_trip():
    trigger = make_trigger(aws_conn_id="my_aws", region_name="eu-west-1", verify="/etc/ca.pem",
                           botocore_config={"read_timeout": 900}, deadline=123.0, stream_logs=True,
                           stop_on_kill=True)
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {"kind": "TrainingJob", "name": "job-1", "aws_conn_id": "my_aws", "region_name": "eu-west-1",
                      "verify": "/etc/ca.pem", "botocore_config": {"read_timeout": 900}, "check_interval": 0.01, "deadline": 123.0, "stream_logs": True,
                      "expected_endpoint_config": None, "stop_on_kill": True}


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of TrainingJob, TransformJob, Endpoint"):
        make_trigger(kind="ProcessingJob")


def test_a_job_that_fails_while_deferred_fires_a_failed_event_with_its_reason(trigger_client):
    trigger_client.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"))
    trigger_client.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"))
    trigger_client.sagemaker.add_response(
        "describe_training_job", training_job("job-1", "Failed", FailureReason="AlgorithmError: ExecuteUserScriptError"))
    events = run_trigger(make_trigger())
    assert events == [{
        "status": "failed", "kind": "TrainingJob", "name": "job-1", "resource_status": "Failed",
        "failure_reason": "AlgorithmError: ExecuteUserScriptError",
        "message": "TrainingJob 'job-1' ended in status Failed: AlgorithmError: ExecuteUserScriptError",
        "log_lines": 0,
    }]
    trigger_client.assert_done()


def test_a_stopped_transform_job_is_a_failure_not_a_success(trigger_client):
    trigger_client.sagemaker.add_response("describe_transform_job", transform_job("tj-1", "Stopped"))
    (event,) = run_trigger(make_trigger(kind="TransformJob", name="tj-1"))
    assert (event["status"], event["resource_status"]) == ("failed", "Stopped")


def test_success_event_after_streaming_the_training_log(trigger_client, capfd):
    stream = "job-1/algo-1-1"
    trigger_client.sagemaker.add_response("describe_training_job", training_job("job-1", "InProgress"))
    for tokens, lines in (((None, "a"), ["starting"]), (("a", "b"), ["epoch 1", "epoch 2"])):
        trigger_client.logs.add_response("describe_log_streams", {"logStreams": [{"logStreamName": stream}]})
        trigger_client.logs.add_response("get_log_events", {
            "events": [{"timestamp": i, "message": m} for i, m in enumerate(lines)], "nextForwardToken": tokens[1]})
        trigger_client.logs.add_response("get_log_events", {"events": [], "nextForwardToken": tokens[1]})
        if tokens[0] is None:
            trigger_client.sagemaker.add_response("describe_training_job", training_job("job-1"))
    (event,) = run_trigger(make_trigger(stream_logs=True))
    assert event["status"] == "success" and event["resource_status"] == "Completed"
    assert event["log_lines"] == 3  # the operator skips them when it resumes
    output = capfd.readouterr().out  # the trigger's log, which Airflow puts in the task log
    positions = [output.index(line) for line in ("starting", "epoch 1", "epoch 2", "TrainingJob job-1 is Completed")]
    assert positions == sorted(positions)
    trigger_client.assert_done()


def test_log_errors_do_not_fail_the_wait(trigger_client):
    trigger_client.sagemaker.add_response("describe_training_job", training_job("job-1"))
    trigger_client.logs.add_client_error("describe_log_streams", service_error_code="AccessDeniedException")
    (event,) = run_trigger(make_trigger(stream_logs=True))
    assert event["status"] == "success"


def test_the_deadline_ends_the_wait_with_a_timeout_event(trigger_client):
    trigger_client.sagemaker.add_response("describe_endpoint", endpoint("ep", "Creating"))
    (event,) = run_trigger(make_trigger(kind="Endpoint", name="ep", deadline=time.time() - 1))
    assert (event["status"], event["resource_status"], event["name"]) == ("timeout", "Creating", "ep")


def test_an_api_error_ends_the_wait_with_an_error_event(trigger_client):
    trigger_client.sagemaker.add_client_error("describe_training_job", service_error_code="AccessDeniedException",
                                              service_message="not allowed")
    (event,) = run_trigger(make_trigger())
    assert event["status"] == "error" and "AccessDeniedException" in event["message"]


def test_throttling_is_not_an_error(trigger_client):
    trigger_client.sagemaker.add_client_error("describe_training_job", service_error_code="ThrottlingException")
    trigger_client.sagemaker.add_response("describe_training_job", training_job("job-1"))
    (event,) = run_trigger(make_trigger())
    assert event["status"] == "success"


def test_a_rolled_back_endpoint_update_is_a_failure(trigger_client):
    trigger_client.sagemaker.add_response("describe_endpoint", endpoint("live", "Updating", "old"))
    trigger_client.sagemaker.add_response("describe_endpoint", endpoint("live", "InService", "old",
                                                                        FailureReason="health check failed"))
    (event,) = run_trigger(make_trigger(kind="Endpoint", name="live", expected_endpoint_config="new"))
    assert (event["status"], event["resource_status"], event["failure_reason"]) == \
        ("failed", "UpdateRolledBack", "health check failed")


def test_the_trigger_does_not_block_the_event_loop(trigger_client, monkeypatch):
    """Describe calls take 0.3 s each (a slow API) and run in threads: the loop keeps ticking."""
    answers = iter([training_job("job-1", "InProgress"), training_job("job-1", "InProgress"), training_job("job-1")])
    loop_threads: set[int] = set()

    def slow_describe(client, kind, name):
        loop_threads.add(threading.get_ident())
        time.sleep(0.3)
        return next(answers)

    monkeypatch.setattr("smflow.client.SageMakerClient.describe", slow_describe)

    async def main():
        ticks = 0
        done = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        ticking = asyncio.create_task(ticker())
        events = [event.payload async for event in make_trigger().run()]
        done.set()
        await ticking
        return events, ticks, threading.get_ident()

    events, ticks, loop_thread = asyncio.run(main())
    assert events[0]["status"] == "success"
    assert ticks >= 30, f"the event loop ran only {ticks} times in ~0.9 s of describe calls"
    assert loop_thread not in loop_threads  # every describe ran in a worker thread


def test_the_set_up_runs_off_the_event_loop(monkeypatch):
    """Importing smflow.aio (boto3), reading the connection, building the client, its boto3 clients
    and the log tail all block: each must run in a worker thread, never on the loop's thread.

    The real hook, client and LogTail are built (from an ``aws`` connection with endpoint_url);
    only the network calls (Describe*, the log reads) are replaced, and every blocking step
    records the thread it ran on."""
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_TRIGGER", connection_uri(STUB_ENDPOINT))
    threads: dict[str, set[int]] = defaultdict(set)

    def recording(step: str, original):
        def wrapper(*args, **kwargs):
            threads[step].add(threading.get_ident())
            return original(*args, **kwargs)
        return wrapper

    class ImportRecorder:  # sees `import smflow.aio` (a cold import in the triggerer)
        def find_spec(self, name, path=None, target=None):
            if name == "smflow.aio":
                threads["import smflow.aio"].add(threading.get_ident())
            return None

    monkeypatch.delitem(sys.modules, "smflow.aio", raising=False)
    monkeypatch.delattr(smflow, "aio", raising=False)
    monkeypatch.setattr(sys, "meta_path", [ImportRecorder(), *sys.meta_path])
    monkeypatch.setattr(SageMakerClientHook, "get_client", recording("hook", SageMakerClientHook.get_client))
    monkeypatch.setattr(SageMakerClient, "__init__", recording("client", SageMakerClient.__init__))
    monkeypatch.setattr(SageMakerClient, "_client", recording("boto3 client", SageMakerClient._client))
    monkeypatch.setattr(LogTail, "__init__", recording("log tail", LogTail.__init__))
    monkeypatch.setattr(LogTail, "poll", recording("log poll", lambda self: 0))
    monkeypatch.setattr(SageMakerClient, "describe",
                        recording("describe", lambda self, kind, name: training_job(name)))

    async def main():
        trigger = make_trigger(aws_conn_id="smflow_trigger", stream_logs=True)
        events = [event.payload async for event in trigger.run()]
        return events, threading.get_ident()

    events, loop_thread = asyncio.run(main())
    assert events[0]["status"] == "success", events
    steps = {"import smflow.aio", "hook", "client", "boto3 client", "log tail", "log poll", "describe"}
    assert steps <= set(threads), f"not exercised: {steps - set(threads)}"
    on_the_loop = sorted(step for step, idents in threads.items() if loop_thread in idents)
    assert on_the_loop == [], f"ran on the event loop's thread: {on_the_loop}"


def test_verify_and_botocore_config_reach_the_triggers_client(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SMFLOW_TRIGGER", connection_uri(STUB_ENDPOINT))
    trigger = make_trigger(aws_conn_id="smflow_trigger", verify=False, botocore_config={"read_timeout": 901})
    client = trigger._make_client()
    assert client.sagemaker.meta.config.read_timeout == 901
    assert client.sagemaker._endpoint.http_session._verify is False


@pytest.mark.parametrize("kind, stop_call, name_key", [
    ("TrainingJob", "stop_training_job", "TrainingJobName"),
    ("TransformJob", "stop_transform_job", "TransformJobName"),
])
def test_on_kill_stops_the_job_only_when_the_task_owns_it(trigger_client, kind, stop_call, name_key):
    asyncio.run(make_trigger(kind=kind, stop_on_kill=False).on_kill())
    trigger_client.assert_done()  # a sensor's trigger leaves the job alone
    trigger_client.sagemaker.add_response(stop_call, {}, {name_key: "job-1"})
    asyncio.run(make_trigger(kind=kind, stop_on_kill=True).on_kill())
    trigger_client.assert_done()
