"""Errors of the local SageMaker Runtime (InvokeEndpoint API reference, "Errors"), each carrying
its wire code and HTTP status; answered in the rest-json error shape by :mod:`.responses`."""

from __future__ import annotations

from smflow.local.services.sagemaker.exceptions import SageMakerError


class ValidationError(SageMakerError):
    """SageMaker Runtime: invalid request, or the endpoint does not exist or is not in service."""

    code = "ValidationError"
    status = 400


class ModelError(SageMakerError):
    """SageMaker Runtime: the model server answered an error (HTTP 424)."""

    code = "ModelError"
    status = 424
