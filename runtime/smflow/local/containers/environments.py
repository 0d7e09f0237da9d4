"""Which local environment runs a container image.

SageMaker decides what runs from the image URI. Locally, the framework modules
(:mod:`smflow.local.containers.frameworks`) each claim ECR repositories, named by tag or by
digest (``@sha256:<64 hex>``) in any region, and say which interpreter runs them and which version
the tag names. Any other image is refused with a reason that lists the images that run locally.
"""

from __future__ import annotations

from dataclasses import dataclass

from smflow.image_uris import parse_image_uri
from smflow.local.containers import frameworks


class UnsupportedImageError(Exception):
    """The image cannot run locally. ``str(error)`` is a FailureReason fit for users."""


@dataclass(frozen=True)
class LocalEnvironment:
    """``name``: the framework module's NAME; ``python``: the interpreter that runs the image;
    ``framework_version``: the version its tag names (None for an image named by digest)."""

    name: str
    python: str
    framework_version: str | None


def resolve_environment(image_uri: str) -> LocalEnvironment:
    """Map an image URI to a local environment.

    Raises:
        UnsupportedImageError: no framework module claims the image's repository.
    """
    ref = parse_image_uri(image_uri)
    framework = frameworks.for_repository(ref.repository) if ref is not None else None
    if framework is None:
        raise UnsupportedImageError(
            f"Image {image_uri!r} cannot run on the smflow local runtime: {supported_images()}"
        )
    framework_version = framework.version(ref.tag)
    return LocalEnvironment(name=framework.NAME, python=framework.python(framework_version),
                            framework_version=framework_version)


def supported_images() -> str:
    """A sentence naming the images that run locally, from the framework modules."""
    modules = frameworks.all_frameworks()
    names = " and ".join(module.DISPLAY_NAME for module in modules)
    forms = "; ".join(", or ".join(module.IMAGE_FORMS) for module in modules)
    return f"only SageMaker {names} images ({forms}) are supported locally."
