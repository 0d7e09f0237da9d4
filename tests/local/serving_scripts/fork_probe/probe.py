"""Answers with what its model-server process sees: ids, parent, directory, sys.path, the
environment, NumPy's first random draw, modules loaded at start; and predictions when the
model dir holds a model.joblib.

Request body (JSON): ``{"features": [[...], ...]}`` to predict, ``{"import": ["name", ...]}``
to import modules and report where they came from, ``{"sleep": seconds}`` to hold the request.
The answer's ``max_in_flight`` is the most requests this process has computed at once.
"""

import importlib
import json
import os
import sys
import threading
import time

import numpy as np

_lock = threading.Lock()
_in_flight = 0
_max_in_flight = 0


def model_fn(model_dir):
    path = os.path.join(model_dir, "model.joblib")
    model = None
    if os.path.isfile(path):
        import joblib

        model = joblib.load(path)
    return {"model": model, "first_random": float(np.random.random())}


def _enter():
    global _in_flight, _max_in_flight
    with _lock:
        _in_flight += 1
        _max_in_flight = max(_max_in_flight, _in_flight)


def _leave():
    global _in_flight
    with _lock:
        _in_flight -= 1


def transform_fn(model, request_body, content_type, accept):
    request = json.loads(request_body or "{}")
    _enter()
    try:
        time.sleep(float(request.get("sleep", 0)))
    finally:
        _leave()
    sitecustomize = sys.modules.get("sitecustomize")
    answer = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "cwd": os.getcwd(),
        "sys_path": list(sys.path),
        "environ": dict(os.environ),
        "first_random": model["first_random"],
        "max_in_flight": _max_in_flight,
        "sitecustomize": getattr(sitecustomize, "__file__", None),
        "imported": {},
    }
    if "features" in request:
        answer["predictions"] = model["model"].predict(np.array(request["features"])).tolist()
    for name in request.get("import", []):
        module = importlib.import_module(name)
        answer["imported"][name] = {
            "file": getattr(module, "__file__", None),
            "shadow": bool(getattr(module, "SMFLOW_TEST_SHADOW", False)),
        }
    return json.dumps(answer), "application/json"
