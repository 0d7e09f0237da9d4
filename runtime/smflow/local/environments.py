"""Transitional alias of :mod:`smflow.local.containers.environments` for backend.py and
tests/unit/test_image_uris.py; remove once they import the new path."""

from smflow.local.containers.environments import UnsupportedImageError, resolve_environment  # noqa: F401
