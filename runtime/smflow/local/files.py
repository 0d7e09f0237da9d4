"""Transitional alias of :mod:`smflow.local.support.files` for tests/local/test_api.py; remove
once it imports the new path."""

from smflow.local.support.files import make_tar_gz  # noqa: F401
