"""Transitional alias of :mod:`smflow.local.executors.training` for services/sagemaker/backend.py;
remove once it imports the new path."""

from smflow.local.executors.training import TrainingRun  # noqa: F401
