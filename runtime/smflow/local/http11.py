"""Transitional alias of :mod:`smflow.local.support.http11` for services/runtime/handler.py;
remove once it imports the new path."""

from smflow.local.support.http11 import parse_request  # noqa: F401
