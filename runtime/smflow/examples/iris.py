"""The Iris lifecycle of the seed blog post (seed 002), as data and as one function.

* ``write_training_csv``: scikit-learn's bundled Iris data set as CSV, label in the first column,
  formatted as the blog's ``np.savetxt(..., fmt='%1.1f, %1.3f, %1.3f, %1.3f, %1.3f')``.
* ``blog_test_rows``: the blog's 29 evaluation rows (rows 40-49 of each species, the last dropped).
* ``run_lifecycle``: upload -> train -> attach -> create model -> deploy -> predict -> batch
  transform -> delete endpoint, through :class:`smflow.client.SageMakerClient`.

The training and inference script is the one the Airflow DAGs ship,
``dags/scripts/scikit_learn_iris.py`` of an smflow checkout (one copy; it is not part of the
installed package): :func:`training_script` finds it, or takes its path.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from smflow.errors import ConfigurationError

SPECIES = ("setosa", "versicolor", "virginica")
SCRIPT_IN_CHECKOUT = Path("dags") / "scripts" / "scikit_learn_iris.py"
# The script in the checkout this module belongs to (an editable install); may not exist.
TRAINING_SCRIPT = Path(__file__).resolve().parents[3] / SCRIPT_IN_CHECKOUT
HYPERPARAMETERS = {"max_leaf_nodes": 30}


def training_script(path: str | Path | None = None) -> Path:
    """The Iris training and inference script: ``path`` when given, else
    ``dags/scripts/scikit_learn_iris.py`` of the checkout smflow is installed from (editable
    install), else of the current directory.

    Raises:
        ConfigurationError: ``path`` is not a file, or no checkout holds the script (smflow was
            installed from a wheel and the current directory is not an smflow checkout).
    """
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigurationError(
                f"training script {str(path)!r} is not a file; pass the path of "
                "dags/scripts/scikit_learn_iris.py of an smflow checkout"
            )
        return path
    for candidate in (TRAINING_SCRIPT, Path.cwd() / SCRIPT_IN_CHECKOUT):
        if candidate.is_file():
            return candidate
    raise ConfigurationError(
        f"the Iris training script {SCRIPT_IN_CHECKOUT} is not in the installed smflow package: "
        "run from the root of an smflow checkout, or pass the script's path (python -m smflow.demo "
        "--entry-point path/to/scikit_learn_iris.py; run_lifecycle(..., entry_point=...))"
    )


def iris_table() -> np.ndarray:
    """150 x 5 array: label (0, 1, 2) then the four measurements (cm)."""
    from sklearn import datasets

    iris = datasets.load_iris()
    return np.insert(iris.data, 0, iris.target, axis=1)


def write_training_csv(path: str | Path) -> Path:
    """Write the blog's ``iris.csv`` (no header, label first) and return its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, iris_table(), delimiter=",", fmt="%1.1f, %1.3f, %1.3f, %1.3f, %1.3f")
    return path


def blog_test_rows() -> tuple[np.ndarray, np.ndarray]:
    """The blog's evaluation set: ``(X, y)``, 29 rows of 4 features and their labels."""
    table = iris_table()
    indices = [i + j for i, j in itertools.product([50 * k for k in range(3)], [40 + k for k in range(10)])]
    rows = table[indices[:-1]]
    return rows[:, 1:], rows[:, 0]


def write_features_csv(path: str | Path, features: np.ndarray) -> Path:
    """Write features only (no label), one row per line: the batch transform input."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(path, features, delimiter=",", fmt="%1.3f")
    return path


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.asarray(predictions, dtype=float).reshape(-1) == labels))


def species_names(predictions: np.ndarray) -> list[str]:
    return [SPECIES[int(round(float(value)))] for value in np.asarray(predictions).reshape(-1)]


def run_lifecycle(
    client,
    *,
    prefix: str = "scikit-iris",
    say: Callable[[str], None] = print,
    entry_point: str | Path | None = None,
) -> dict:
    """Run the whole Iris lifecycle through ``client`` and return what it produced.

    ``entry_point``: the training script (default: :func:`training_script`). The endpoint is
    deleted even when a step after deploy fails.

    Returns: ``{"training_job", "model_data", "model", "endpoint", "accuracy", "species",
    "transform_output", "transform_head"}``.

    Raises:
        ConfigurationError: no training script (see :func:`training_script`), before any request.
    """
    from smflow import naming

    script = training_script(entry_point)
    result: dict = {}
    with tempfile.TemporaryDirectory(prefix="smflow-iris-") as scratch:
        scratch = Path(scratch)
        train_input = client.upload_data(
            write_training_csv(scratch / "data" / "iris.csv").parent, key_prefix=f"{prefix}/data"
        )
        say(f"Uploaded the Iris data set to {train_input}")

        job = client.train(
            entry_point=str(script),
            hyperparameters=HYPERPARAMETERS,
            inputs={"train": train_input},
            base_job_name="sagemaker-scikit-learn-iris",
        )
        attached = client.attach(job["TrainingJobName"])
        result["training_job"] = attached["TrainingJobName"]
        result["model_data"] = attached["ModelArtifacts"]["S3ModelArtifacts"]
        say(f"Attached to {attached['TrainingJobName']}: {attached['TrainingJobStatus']}, "
            f"model data {result['model_data']}")

        model = client.create_model(training_job_name=attached["TrainingJobName"])
        result["model"] = model["ModelName"]
        endpoint_name = naming.timestamped_name("iris-endpoint")
        try:
            endpoint = client.deploy(model_name=model["ModelName"], endpoint_name=endpoint_name)
            result["endpoint"] = endpoint["EndpointName"]
            say(f"Endpoint {endpoint_name} is {endpoint['EndpointStatus']}")

            test_X, test_y = blog_test_rows()
            predictions = client.predict(endpoint_name, test_X)
            result["accuracy"] = accuracy(predictions, test_y)
            result["species"] = species_names(predictions)
            say(f"Predicted {len(test_X)} rows, accuracy {result['accuracy']:.3f}")
            say("Species: " + ", ".join(result["species"]))

            batch_input = client.upload_data(
                write_features_csv(scratch / "batch" / "iris-features.csv", test_X).parent,
                key_prefix=f"{prefix}/batch-input",
            )
            transform = client.batch_transform(
                model_name=model["ModelName"], data=batch_input, content_type="text/csv",
                accept="text/csv", split_type="Line", instance_count=1,
            )
            output = transform["TransformOutput"]["S3OutputPath"].rstrip("/")
            result["transform_output"] = f"{output}/iris-features.csv.out"
            bucket, _, key = result["transform_output"][5:].partition("/")
            body = client.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            result["transform_head"] = body.splitlines()[:5]
            say(f"Batch transform output at {result['transform_output']}; first lines:")
            for line in result["transform_head"]:
                say(f"  {line}")
        finally:
            client.delete_endpoint(endpoint_name)
            say(f"Deleted endpoint {endpoint_name}")
    return result
