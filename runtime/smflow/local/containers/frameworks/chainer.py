"""Chainer's local container contract: what AWS's SageMaker Chainer images do, run locally.

- Images: any region's ``sagemaker-chainer`` repository (versions 4.0.0, 4.1.0 and 5.0.0, tags
  ``<version>-<cpu|gpu>-<py2|py3>``, e.g. ``5.0.0-cpu-py3``; the SDK's aliases ``4.0``, ``4.1``,
  ``5.0`` are tags too), by tag or by digest.
- Environment: Chainer 4 and 5 have no wheels and do not build on Python 3.11; every image runs
  in one environment with chainer :data:`CHAINER_VERSION` (the last release, the same API for
  ``chainer.Chain``, ``links``, ``serializers.save_npz``/``load_npz`` and ``training``), which
  builds from source and works only with ``numpy<1.24`` and ``setuptools<70`` installed first
  and ``--no-build-isolation`` (checked on Python 3.11; :func:`environment`). The job's
  log names the version used. Training runs AWS's ``sagemaker-training`` toolkit there: the
  Chainer images run the entry point with the hyperparameters as arguments and the ``SM_*``
  variables, as the toolkit does (MPI training with ChainerMN is not run locally).
- Model server (aws/sagemaker-chainer-container ``serving.py``; the SageMaker Python SDK's
  "Using Chainer" page, "The SageMaker Chainer Model Server"): ``model_fn`` is required (the
  container's default model loader only tells the user to write one); the default ``input_fn``
  reads NPY, JSON or CSV into a NumPy array (JSON and CSV numbers as float32); ``predict_fn``
  calls the model (``model(data)``) with ``chainer.config.train`` off and no back-propagation
  graph, and returns the resulting Variable's array; ``output_fn`` writes NPY, JSON or CSV. Other
  content types answer 415 and other Accept types 406; a request the model cannot take (an array
  of the wrong shape) answers 500 with Chainer's type-check message, which InvokeEndpoint
  reports as a ModelError.
- Fork server (``FORK_SAFE``): yes. Chainer on the CPU is NumPy: importing it (about 0.5 s of
  CPU) starts no Python thread, and the native threads of NumPy's OpenBLAS pool are remade in a
  forked child (OpenBLAS registers ``pthread_atfork`` handlers); model servers forked from a
  process that imported chainer predict as fresh processes do.

This module does not import chainer at module level (the runtime has no chainer); the serving
functions import it inside the environment when they first run.
"""

from __future__ import annotations

import re
import sys

from smflow import image_uris
from smflow.local.containers.environments import EnvironmentSpec, check_image_version
from smflow.local.containers.serving.handlers import ServingDefaults, decode_request, encode_answer

NAME = "chainer"
DISPLAY_NAME = "Chainer"
REPOSITORIES = ("sagemaker-chainer",)
IMAGE_FORMS = ("<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-chainer:<version>-cpu-py3",)

# The chainer every Chainer image runs locally (see the module docstring), its family, and what
# its source build needs installed first.
CHAINER_VERSION = "7.8.1"
FAMILY = "7"
BUILD_REQUIREMENTS = ("numpy<1.24", "setuptools<70", "wheel")

FORK_SAFE = True
PRELOADED_MODULES = ("numpy", "chainer")
# Environment variables that chainer and NumPy read while they are imported.
IMPORT_TIME_ENV_PREFIXES = ("CHAINER_", "CUPY_", "OMP_", "OPENBLAS_", "MKL_", "NPY_", "NUMPY_", "GOTO")

_TAG = re.compile(r"^(?P<version>\d+(?:\.\d+)+)-(?:cpu|gpu)-py\d*(?:-.+)?$")


def version(tag: str | None) -> str | None:
    """``"5.0.0"`` for tag ``5.0.0-cpu-py3``; None for another tag or none (an image by digest)."""
    match = _TAG.match(tag or "")
    return match.group("version") if match else None


def known_versions(aliases: bool = True) -> tuple[str, ...]:
    """The versions of the images this module claims (:func:`smflow.image_uris.registry_versions`)."""
    return image_uris.registry_versions(NAME, aliases)


def _check_version(framework_version: str | None) -> None:
    check_image_version(NAME, DISPLAY_NAME, framework_version)


def environment(framework_version: str | None) -> EnvironmentSpec:
    """The environment that runs Chainer images of ``framework_version`` (None: by digest):
    chainer :data:`CHAINER_VERSION` for every version, ``note`` naming the substitution.

    Raises:
        UnsupportedImageError: no SageMaker Chainer image has that version.
    """
    _check_version(framework_version)
    named = f"Chainer {framework_version}" if framework_version else "The Chainer image (named by digest)"
    return EnvironmentSpec(
        framework=NAME,
        family=FAMILY,
        framework_version=CHAINER_VERSION,
        display=f"Chainer {FAMILY}",
        install_steps=(BUILD_REQUIREMENTS, ("--no-build-isolation", f"chainer=={CHAINER_VERSION}")),
        note=(f"{named}: the versions of SageMaker's Chainer images (4.0.0 to 5.0.0) do not install on "
              f"Python {sys.version_info[0]}.{sys.version_info[1]}; using chainer {CHAINER_VERSION}, which has the "
              "API (Chain, links, serializers, training) their scripts use."),
    )


# ---------------------------------------------------------------------- model server defaults
def default_input_fn(request_body: bytes | str, content_type: str):
    """NPY, JSON or CSV -> NumPy array; JSON and CSV numbers become float32 (AWS's container).

    Raises:
        ServingError(415): the content type is none of the three.
    """
    return decode_request(request_body, content_type, "default Chainer")


def default_predict_fn(data, model):
    """``model(data)`` with ``chainer.config.train`` off and no back-propagation graph; the
    returned Variable's array (another result is returned as is)."""
    import chainer

    with chainer.using_config("train", False), chainer.no_backprop_mode():
        prediction = model(data)
    return prediction.array if isinstance(prediction, chainer.Variable) else prediction


def default_output_fn(prediction, accept: str) -> tuple[bytes, str]:
    """Serialize a prediction as NPY, JSON or CSV.

    Raises:
        ServingError(406): the accept type is none of the three.
    """
    return encode_answer(prediction, accept, "default Chainer")


def serving_defaults() -> ServingDefaults:
    """The model server's defaults for Chainer images."""
    return ServingDefaults(
        input_fn=default_input_fn,
        predict_fn=default_predict_fn,
        output_fn=default_output_fn,
        missing_model_fn=(
            "The Chainer model server has no default model loader: add a model_fn that builds the network "
            "and loads the weights saved by training, e.g. `model = MLP(); chainer.serializers.load_npz("
            'os.path.join(model_dir, "model.npz"), model); return model`.'
        ),
    )
