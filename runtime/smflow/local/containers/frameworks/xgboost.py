"""XGBoost's local container contract: what AWS's SageMaker XGBoost image does, run locally.

The one image (``sagemaker-xgboost:<version>``, e.g. ``1.7-1``; the legacy built-in ``xgboost:1``)
is both a framework container and Amazon's built-in XGBoost algorithm
(aws/sagemaker-xgboost-container): with the hyperparameter ``sagemaker_program`` it runs the
user's script (script mode), otherwise the algorithm (:mod:`smflow.local.containers.algorithms.xgboost`).

- Environment: a virtual environment per version family with the xgboost release of the image
  (the nearest that installs on this Python, see :data:`RELEASES`) and the scientific packages
  AWS's image gives scripts (pinned in :data:`RELEASES`; NumPy below 2, as the image's), plus
  protobuf for RecordIO-protobuf.
- Training: script mode under AWS's training toolkit; algorithm mode with the emulation's
  ``train`` (:func:`training_command`).
- Model server: in script mode, the inference toolkit's contract with the container's defaults:
  ``model_fn`` loads the booster saved in the model directory (pickle or
  ``Booster.load_model``), ``input_fn`` reads ``text/csv``, ``text/libsvm`` and
  ``application/x-recordio-protobuf`` into an ``xgboost.DMatrix`` (other types answer 415: JSON
  needs the script's own input_fn), ``predict_fn`` calls ``model.predict(data,
  validate_features=False)``, ``output_fn`` writes JSON, CSV or NPY (406 otherwise). Without an
  entry point, the algorithm's answers (CSV, JSON, JSON Lines, RecordIO-protobuf).
- Model servers start as fresh processes: the xgboost library's OpenMP threads do not survive a
  fork.
"""

from __future__ import annotations

import os
import re

from smflow import codecs
from smflow.local.containers.serving.handlers import ServingDefaults, ServingError, encode_answer

NAME = "xgboost"
DISPLAY_NAME = "XGBoost"
REPOSITORIES = ("sagemaker-xgboost", "xgboost")
IMAGE_FORMS = (
    "<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-xgboost:<version> (e.g. 1.7-1)",
    "<account>.dkr.ecr.<region>.amazonaws.com/xgboost:1",
)
PRELOADED_MODULES = ("numpy", "xgboost")
IMPORT_TIME_ENV_PREFIXES = ("OMP_", "OPENBLAS_", "GOTO", "MKL_", "KMP_", "NPY_", "NUMPY_")
FORK_SAFE = False
DEFAULT_VERSION = "1.7-1"

# image version family -> (xgboost release installed, the packages AWS's image gives scripts)
_SCRIPT_PACKAGES_1 = ("numpy==1.23.5", "scipy==1.10.1", "scikit-learn==1.2.2", "pandas==1.5.3")
_SCRIPT_PACKAGES_3 = ("numpy==1.26.4", "scipy==1.11.4", "scikit-learn==1.3.2", "pandas==2.1.4")
RELEASES = {
    "0.90": ("0.90", _SCRIPT_PACKAGES_1),
    "1.0": ("1.0.2", _SCRIPT_PACKAGES_1),
    "1.2": ("1.2.1", _SCRIPT_PACKAGES_1),
    "1.3": ("1.3.3", _SCRIPT_PACKAGES_1),
    "1.5": ("1.5.2", _SCRIPT_PACKAGES_1),
    "1.7": ("1.7.6", _SCRIPT_PACKAGES_1),
    "3.0": ("3.0.5", _SCRIPT_PACKAGES_3),
}
# the legacy built-in image (XGBoost 0.72, which no longer installs): served by the nearest release
_LEGACY_FAMILY = "0.90"
_TAG = re.compile(r"^(?P<version>\d+\.\d+-\d+)(-cpu-py3)?$")


def version(tag: str | None) -> str | None:
    """``"1.7-1"`` for tags ``1.7-1`` and ``1.7-1-cpu-py3``; ``"1"`` for the legacy image's tag
    ``1`` (or ``latest``); None for an image by digest."""
    if not tag:
        return None
    if tag in ("1", "latest"):
        return "1"
    match = _TAG.match(tag)
    return match.group("version") if match else tag


def environment(framework_version: str | None):
    """The environment of the image version's family.

    Raises:
        UnsupportedImageError: a version AWS does not publish (the message lists those that run).
    """
    from smflow.local.containers.environments import EnvironmentSpec, UnsupportedImageError

    requested = framework_version or DEFAULT_VERSION
    note = None
    if requested == "1":
        family = _LEGACY_FAMILY
        note = f"the built-in XGBoost image 1 (XGBoost 0.72) does not install on this Python; using XGBoost {RELEASES[family][0]}"
    else:
        family = requested.split("-", 1)[0]
        if family not in RELEASES:
            raise UnsupportedImageError(
                f"XGBoost image version {requested!r} cannot run on the smflow local runtime: use one of "
                f"{', '.join(f'{f}-1' for f in RELEASES)} (the SageMaker XGBoost versions), or 1 (the legacy image)"
            )
    release, packages = RELEASES[family]
    return EnvironmentSpec(
        framework=NAME, family=family, framework_version=release, display=f"XGBoost {family}",
        # python-dateutil: pandas would take 4.x, which botocore (of the training toolkit) refuses
        install_steps=((*packages, f"xgboost=={release}", "protobuf>=4.21,<6", "python-dateutil<3"),), note=note,
    )


def python(framework_version: str | None) -> str:
    """The interpreter of the version's environment (built on first use by the runtime)."""
    from smflow.local.containers.environments import environment_python

    return str(environment_python(environment(framework_version)))


def training_command(framework_version: str | None, hyperparameters: dict[str, str]) -> list[str]:
    """Script mode (``sagemaker_program`` set): AWS's training toolkit; otherwise the algorithm."""
    if hyperparameters.get("sagemaker_program"):
        return ["-m", "sagemaker_training.cli.train"]
    from smflow.local.containers.algorithms import container

    return container.training_command(NAME, own_interpreter=False)


def default_model_fn(model_dir: str):
    """The booster saved by training (``xgboost-model``, else the first file of the model dir)."""
    from smflow.local.containers.algorithms.xgboost import load_booster

    return load_booster(model_dir)


def default_input_fn(request_body, content_type: str):
    """CSV, libsvm or RecordIO-protobuf -> ``xgboost.DMatrix``. Raises ServingError(415) otherwise."""
    from smflow.local.containers.algorithms.xgboost import to_dmatrix

    kind = codecs.base_type(content_type)
    if kind not in ("text/csv", "text/libsvm", "text/x-libsvm", "application/x-recordio-protobuf"):
        raise ServingError(
            415,
            f"Content type {content_type!r} is not supported by XGBoost's default input_fn: send text/csv, "
            "text/libsvm or application/x-recordio-protobuf, or define input_fn(request_body, "
            "request_content_type) in the entry point",
        )
    try:
        return to_dmatrix(request_body, content_type)
    except ValueError as error:
        raise ServingError(400, f"The {kind} body does not parse: {error}") from None


def default_predict_fn(input_data, model):
    """``model.predict(input_data, validate_features=False)``."""
    return model.predict(input_data, validate_features=False)


def default_output_fn(prediction, accept: str) -> tuple[bytes, str]:
    """JSON, CSV or NPY. Raises ServingError(406) for another accept type."""
    return encode_answer(prediction, accept)


def _script_defaults() -> ServingDefaults:
    return ServingDefaults(
        input_fn=default_input_fn, predict_fn=default_predict_fn, output_fn=default_output_fn,
        missing_model_fn="", model_fn=default_model_fn,
    )


def _load_handlers(model_dir: str, code_dir: str, program: str | None):
    """Script mode when an entry point is set, the algorithm's answers otherwise."""
    if program:
        from smflow.local.containers.serving.handlers import import_entry_point, load_handlers

        defaults = _script_defaults()
        module = import_entry_point(code_dir, program, defaults)
        return load_handlers(module, model_dir, program, defaults)
    from smflow.local.containers.algorithms.xgboost import algorithm_handlers

    return algorithm_handlers(model_dir)


def serving_defaults() -> ServingDefaults:
    """The model server's defaults for XGBoost images (see the module docstring). As AWS's
    container, a model server runs OpenMP single-threaded unless ``OMP_NUM_THREADS`` is set (the
    model's Environment): each request thread would otherwise start its own pool of threads."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    defaults = _script_defaults()
    return ServingDefaults(
        input_fn=defaults.input_fn, predict_fn=defaults.predict_fn, output_fn=defaults.output_fn,
        missing_model_fn="", model_fn=default_model_fn, load_handlers=_load_handlers,
    )
