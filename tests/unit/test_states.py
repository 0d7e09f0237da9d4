import pytest

from smflow import states
from smflow.errors import ResourceFailedError


def job(status, reason=None):
    description = {"TrainingJobName": "j1", "TrainingJobStatus": status}
    if reason:
        description["FailureReason"] = reason
    return description


def test_completed_is_success_in_progress_is_running():
    assert states.TRAINING_JOB.check(job("Completed")) is states.Outcome.SUCCEEDED
    assert states.TRAINING_JOB.check(job("InProgress")) is states.Outcome.RUNNING
    assert states.TRAINING_JOB.check(job("Stopping")) is states.Outcome.RUNNING


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_and_stopped_raise_with_name_and_reason(status):
    with pytest.raises(ResourceFailedError) as info:
        states.TRAINING_JOB.check(job(status, "AlgorithmError: boom"))
    error = info.value
    assert (error.kind, error.name, error.status, error.failure_reason) == (
        "TrainingJob", "j1", status, "AlgorithmError: boom")
    assert "j1" in str(error) and "AlgorithmError: boom" in str(error)


def test_endpoint_states():
    endpoint = {"EndpointName": "e", "EndpointStatus": "InService", "EndpointConfigName": "c2"}
    assert states.ENDPOINT.check(endpoint) is states.Outcome.SUCCEEDED
    assert states.ENDPOINT.check({**endpoint, "EndpointStatus": "Updating"}) is states.Outcome.RUNNING
    with pytest.raises(ResourceFailedError, match="no model"):
        states.ENDPOINT.check({**endpoint, "EndpointStatus": "Failed", "FailureReason": "no model"})


def test_rolled_back_update_is_a_failure():
    endpoint = {"EndpointName": "e", "EndpointStatus": "InService", "EndpointConfigName": "old",
                "FailureReason": "model_fn raised"}
    with pytest.raises(ResourceFailedError, match="model_fn raised") as info:
        states.check_endpoint_update(endpoint, "new")
    assert info.value.status == "UpdateRolledBack"
    assert states.check_endpoint_update({**endpoint, "EndpointConfigName": "new"}, "new") is states.Outcome.SUCCEEDED


def test_unknown_status_is_an_error_not_a_hang():
    with pytest.raises(ResourceFailedError, match="unknown status"):
        states.TRANSFORM_JOB.check({"TransformJobName": "t", "TransformJobStatus": "Exploded"})


def test_of_kind_names_the_kinds_for_anything_else():
    assert states.of_kind("TrainingJob") is states.TRAINING_JOB
    assert states.of_kind("Endpoint") is states.ENDPOINT
    with pytest.raises(ValueError, match="kind must be one of TrainingJob, TransformJob, Endpoint, got 'Model'"):
        states.of_kind("Model")


def test_a_stop_without_failure_reason_says_why_from_the_secondary_status():
    description = {
        "TrainingJobName": "j1", "TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded",
        "SecondaryStatusTransitions": [
            {"Status": "Training", "StatusMessage": "Training image download completed. Training in progress."},
            {"Status": "MaxRuntimeExceeded",
             "StatusMessage": "Job stopped because it exceeded the MaxRuntimeInSeconds of 60"},
        ],
    }
    with pytest.raises(ResourceFailedError) as info:
        states.TRAINING_JOB.check(description)
    assert info.value.failure_reason == (
        "MaxRuntimeExceeded: Job stopped because it exceeded the MaxRuntimeInSeconds of 60")
    assert "MaxRuntimeExceeded" in str(info.value)


def test_failure_reason_fallbacks():
    assert states.failure_reason({"FailureReason": "OOM", "SecondaryStatus": "Failed"}) == "OOM"
    stopped = {"TrainingJobStatus": "Stopped", "SecondaryStatus": "Stopped"}
    assert states.failure_reason(stopped) is None  # no "Stopped: Stopped"
    assert states.failure_reason({**stopped, "SecondaryStatusTransitions": [
        {"Status": "Stopped", "StatusMessage": "Stopped by user"}]}) == "Stopped by user"
    assert states.failure_reason({"TransformJobStatus": "Failed"}) is None
