"""Answers with what serves it: the interpreter, the environment's packages, its parent process."""

import importlib.util
import json
import os
import sys


def model_fn(model_dir):
    return {"pid": os.getpid()}


def transform_fn(model, request_body, content_type, accept):
    import six

    with open(f"/proc/{os.getppid()}/cmdline", "rb") as handle:
        parent = [part.decode() for part in handle.read().split(b"\0") if part]
    answer = {"prefix": sys.prefix, "six": six.__version__, "moto": importlib.util.find_spec("moto") is not None,
              "parent": parent, "parent_pid": os.getppid(), "body": request_body.decode()
              if isinstance(request_body, bytes) else request_body}
    return json.dumps(answer), "application/json"
