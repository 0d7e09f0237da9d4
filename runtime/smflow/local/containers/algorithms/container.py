"""What the built-in algorithm images' framework modules (``frameworks/kmeans.py``,
``frameworks/pca.py``, ``frameworks/linear_learner.py``) share: the functions of the framework
module interface (each module binds them to its name with :func:`module_functions`), the
``train`` command that runs the emulation, and a model server that answers without a user
script."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import smflow
from smflow.local.containers.serving.handlers import ServingDefaults, ServingError

TRAIN_MODULE = "smflow.local.containers.algorithms.train"
# Environment variables NumPy's libraries read while they are imported (the fork server's check).
IMPORT_TIME_ENV_PREFIXES = ("OMP_", "OPENBLAS_", "GOTO", "MKL_", "BLIS_", "VECLIB_", "NPY_", "NUMPY_")
FORK_SAFE = True  # the emulation is NumPy: importing it starts no thread that a fork would break


def preloaded_modules(emulation: str) -> tuple[str, ...]:
    """What the fork server imports for the algorithm emulated by module ``emulation``."""
    return ("numpy", "smflow.local.containers.algorithms.serving", f"smflow.local.containers.algorithms.{emulation}")


def module_functions(algorithm: str) -> tuple[Callable, ...]:
    """``version, environment, python, training_command, serving_defaults`` of the framework
    module of ``algorithm`` (the framework module interface, :mod:`smflow.local.containers.frameworks`):
    AWS publishes one version of these images (tag ``1``); the runtime's own interpreter runs the
    emulation (it needs NumPy only); training runs the emulation instead of the training toolkit;
    the model server answers without an entry point, as AWS's container."""

    def version(tag: str | None) -> str | None:
        """The image tag (``"1"``), None for an image by digest."""
        return tag or None

    def environment(framework_version: str | None) -> None:
        """None: the runtime's own interpreter runs the emulation (every version)."""
        return None

    def python(framework_version: str | None) -> str:
        """The interpreter that runs the image: this one."""
        return sys.executable

    def algorithm_training_command(framework_version: str | None, hyperparameters: dict[str, str]) -> list[str]:
        """The emulation's ``train`` (the hyperparameters are read from hyperparameters.json)."""
        return training_command(algorithm)

    def algorithm_serving_defaults() -> ServingDefaults:
        """A model server that answers without an entry point, as AWS's container."""
        return serving_defaults(algorithm)

    return version, environment, python, algorithm_training_command, algorithm_serving_defaults


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
