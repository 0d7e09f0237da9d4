"""Which local environment runs a container image.

SageMaker decides what runs from the image URI. Locally, any region's ``sagemaker-scikit-learn``
repository, named by tag or by digest (``@sha256:<64 hex>``), maps to the local scikit-learn
environment: this Python interpreter, which has what AWS's scikit-learn image gives scripts
(scikit-learn, numpy, scipy, pandas, joblib) and AWS's ``sagemaker-training`` toolkit. Any other image is refused with a reason that says so.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from smflow.image_uris import SKLEARN_REPOSITORY, parse_image_uri


class UnsupportedImageError(Exception):
    """The image cannot run locally. ``str(error)`` is a FailureReason fit for users."""


@dataclass(frozen=True)
class LocalEnvironment:
    name: str
    python: str
    framework_version: str | None


def resolve_environment(image_uri: str) -> LocalEnvironment:
    """Map an image URI to a local environment.

    Raises:
        UnsupportedImageError: the image is not a SageMaker scikit-learn image.
    """
    ref = parse_image_uri(image_uri)
    if ref is None or not ref.is_sklearn:
        raise UnsupportedImageError(
            f"Image {image_uri!r} cannot run on the smflow local runtime: only SageMaker "
            f"scikit-learn images (<account>.dkr.ecr.<region>.amazonaws.com/{SKLEARN_REPOSITORY}:"
            "<version>-cpu-py3, or ...@sha256:<digest>) are supported locally."
        )
    return LocalEnvironment(name="sklearn", python=sys.executable, framework_version=ref.framework_version)
