"""Transitional alias of :mod:`smflow.local.executors.transform` for services/sagemaker/backend.py;
remove once it imports the new path."""

from smflow.local.executors.transform import TransformRun  # noqa: F401
