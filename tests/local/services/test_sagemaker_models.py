"""The SageMaker state model on its own: each resource kind's transitions and answers, without a
server or a store."""

from __future__ import annotations

import pytest

from smflow.local.services.sagemaker.exceptions import ValidationException
from smflow.local.services.sagemaker.models import (
    PROCESS_FIELD,
    Endpoint,
    EndpointConfig,
    Model,
    TrainingJob,
    TransformJob,
)

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/job"


def training_job(**fields):
    request = {"TrainingJobName": "Job", "AlgorithmSpecification": {"TrainingImage": "img"},
               "ResourceConfig": {"InstanceCount": 1}, "Tags": [{"Key": "k", "Value": "v"}]}
    return {**TrainingJob.new(request, ARN, 100.0), **fields}


def test_a_new_training_job_starts_in_progress_with_the_defaults_and_without_tags():
    job = training_job()
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("InProgress", "Starting")
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400} and "Tags" not in job
    assert job["SecondaryStatusTransitions"][0]["StartTime"] == 100.0
    assert TrainingJob.summary(job) == {
        "TrainingJobName": "Job", "TrainingJobArn": ARN, "CreationTime": 100.0, "LastModifiedTime": 100.0,
        "TrainingJobStatus": "InProgress", "SecondaryStatus": "Starting"}


def test_job_progress_keeps_stopping_and_ignores_reports_after_the_end():
    assert TrainingJob.progress(training_job(TrainingJobStatus="Completed"), {"TrainingJobStatus": "Failed"}) is None
    merged = TrainingJob.progress(training_job(TrainingJobStatus="Stopping"),
                                  {"TrainingJobStatus": "InProgress", "SecondaryStatus": "Training"})
    assert "TrainingJobStatus" not in merged and merged["SecondaryStatus"] == "Training"
    assert "LastModifiedTime" in merged


def test_only_in_progress_jobs_are_stopped():
    assert TrainingJob.check_stoppable(training_job()) is True
    assert TrainingJob.check_stoppable(training_job(TrainingJobStatus="Stopping")) is False
    with pytest.raises(ValidationException, match="The training job Job is Completed and cannot be stopped"):
        TrainingJob.check_stoppable(training_job(TrainingJobStatus="Completed"))
    assert TrainingJob.stopped(5.0) == {"TrainingJobStatus": "Stopped", "SecondaryStatus": "Stopped",
                                        "TrainingEndTime": 5.0, "LastModifiedTime": 5.0}
    assert TransformJob.stopping(5.0) == {"TransformJobStatus": "Stopping", "LastModifiedTime": 5.0}


def test_an_interrupted_job_fails_with_the_reason_and_forgets_its_processes():
    job = training_job(**{PROCESS_FIELD: {"ProcessGroupId": 7, "StartTime": 1}})
    fields = TrainingJob.interrupted(job, now=200.0)
    assert fields["TrainingJobStatus"] == fields["SecondaryStatus"] == "Failed"
    assert "stopped while this training job was running (status InProgress)" in fields["FailureReason"]
    assert fields[PROCESS_FIELD] is None and fields["TrainingEndTime"] == 200.0
    assert [t["Status"] for t in fields["SecondaryStatusTransitions"]] == ["Starting", "Failed"]
    assert fields["SecondaryStatusTransitions"][0]["EndTime"] == 200.0
    assert TrainingJob.interrupted(training_job(TrainingJobStatus="Completed")) is None


def test_models_and_configs_are_checked_before_they_are_recorded():
    with pytest.raises(ValidationException, match="exactly one of PrimaryContainer or Containers"):
        Model.check({"ModelName": "m", "ExecutionRoleArn": "r"})
    with pytest.raises(ValidationException, match="data capture"):
        EndpointConfig.check({"DataCaptureConfig": {"EnableCapture": True}})
    checked = []
    variants = EndpointConfig.variants([{"VariantName": "a", "ModelName": "m"}], checked.append)
    assert variants == [{"InitialVariantWeight": 1.0, "VariantName": "a", "ModelName": "m"}] and checked == ["m"]
    with pytest.raises(ValidationException, match="used more than once"):
        EndpointConfig.variants([{"VariantName": "a", "ModelName": "m"}] * 2, checked.append)


def test_endpoint_transitions_and_private_fields():
    variants = [{"Variant": {"VariantName": "AllTraffic", "InitialInstanceCount": 2},
                 "Model": {"PrimaryContainer": {"Image": "img"}}}]
    record = {**Endpoint.new("Ep", "arn", "cfg", variants, 1.0), **Endpoint.updating("cfg-2", 2.0)}
    # private fields and cleared (None) members are not answered
    assert Endpoint.describe(record).keys() == record.keys() - {"_Variants", "_Tags", "FailureReason"}
    with pytest.raises(ValidationException, match="Cannot update in-progress endpoint"):
        Endpoint.check_updatable(record, serving=True)
    assert "updated to endpoint configuration cfg-2" in Endpoint.restart_note(record)
    served = Endpoint.in_service("cfg-2", variants, None, 3.0)
    assert served["ProductionVariants"][0]["DeployedImages"][0]["SpecifiedImage"] == "img"
    assert served["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert served["FailureReason"] is None and served["PendingDeploymentSummary"] is None
