"""Shared arguments of the per-framework tests."""

from __future__ import annotations

import json

JOB = "job-2026-12-06-21-00-00-000"
SCRIPT = {"program": "train.py", "submit_directory": f"s3://bucket/{JOB}/source/sourcedir.tar.gz",
          "region": "us-east-1", "job_name": JOB}


def decoded(hyperparameters: dict[str, str]) -> dict:
    """The HyperParameters as the training toolkit decodes them (each value JSON)."""
    return {key: json.loads(value) for key, value in hyperparameters.items()}


def training(framework, **overrides) -> dict:
    """validate_training's keyword arguments, with overrides."""
    return {"framework_version": None, "py_version": None, "instance_type": "ml.m5.xlarge", "instance_count": 1,
            "distribution": None, "framework_options": None, **overrides}
