"""LogTail: incremental reads of a training job's CloudWatch streams, against stubbed logs API
responses."""

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from smflow.logs import TRAINING_LOG_GROUP, LogTail


@pytest.fixture
def logs(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("logs", region_name="us-east-1")


def read(stream, token=None):
    params = {"logGroupName": TRAINING_LOG_GROUP, "logStreamName": stream, "startFromHead": True}
    if token:
        params["nextToken"] = token
    return params


def test_lines_read_before_a_throttled_call_are_emitted_once(logs):
    lines = []
    tail = LogTail(logs, "j", lines.append)
    streams = {"logStreams": [{"logStreamName": "j/algo-1-1"}, {"logStreamName": "j/algo-2-1"}]}
    with Stubber(logs) as stub:
        stub.add_response("describe_log_streams", streams)
        stub.add_response("get_log_events", {"events": [{"timestamp": 1, "message": "one\n"}],
                                             "nextForwardToken": "a1"}, read("j/algo-1-1"))
        stub.add_client_error("get_log_events", service_error_code="ThrottlingException",
                              service_message="Rate exceeded", expected_params=read("j/algo-1-1", "a1"))
        with pytest.raises(ClientError, match="Throttling"):
            tail.poll()
        assert lines == ["one"]  # emitted despite the error
        stub.add_response("describe_log_streams", streams)
        stub.add_response("get_log_events", {"events": [{"timestamp": 2, "message": "two"}],
                                             "nextForwardToken": "a2"}, read("j/algo-1-1", "a1"))
        stub.add_response("get_log_events", {"events": [], "nextForwardToken": "a2"}, read("j/algo-1-1", "a2"))
        stub.add_response("get_log_events", {"events": [{"timestamp": 3, "message": "three"}],
                                             "nextForwardToken": "b1"}, read("j/algo-2-1"))
        stub.add_response("get_log_events", {"events": [], "nextForwardToken": "b1"}, read("j/algo-2-1", "b1"))
        assert tail.poll() == 2
        stub.assert_no_pending_responses()
    assert lines == ["one", "two", "three"] and tail.lines_emitted == 3


def test_a_missing_log_group_is_not_an_error(logs):
    tail = LogTail(logs, "j", lambda line: None)
    with Stubber(logs) as stub:
        stub.add_client_error("describe_log_streams", service_error_code="ResourceNotFoundException",
                              service_message="The specified log group does not exist.")
        assert tail.poll() == 0
