"""What the built-in algorithm images' framework modules (``frameworks/kmeans.py``,
``frameworks/pca.py``, ``frameworks/linear_learner.py``) share: the ``train`` command that runs
the emulation, and a model server that answers without a user script."""

from __future__ import annotations

from pathlib import Path

import smflow
from smflow.local.containers.serving.handlers import ServingDefaults, ServingError

TRAIN_MODULE = "smflow.local.containers.algorithms.train"


def training_command(algorithm: str, own_interpreter: bool = True) -> list[str]:
    """The arguments after the environment's python that train ``algorithm``. In the runtime's
    own interpreter the job's python gets this smflow first on its path (as model servers get
    it), so that the job runs the runtime's code; a built environment has smflow on its path."""
    if not own_interpreter:
        return ["-m", TRAIN_MODULE, algorithm]
    root = str(Path(smflow.__file__).resolve().parent.parent)
    bootstrap = (
        f"import sys; sys.path.insert(0, {root!r}); "
        f"from {TRAIN_MODULE} import main; sys.exit(main())"
    )
    return ["-c", bootstrap, algorithm]


def _no_script(*_args):
    raise ServingError(500, "the algorithm's model server answers every request itself")


def serving_defaults(algorithm: str) -> ServingDefaults:
    """A model server for ``algorithm`` that ignores any entry point (AWS's algorithm containers
    run no user code) and answers as :mod:`smflow.local.containers.algorithms.serving` says."""

    def load_handlers(model_dir: str, code_dir: str, program: str | None):
        from smflow.local.containers import algorithms
        from smflow.local.containers.algorithms.serving import make_handlers

        return make_handlers(algorithms.get(algorithm), model_dir)

    return ServingDefaults(
        input_fn=_no_script, predict_fn=_no_script, output_fn=_no_script,
        missing_model_fn="", load_handlers=load_handlers,
    )
