"""Transitional alias of :mod:`smflow.local.containers.environments` for
services/sagemaker/backend.py; remove once it imports the new path."""

from smflow.local.containers.environments import UnsupportedImageError  # noqa: F401
