"""Chainer on the local runtime beside Chainer run directly: the Iris network of
``dags/scripts/chainer_iris.py`` (the flows' script: saved with ``chainer.serializers.save_npz``,
served by its required ``model_fn``, its ``predict_fn`` and the Chainer container's default
``input_fn`` / ``output_fn``) trained, deployed and invoked with 100-row CSV payloads, in the Chainer
environment (chainer 7.8.1).

Usage: ``python bench/frameworks/chainer.py [--quick] [--runs N] [--skip-cold]``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from _harness import REPO, FrameworkCase, run

SOURCE_DIR = REPO / "dags" / "scripts"
# 100 rows of the four Iris measurements (cm); literal, so that the environment's python, which has
# no scikit-learn, builds the same payload when the harness runs this module there.
_ROWS = ((5.1, 3.5, 1.4, 0.2), (4.9, 3.0, 1.4, 0.2), (7.0, 3.2, 4.7, 1.4), (6.4, 3.2, 4.5, 1.5),
         (6.3, 3.3, 6.0, 2.5), (5.8, 2.7, 5.1, 1.9), (5.7, 2.8, 4.1, 1.3), (6.5, 3.0, 5.2, 2.0))
PAYLOAD = "".join(",".join(f"{value:g}" for value in _ROWS[index % len(_ROWS)]) + "\n" for index in range(100)).encode()


def make_data(folder: Path) -> None:
    """Iris as the blog's CSV: the label in the first column, no header (runtime's python)."""
    from smflow.examples import iris

    iris.write_training_csv(folder / "iris.csv")


def load(model_dir: str):
    """The script's own loading (``load_npz`` into its network), in the environment's python."""
    sys.path.insert(0, str(SOURCE_DIR))
    import chainer_iris

    return chainer_iris.model_fn(model_dir)


def predict(model, payload: bytes):
    import chainer
    import numpy as np

    rows = np.loadtxt(io.BytesIO(payload), delimiter=",", ndmin=2).astype(np.float32)
    with chainer.using_config("train", False), chainer.no_backprop_mode():
        return model(rows).array.argmax(axis=1)


CASE = FrameworkCase(
    name="chainer", framework="chainer", framework_version="5.0.0", py_version="py3",
    source_dir=SOURCE_DIR, entry_point="chainer_iris.py", make_data=make_data,
    hyperparameters={"epochs": 100, "lr": 0.05}, payload=PAYLOAD, content_type="text/csv",
    accept="application/json", load=load, predict=predict,
    check_answer=lambda body: body.count(b",") == 99,
)

if __name__ == "__main__":
    raise SystemExit(run(CASE))
