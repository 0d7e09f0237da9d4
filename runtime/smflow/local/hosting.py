"""Transitional alias of :mod:`smflow.local.executors.hosting` for the modules that still import
this path (services/sagemaker/backend.py, tests/local/conftest.py); remove once they import the
new one."""

from smflow.local.executors.hosting import (  # noqa: F401
    FORK_SERVER,
    Deployment,
    InvocationResult,
    ModelServerError,
    warm_up_model_servers,
)
