"""Transitional: tests/local/test_api.py imports make_tar_gz from here; remove once it imports
it from :mod:`smflow.archives`."""

from smflow.archives import make_tar_gz  # noqa: F401
