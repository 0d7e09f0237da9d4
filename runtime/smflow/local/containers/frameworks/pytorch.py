"""PyTorch's local container contract: what AWS's SageMaker PyTorch images do, run locally.

- Images: any region's ``pytorch-training`` / ``pytorch-inference`` (deep-learning containers,
  tags ``<version>-<cpu|gpu>-py<NN>``, e.g. ``2.0.1-cpu-py310``), ``pytorch-inference-graviton``
  (``2.0.1-cpu-py310-ubuntu20.04-sagemaker``), ``pytorch-inference-eia`` and the older
  ``sagemaker-pytorch`` (0.4.0 to 1.1.0, ``1.0.0-cpu-py3``), by tag or by digest.
- Environment: one virtual environment holds the CPU build of ``torch`` :data:`TORCH_VERSION`
  for every image version (:func:`environment`): the build pip finds through its configuration
  (a find-links folder or PyTorch's CPU index, ``https://download.pytorch.org/whl/cpu``) without
  downloading a CUDA stack of several GB, which a plain ``pip install torch==<version>`` from PyPI
  pulls on Linux (where the version has wheels for this Python at all). A job whose image names
  another version logs which torch it runs instead (the ``note``). Training runs AWS's
  ``sagemaker-training`` toolkit there, as the images do.
- Model server (aws/sagemaker-pytorch-inference-toolkit, ``default_pytorch_inference_handler``):
  the default ``model_fn`` loads a TorchScript model (``torch.jit.load``) from ``model.pt`` in the
  model directory, else from its only ``.pt`` / ``.pth`` file, on the CPU; the default ``input_fn``
  reads JSON, CSV (as float32 tensors) or NPY (a tensor of the array's dtype); ``predict_fn``
  calls the model in ``eval()`` mode under ``torch.no_grad()``; ``output_fn`` writes the tensor as
  JSON, CSV or NPY. Other content types answer 415 and other Accept types 406, as the toolkit's
  decoder and encoder refuse them; a request the model cannot take (a tensor of the wrong shape)
  answers 500 with torch's message, which InvokeEndpoint reports as a ModelError.
- Fork server (``FORK_SAFE``): yes. PyTorch's rule ("Multiprocessing best practices"): a process
  may fork as long as it has not started torch's CPU thread pools (OpenMP, the intra-op pool),
  which start at the first operation. A fork server only imports torch (about 1 s of CPU and
  most of a model server's memory) and never runs an operation, so each forked model server
  starts its own pools at its first request (torch also marks the pools of a forked child for
  re-creation); only NumPy's OpenBLAS pool exists at the fork, and OpenBLAS remakes it in the
  child (``pthread_atfork``).

This module does not import torch at module level (it is imported by the runtime, which has no
torch); the serving functions import it when they first run, inside the environment.
"""

from __future__ import annotations

import os
import re

from smflow import image_uris
from smflow.local.containers.environments import EnvironmentSpec, check_image_version
from smflow.local.containers.serving.handlers import ModelLoadError, ServingDefaults, decode_request, encode_answer

NAME = "pytorch"
DISPLAY_NAME = "PyTorch"
REPOSITORIES = ("pytorch-training", "pytorch-inference", "pytorch-inference-graviton", "pytorch-inference-eia",
                "sagemaker-pytorch")
IMAGE_FORMS = (
    "<account>.dkr.ecr.<region>.amazonaws.com/pytorch-training:<version>-cpu-py310",
    "...pytorch-inference:<version>-<cpu|gpu>-py<NN>",
    "...sagemaker-pytorch:<version>-cpu-py3",
)

# The torch every PyTorch image runs locally (see the module docstring), and its family.
TORCH_VERSION = "2.13.0"
FAMILY = "2.13"

FORK_SAFE = True
PRELOADED_MODULES = ("numpy", "torch")
# Environment variables that torch and its math libraries read while they are imported.
IMPORT_TIME_ENV_PREFIXES = (
    "OMP_", "MKL_", "KMP_", "GOMP_", "OPENBLAS_", "NUMEXPR_", "NPY_", "NUMPY_", "TORCH_", "PYTORCH_", "CUDA_",
    "CUBLAS_", "NCCL_",
)

_TAG = re.compile(r"^(?P<version>\d+(?:\.\d+)+)-(?:cpu|gpu|eia)-py\d*(?:-.+)?$")


def version(tag: str | None) -> str | None:
    """``"2.0.1"`` for tag ``2.0.1-cpu-py310`` (or ``2.0.1-cpu-py310-ubuntu20.04-sagemaker``);
    None for another tag or none (an image named by digest)."""
    match = _TAG.match(tag or "")
    return match.group("version") if match else None


def known_versions(aliases: bool = True) -> tuple[str, ...]:
    """The versions of the images this module claims (:func:`smflow.image_uris.registry_versions`)."""
    return image_uris.registry_versions(NAME, aliases)


def _check_version(framework_version: str | None) -> None:
    check_image_version(NAME, DISPLAY_NAME, framework_version)


def environment(framework_version: str | None) -> EnvironmentSpec:
    """The environment that runs PyTorch images of ``framework_version`` (None: by digest):
    torch :data:`TORCH_VERSION` (CPU build) for every version; ``note`` says so when the image
    names another version.

    Raises:
        UnsupportedImageError: no SageMaker PyTorch image has that version.
    """
    _check_version(framework_version)
    note = None
    if framework_version != TORCH_VERSION:
        named = f"PyTorch {framework_version}" if framework_version else "The PyTorch image (named by digest)"
        note = (f"{named}: using torch {TORCH_VERSION} (CPU build), the one PyTorch environment of the local "
                "runtime; other torch versions have no CPU wheel pip can install on this Python without a "
                "multi-GB CUDA download.")
    return EnvironmentSpec(
        framework=NAME,
        family=FAMILY,
        framework_version=TORCH_VERSION,
        display=f"PyTorch {FAMILY}",
        install_steps=((f"torch=={TORCH_VERSION}",),),
        note=note,
    )


# ---------------------------------------------------------------------- model server defaults
DEFAULT_MODEL_FILENAME = "model.pt"
MODEL_SUFFIXES = (".pt", ".pth")


def model_file(model_dir: str) -> str:
    """The file the default ``model_fn`` loads: ``model.pt``, else the model directory's only
    ``.pt`` / ``.pth`` file (the toolkit's rule).

    Raises:
        ModelLoadError: no such file, or several.
    """
    preferred = os.path.join(model_dir, DEFAULT_MODEL_FILENAME)
    if os.path.isfile(preferred):
        return preferred
    names = sorted(name for name in os.listdir(model_dir)
                   if name.endswith(MODEL_SUFFIXES) and os.path.isfile(os.path.join(model_dir, name)))
    if len(names) != 1:
        found = ", ".join(names) if names else "none"
        raise ModelLoadError(
            f"The default PyTorch model_fn loads exactly one TorchScript file (model.pt, or the only .pt or "
            f".pth file) from the model directory; found {found}. Save the model with "
            "torch.jit.save(torch.jit.script(model), os.path.join(model_dir, 'model.pt')), or define "
            "model_fn(model_dir) in the entry point."
        )
    return os.path.join(model_dir, names[0])


def default_model_fn(model_dir: str):
    """Load the TorchScript model of :func:`model_file` on the CPU.

    Raises:
        ModelLoadError: no model file, or one that is not TorchScript (e.g. a ``state_dict``
            saved with ``torch.save``, which needs the entry point's own ``model_fn``).
    """
    import torch

    path = model_file(model_dir)
    try:
        return torch.jit.load(path, map_location=torch.device("cpu"))
    except (RuntimeError, ValueError) as error:
        raise ModelLoadError(
            f"The default PyTorch model_fn could not load {os.path.basename(path)} as TorchScript ({error}). "
            "Save the model with torch.jit.save(torch.jit.script(model), path), or define model_fn(model_dir) "
            "in the entry point to load it (e.g. a state_dict into your nn.Module)."
        ) from None


def default_input_fn(request_body: bytes | str, content_type: str):
    """NPY, JSON or CSV -> ``torch.Tensor`` (JSON and CSV as float32, NPY in the array's dtype).

    Raises:
        ServingError(415): the content type is none of the three.
    """
    import torch

    return torch.from_numpy(decode_request(request_body, content_type, "default PyTorch"))


def default_predict_fn(data, model):
    """``model(data)`` with the model in ``eval()`` mode, under ``torch.no_grad()``."""
    import torch

    with torch.no_grad():
        if hasattr(model, "eval"):
            model.eval()
        return model(data)


def default_output_fn(prediction, accept: str) -> tuple[bytes, str]:
    """Serialize a prediction (a tensor, array or list) as NPY, JSON or CSV.

    Raises:
        ServingError(406): the accept type is none of the three.
    """
    return encode_answer(_to_numpy(prediction), accept, "default PyTorch")


def _to_numpy(prediction):
    if hasattr(prediction, "detach") and hasattr(prediction, "cpu"):  # a torch.Tensor
        return prediction.detach().cpu().numpy()
    if isinstance(prediction, (list, tuple)):
        return [_to_numpy(item) for item in prediction]
    return prediction


def serving_defaults() -> ServingDefaults:
    """The model server's defaults for PyTorch images."""
    return ServingDefaults(
        input_fn=default_input_fn,
        predict_fn=default_predict_fn,
        output_fn=default_output_fn,
        model_fn=default_model_fn,
        missing_model_fn="",
    )
