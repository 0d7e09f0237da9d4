"""TensorFlow on the local runtime beside TensorFlow run directly: the Keras Iris script of the
framework DAG (``dags/scripts/tensorflow_iris.py``, SavedModel export to ``SM_MODEL_DIR/1``)
trained, deployed (TensorFlow Serving's contract) and invoked with TensorFlow Serving JSON
payloads of 10 rows; the direct baseline loads the SavedModel with ``tf.saved_model.load`` and
calls its ``serving_default`` signature. TensorFlow's model servers are fresh processes (not
forked: TensorFlow is not fork-safe), so the first answer includes importing TensorFlow.

Usage: ``python bench/frameworks/tensorflow.py [--quick] [--runs N] [--skip-cold]`` (the cold
build installs about 1.7 GB).
"""

from __future__ import annotations

import json
from pathlib import Path

from _harness import REPO, FrameworkCase, run

SOURCE_DIR = REPO / "dags" / "scripts"
ROWS = 10


def make_data(folder: Path) -> None:
    """Iris as the script reads it: the label in the first column, no header."""
    from sklearn.datasets import load_iris

    data = load_iris()
    rows = [",".join([str(label), *(f"{value:g}" for value in features)])
            for features, label in zip(data.data, data.target, strict=True)]
    (folder / "iris.csv").write_text("\n".join(rows) + "\n")


def load(model_dir: str):
    """The highest version's SavedModel under ``model_dir`` and its serving signature."""
    import tensorflow as tf

    versions = sorted((path for path in Path(model_dir).iterdir() if path.name.isdigit()), key=lambda p: int(p.name))
    function = tf.saved_model.load(str(versions[-1])).signatures["serving_default"]
    return function, next(iter(function.structured_input_signature[1]))


def predict(model, payload: bytes):
    import tensorflow as tf

    function, name = model
    rows = json.loads(payload)["instances"]
    return function(**{name: tf.constant(rows, dtype=tf.float32)})


# Ten rows of scikit-learn's Iris (every 15th), written out: the module is also imported by the
# environment's python, which has no scikit-learn.
IRIS_ROWS = [
    [5.1, 3.5, 1.4, 0.2], [5.7, 3.8, 1.7, 0.3], [4.8, 3.1, 1.6, 0.2], [5.0, 3.2, 1.2, 0.2],
    [7.0, 3.2, 4.7, 1.4], [5.6, 2.9, 3.6, 1.3], [6.0, 2.9, 4.5, 1.5], [5.7, 2.6, 3.5, 1.0],
    [6.3, 3.3, 6.0, 2.5], [6.4, 2.7, 5.3, 1.9],
]


CASE = FrameworkCase(
    name="tensorflow", framework="tensorflow", framework_version="2.19", py_version="py312",
    source_dir=SOURCE_DIR, entry_point="tensorflow_iris.py", make_data=make_data,
    hyperparameters={"epochs": 100, "lr": 0.05}, payload=json.dumps({"instances": IRIS_ROWS}).encode(), content_type="application/json",
    accept="application/json", load=load, predict=predict,
    check_answer=lambda body: len(json.loads(body)["predictions"]) == ROWS,
)

if __name__ == "__main__":
    raise SystemExit(run(CASE))
