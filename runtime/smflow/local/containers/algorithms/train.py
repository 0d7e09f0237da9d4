"""The training entry point of the built-in algorithm images, run locally.

``python -m smflow.local.containers.algorithms.train <algorithm>`` in the job's folder
(``SAGEMAKER_BASE_DIR``, the local ``/opt/ml``), as AWS's algorithm containers run ``train``:

1. ``input/config/hyperparameters.json`` is checked (:mod:`.hyperparameters`);
2. the channels of ``input/config/inputdataconfig.json`` are checked (``train`` is required;
   each algorithm names the others it takes) and read (:mod:`.data`);
3. the algorithm fits and writes its model files into ``model/`` (packed into ``model.tar.gz``
   by the runtime); progress and metrics go to stdout (the job's log stream).

A problem with the job's input (hyperparameters, channels, data) exits with status 2 after
writing ``ClientError: <reason>`` to ``output/failure`` (the job's FailureReason, as AWS's
algorithms report customer errors); any other error exits 1 with ``AlgorithmError: ...``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from pathlib import Path

from smflow.local.containers.algorithms.hyperparameters import AMAZON_STYLE, CustomerError, validate

EXIT_CUSTOMER_ERROR = 2


def _log(message: str) -> None:
    print(message, flush=True)


def run(algorithm_name: str, base_dir: Path) -> None:
    """Train ``algorithm_name`` in ``base_dir``. Raises CustomerError for bad input."""
    from smflow.local.containers import algorithms
    from smflow.local.containers.algorithms import data

    algorithm = algorithms.get(algorithm_name)
    config = base_dir / "input" / "config"
    hyperparameters_path = config / "hyperparameters.json"
    raw = json.loads(hyperparameters_path.read_text(encoding="utf-8")) if hyperparameters_path.is_file() else {}
    hp = validate(raw, algorithm.PARAMS, getattr(algorithm, "STYLE", AMAZON_STYLE))
    if hasattr(algorithm, "check"):
        algorithm.check(hp)
    for name in hp.without_effect:
        _log(f"[smflow] hyperparameter {name}={raw[name]!r} is accepted but has no effect in the local emulation")
    _log(f"Running {algorithm.TITLE} with hyperparameters {json.dumps({k: raw[k] for k in sorted(raw)})}")

    channels = data.job_channels(base_dir, algorithm.DEFAULT_CONTENT_TYPE)
    allowed = ("train",) + tuple(algorithm.OTHER_CHANNELS)
    unexpected = sorted(name for name in channels if name not in allowed)
    if "train" not in channels or unexpected:
        problem = ("the channel 'train' is required" if "train" not in channels
                   else f"channel(s) {', '.join(repr(n) for n in unexpected)} not allowed")
        raise CustomerError(
            f"Unable to initialize the algorithm. Failed to validate input data configuration: {problem} "
            f"({algorithm.TITLE} takes {', '.join(repr(n) for n in allowed)}) (caused by ValidationError)"
        )
    datasets = {}
    for name, channel in channels.items():
        dataset = data.read_channel(channel, allowed=algorithm.CONTENT_TYPES,
                                    supervised=algorithm.SUPERVISED,
                                    algorithm=algorithm.TITLE)
        feature_dim = hp.values.get("feature_dim")
        data.check_feature_dim(dataset, feature_dim, name)
        if name != "train" and "train" in datasets:
            width = datasets["train"].features.shape[1]
            if dataset.features.shape[1] != width and not dataset.sparse:
                raise CustomerError(
                    f"Channel {name!r} has {dataset.features.shape[1]} features but 'train' has {width}"
                )
        datasets[name] = dataset
        _log(f"Channel {name!r}: {dataset.rows} records, {dataset.features.shape[1]} features")
    other = datasets.get(algorithm.OTHER_CHANNELS[0]) if algorithm.OTHER_CHANNELS else None
    files = algorithm.train(datasets["train"], other, hp, _log)
    model_dir = base_dir / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (model_dir / name).write_bytes(content)
    _log(f"Model saved: {', '.join(sorted(files))}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m smflow.local.containers.algorithms.train <algorithm>", file=sys.stderr)
        return 64
    base_dir = Path(os.environ.get("SAGEMAKER_BASE_DIR") or "/opt/ml")
    failure = base_dir / "output" / "failure"
    try:
        run(args[0], base_dir)
        return 0
    except CustomerError as error:
        message = f"ClientError: {error}"
        code = EXIT_CUSTOMER_ERROR
    except Exception as error:  # noqa: BLE001 - reported as the job's FailureReason
        traceback.print_exc()
        message = f"AlgorithmError: {type(error).__name__}: {error}"
        code = 1
    print(message, file=sys.stderr, flush=True)
    failure.parent.mkdir(parents=True, exist_ok=True)
    failure.write_text(message, encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(main())
