"""smflow: the Amazon SageMaker model lifecycle from Airflow and Prefect, and locally.

The public entry point is :class:`smflow.client.SageMakerClient` (re-exported here lazily so
that importing :mod:`smflow` stays cheap for DAG parsing).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["SageMakerClient", "__version__"]


def __getattr__(name: str):  # PEP 562: keep `import smflow` free of boto3 imports
    if name == "SageMakerClient":
        from smflow.client import SageMakerClient

        return SageMakerClient
    raise AttributeError(f"module 'smflow' has no attribute {name!r}")
