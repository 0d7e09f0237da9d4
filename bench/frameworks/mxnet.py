"""MXNet on the local runtime beside MXNet run directly: the Iris Gluon script of the framework
flow (``dags/scripts/mxnet_iris.py``, 100 full-batch epochs) trained in the MXNet 1.9
environment, deployed (its ``model_fn``; the MXNet model server's default JSON ``input_fn``, the
script's ``predict_fn``) and invoked with 100-row JSON payloads. The in-process baseline decodes
the same JSON and runs the net on it, as the model server does, its threads taking turns in
MXNet (which is not thread-safe), as the model server's requests do.

Usage: ``python bench/frameworks/mxnet.py [--quick] [--runs N] [--skip-cold]``.
"""

from __future__ import annotations

import json
import random
import sys
import threading
from pathlib import Path

from _harness import REPO, FrameworkCase, run

SOURCE_DIR = REPO / "dags" / "scripts"


def make_data(folder: Path) -> None:
    """The blog's ``iris.csv`` (label first, no header), made by scikit-learn."""
    from smflow.examples import iris

    iris.write_training_csv(folder / "iris.csv")


def load(model_dir: str):
    sys.path.insert(0, str(SOURCE_DIR))
    import mxnet_iris

    return mxnet_iris.model_fn(model_dir)


# MXNet is not thread-safe (its "Multi Threaded Inference" guide): the harness's 8 threads take
# turns, as the model server's requests do (a Module's executor answers other threads' rows).
_MXNET = threading.Lock()


def predict(net, payload: bytes):
    import mxnet as mx

    rows = json.loads(payload)
    with _MXNET:
        return net(mx.nd.array(rows)).argmax(axis=1).asnumpy()


def _payload() -> bytes:
    """100 rows of four measurements in Iris's ranges (the standard library makes them, so that
    the environment's python, which has no scikit-learn, builds the same bytes)."""
    generator = random.Random(0)
    ranges = ((4.3, 7.9), (2.0, 4.4), (1.0, 6.9), (0.1, 2.5))
    rows = [[round(generator.uniform(low, high), 1) for low, high in ranges] for _ in range(100)]
    return json.dumps(rows).encode()


def _answers_every_row(body: bytes) -> bool:
    classes = json.loads(body)
    return len(classes) == 100 and set(classes) <= {0.0, 1.0, 2.0}


CASE = FrameworkCase(
    name="mxnet", framework="mxnet", framework_version="1.9.0", py_version="py38",
    source_dir=SOURCE_DIR, entry_point="mxnet_iris.py", make_data=make_data,
    hyperparameters={"epochs": 100, "lr": 0.05}, payload=_payload(), content_type="application/json",
    accept="application/json", load=load, predict=predict, check_answer=_answers_every_row,
)

if __name__ == "__main__":
    raise SystemExit(run(CASE))
