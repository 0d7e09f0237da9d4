"""What the operator tests share: a fast check interval, a raw CreateTrainingJob request with
Jinja templates (and as rendered), the job name a task run derives."""

from __future__ import annotations

import json

from smflow import naming

from ..conftest import RUN_ID
from ..responses import IMAGE

FAST = {"check_interval": 0.01}
CONFIG = {
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": "{{ params.instances }}",
                       "VolumeSizeInGB": "{{ params.volume }}"},
    "StoppingCondition": {"MaxRuntimeInSeconds": "{{ params.max_run }}"},
}
RENDERED_CONFIG = {
    "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://test-bucket/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}
PARAMS = {"instances": 1, "volume": 30, "max_run": 3600}


def stable(task_base: str, task_id: str) -> str:
    """The job name a task run derives: ``<base>-<sha1(dag.task.run)[:10]>``."""
    return naming.stable_name(task_base, f"test_dag.{task_id}.{RUN_ID}")


def assert_json_small(value: dict) -> None:
    text = json.dumps(value)  # raises for datetimes, numpy arrays, bytes
    assert len(text) < 4000
