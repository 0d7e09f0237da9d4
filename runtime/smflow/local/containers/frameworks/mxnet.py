"""Apache MXNet's local container contract: what AWS's SageMaker MXNet images do, run locally.

- Images: any region's ``mxnet-training`` / ``mxnet-inference`` (the deep-learning containers,
  tags ``<version>-<cpu|gpu>-<py version>[-<suffix>]``, e.g. ``1.9.0-cpu-py38``), the older
  ``sagemaker-mxnet`` / ``sagemaker-mxnet-serving`` and the Elastic Inference repositories
  (``...-eia``, served on the CPU here), by tag or by digest (``@sha256:<64 hex>``).
- Environment (:func:`environment`): one virtual environment per MXNet minor version, with
  ``mxnet`` from PyPI and the data libraries AWS's MXNet images give scripts (aws/deep-learning-
  containers ``mxnet/training/docker/1.9/py3/Dockerfile.cpu``: numpy, SciPy, pandas, Pillow; not
  the image's GluonCV, GluonNLP, ONNX, OpenCV or Horovod: a script that needs one lists it in
  ``requirements.txt``). MXNet's wheels need ``numpy<1.24`` (their Python code uses aliases
  such as ``np.bool`` that numpy 1.24 removed). Checked on Python 3.11: ``mxnet`` 1.5.1.post0,
  1.6.0, 1.7.0.post2, 1.8.0.post0 and 1.9.1 install, train and export; 1.4.1 and older require
  numpy < 1.15, which has no wheel for this Python and does not build, so images of those
  versions run on 1.5.1, the nearest that installs (the job's log says so). Scripts run on
  this Python, not the image's (py37/py38).
- Training: AWS's training toolkit (``sagemaker_training``), as the images' own
  ``sagemaker_mxnet_container.training`` does on one host: the entry point runs as a script
  with the hyperparameters as arguments and the ``SM_*`` variables (script mode; the legacy
  ``train()`` function of images before 1.3 is not run). With the parameter server
  (``distribution={"parameter_server": {"enabled": True}}``) the toolkit's launcher is
  emulated on the one host (:func:`training_command`): an MXNet scheduler and server process,
  then the script as the worker, with the ``DMLC_*`` variables of ``kvstore="dist_sync"``, all
  on 127.0.0.1. MPI distribution is not emulated.
- Model server (aws/sagemaker-mxnet-inference-toolkit ``handler_service.py``,
  ``default_inference_handler.py``, ``mxnet_module_transformer.py``, and the SageMaker Python
  SDK's "The SageMaker MXNet Model Server"): the entry point's ``model_fn(model_dir)`` loads the
  model; without one, the default loads ``model-symbol.json``, ``model-0000.params`` and
  ``model-shapes.json`` (a Gluon ``HybridBlock.export`` or ``Module.save_checkpoint(prefix
  "model", epoch 0)`` plus the data shapes, ``[{"name": "data", "shape": [1, 4]}]``) as a Module
  bound for batches of 1. The model's type then picks the defaults:

  - a Module (``mxnet.module.BaseModule``): ``input_fn`` reads JSON, CSV or NPY into an
    ``NDArrayIter`` over the rows (CSV rows reshaped to the Module's input shape), ``predict_fn``
    is ``module.predict``; ``input_fn(body, content_type, model)`` gets the model;
  - a Gluon ``Block``: ``input_fn`` reads JSON or NPY into an ``NDArray`` (CSV is refused, as in
    AWS's container), ``predict_fn`` is ``block(data)``;
  - ``output_fn`` writes the prediction NDArray as JSON, CSV (Modules only) or NPY;
  - anything else needs ``transform_fn``, else the model does not load ("Unsupported model type").

  MXNet is not thread-safe, so a model server runs all of it on one thread, one request at a
  time (see :func:`load_handlers`), as each worker process of AWS's model server does.
  Unsupported request or response types answer 415, as the toolkit's ``UnsupportedFormatError``.
  An error in MXNet (a payload of the wrong shape, say) answers 500 with MXNet's message, which
  InvokeEndpoint returns as a ``ModelError``. Model servers get the image's thread settings
  unless the model's Environment sets them: ``OMP_NUM_THREADS``, ``MXNET_CPU_WORKER_NTHREADS``,
  ``MXNET_CPU_PRIORITY_NTHREADS`` and ``MXNET_KVSTORE_REDUCTION_NTHREADS`` = 1 (the toolkit's
  ``serving.py``).
- Fork server: model servers are forked from a process that has imported MXNet (about 1.3 s of
  CPU, 4 s on a busy machine). MXNet supports it: ``libmxnet`` registers ``pthread_atfork``
  handlers (``src/initialize.cc``) that stop its engine before a fork and start it again in
  both processes (its DataLoader workers rely on it); in the child they also turn OpenMP off,
  which is what the image's ``OMP_NUM_THREADS=1`` gives a fresh model server anyway.
"""

from __future__ import annotations

import concurrent.futures
import functools
import inspect
import json
import os
import re
import socket
import subprocess
import sys
import types

import numpy as np

from smflow import codecs
from smflow.frameworks.script_mode import PARAMETER_SERVER_ENABLED
from smflow.image_uris import config_for_framework
from smflow.local.containers.environments import EnvironmentSpec, UnsupportedImageError
from smflow.local.containers.serving import handlers
from smflow.local.containers.serving.handlers import (
    ModelLoadError,
    ServingDefaults,
    ServingError,
)

NAME = "mxnet"
DISPLAY_NAME = "MXNet"
REPOSITORIES = (
    "mxnet-training", "mxnet-inference", "sagemaker-mxnet", "sagemaker-mxnet-serving",
    "mxnet-inference-eia", "sagemaker-mxnet-eia", "sagemaker-mxnet-serving-eia",
)
IMAGE_FORMS = (
    "<account>.dkr.ecr.<region>.amazonaws.com/mxnet-training:<version>-cpu-py38",
    "the same in mxnet-inference, sagemaker-mxnet, sagemaker-mxnet-serving",
)

# MXNet stops its engine around a fork and restarts it in the child (see the module docstring).
FORK_SAFE = True
PRELOADED_MODULES = ("numpy", "mxnet")
# Environment variables read while MXNet and its OpenMP / MKL-DNN / BLAS libraries load.
IMPORT_TIME_ENV_PREFIXES = (
    "MXNET_", "DMLC_", "OMP_", "KMP_", "GOMP_", "MKL_", "MKLDNN_", "DNNL_", "OPENBLAS_", "NPY_", "NUMPY_",
)
# aws/sagemaker-mxnet-inference-toolkit serving.py DEFAULT_ENV_VARS: set where the model's
# Environment does not set them.
SERVING_ENV_DEFAULTS = {
    "MXNET_CPU_WORKER_NTHREADS": "1",
    "MXNET_CPU_PRIORITY_NTHREADS": "1",
    "MXNET_KVSTORE_REDUCTION_NTHREADS": "1",
    "OMP_NUM_THREADS": "1",
}

# The mxnet release installed for each version family (minor version) that installs here.
RELEASES = {"1.5": "1.5.1.post0", "1.6": "1.6.0", "1.7": "1.7.0.post2", "1.8": "1.8.0.post0", "1.9": "1.9.1"}
LATEST_FAMILY = "1.9"
OLDEST_FAMILY = "1.5"
# What AWS's MXNet images give scripts, in versions that install beside numpy<1.24 on Python 3.11;
# python-dateutil below 3, as botocore (sagemaker-training's) requires: pandas alone takes 4.x.
SCRIPT_LIBRARIES = ("numpy==1.23.5", "scipy==1.15.3", "pandas==2.3.3", "Pillow==9.5.0", "python-dateutil==2.9.0.post0")

# The default model_fn's files (toolkit default_inference_handler.DEFAULT_MODEL_FILENAMES).
MODEL_PREFIX = "model"
SYMBOL_FILE = "model-symbol.json"
PARAMS_FILE = "model-0000.params"
SHAPES_FILE = "model-shapes.json"
# A Gluon Block takes JSON and NPY; a Module also CSV (DefaultMXNetInferenceHandler,
# DefaultModuleInferenceHandler.VALID_CONTENT_TYPES).
GLUON_TYPES = (codecs.JSON, codecs.NPY)
MODULE_TYPES = (codecs.JSON, codecs.CSV, codecs.NPY)

_TAG = re.compile(r"^(?P<version>\d+(?:\.\d+){1,2})-(?:cpu|gpu|eia)-py\d*(?:-.+)?$")


def version(tag: str | None) -> str | None:
    """``"1.9.0"`` for tag ``1.9.0-cpu-py38`` (or ``1.8.0-gpu-py37-cu110-ubuntu16.04``,
    ``1.4.1-cpu-py3``); None for another tag or none (an image by digest)."""
    match = _TAG.match(tag or "")
    return match.group("version") if match else None


def _image_versions() -> tuple[dict[str, str], tuple[str, ...]]:
    """(alias -> version, every version) of SageMaker's MXNet images (``frameworks/data/mxnet.json``)."""
    config = config_for_framework(NAME)
    aliases: dict[str, str] = {}
    versions: set[str] = set()
    for scope in config.values():
        if isinstance(scope, dict) and "versions" in scope:
            aliases.update(scope.get("version_aliases", {}))
            versions.update(scope["versions"])
    return aliases, tuple(sorted(versions, key=_release))


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def environment(framework_version: str | None) -> EnvironmentSpec:
    """The environment that runs MXNet images of ``framework_version`` (the image tag's version;
    None for an image named by digest, which runs on the latest family, with a note).

    Families 1.5 to 1.9 install their own release (:data:`RELEASES`); older images run on 1.5.1.
    ``note`` says when the version installed is not the image's.

    Raises:
        UnsupportedImageError: ``framework_version`` is no SageMaker MXNet image version (the
            message lists them).
    """
    aliases, versions = _image_versions()
    note = None
    if framework_version is None:
        family = LATEST_FAMILY
        note = (f"The MXNet image is named by digest, so its version is unknown; using MXNet "
                f"{RELEASES[family]}.")
    else:
        image_version = aliases.get(framework_version, framework_version)
        if image_version not in versions:
            raise UnsupportedImageError(
                f"MXNet version {framework_version!r} has no SageMaker MXNet image: use one of "
                f"{', '.join(versions)} (framework_version, or the image tag's version)."
            )
        family = ".".join(image_version.split(".")[:2])
        if family not in RELEASES:
            note = (f"MXNet {image_version} does not install on this Python (it requires numpy < 1.15, "
                    f"which does not build here); using MXNet {RELEASES[OLDEST_FAMILY]}, the nearest "
                    "version that does.")
            family = OLDEST_FAMILY
        elif _release(RELEASES[family]) != _release(image_version):
            note = (f"MXNet {image_version} images run with mxnet {RELEASES[family]} here "
                    f"(the last {family} release on PyPI).")
    return EnvironmentSpec(
        framework=NAME,
        family=family,
        framework_version=RELEASES[family],
        display=f"MXNet {family}",
        install_steps=((f"mxnet=={RELEASES[family]}", *SCRIPT_LIBRARIES),),
        note=note,
    )


# ------------------------------------------------------------------------------------------
# Training with the parameter server (aws/sagemaker-mxnet-training-toolkit training.py)
# ------------------------------------------------------------------------------------------
TOOLKIT_TRAIN = ("-m", "sagemaker_training.cli.train")
PS_PORT_HYPERPARAMETER = "_ps_port"  # the toolkit's own knobs (default port 8000, verbosity 0)
PS_VERBOSE_HYPERPARAMETER = "_ps_verbose"
_PARAMETER_SERVER_FLAG = "--parameter-server"


def _hyperparameter(hyperparameters: dict[str, str], name: str):
    """A hyperparameter's value, JSON-decoded as the SDK encodes them (None when absent)."""
    value = hyperparameters.get(name)
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def training_command(framework_version: str | None, hyperparameters: dict[str, str]) -> list[str]:
    """The ``train`` step's arguments after the environment's python: AWS's training toolkit, or,
    when ``sagemaker_parameter_server_enabled`` is true, this module's launcher of a parameter
    server on the one host (:func:`train_with_parameter_server`), which then runs the toolkit as
    the worker. ``_ps_port`` (else a free port) and ``_ps_verbose`` are honoured, as AWS's
    MXNet training toolkit does."""
    enabled = _hyperparameter(hyperparameters, PARAMETER_SERVER_ENABLED)
    if enabled is not True and str(enabled).lower() != "true":
        return list(TOOLKIT_TRAIN)
    port = _hyperparameter(hyperparameters, PS_PORT_HYPERPARAMETER)
    verbose = _hyperparameter(hyperparameters, PS_VERBOSE_HYPERPARAMETER)
    return ["-m", __name__, _PARAMETER_SERVER_FLAG, str(port or 0), str(verbose or 0)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_with_parameter_server(port: int = 0, verbose: str = "0") -> int:
    """Run the toolkit's ``train`` as the worker of a one-host parameter server: start MXNet's
    scheduler and server (``python -c "import mxnet"`` with ``DMLC_ROLE`` set, as the toolkit's
    ``_run_mxnet_process``), run the worker with ``DMLC_NUM_WORKER`` / ``DMLC_NUM_SERVER`` = 1 and
    the scheduler's address, then wait for the two to end (they end with the worker; 10 s, then
    they are killed). Every process binds 127.0.0.1 (``DMLC_NODE_HOST``). Returns the worker's
    exit code. Called as ``python -m smflow.local.containers.frameworks.mxnet
    --parameter-server PORT VERBOSE`` in the job's environment."""
    roles = {
        "DMLC_NUM_WORKER": "1",
        "DMLC_NUM_SERVER": "1",
        "DMLC_PS_ROOT_URI": "127.0.0.1",
        "DMLC_PS_ROOT_PORT": str(port or _free_port()),
        "DMLC_NODE_HOST": "127.0.0.1",
        "PS_VERBOSE": str(verbose),
    }
    print(f"Starting the MXNet parameter server on 127.0.0.1:{roles['DMLC_PS_ROOT_PORT']} (1 worker, 1 server)",
          flush=True)
    helpers = [
        subprocess.Popen([sys.executable, "-c", "import mxnet"], env={**os.environ, **roles, "DMLC_ROLE": role},
                         stdin=subprocess.DEVNULL)
        for role in ("scheduler", "server")
    ]
    try:
        worker = subprocess.run([sys.executable, *TOOLKIT_TRAIN], env={**os.environ, **roles, "DMLC_ROLE": "worker"},
                                stdin=subprocess.DEVNULL, check=False)
        return worker.returncode
    finally:
        for helper in helpers:
            try:
                helper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                helper.kill()
                helper.wait()


# ------------------------------------------------------------------------------------------
# Model server defaults (MXNet is imported only here, inside the model server)
# ------------------------------------------------------------------------------------------
def _mx():
    import mxnet

    return mxnet


def _install_import_hooks() -> None:
    for key, value in SERVING_ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)


def read_data_shapes(path: str, batch_size: int = 1) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """``model-shapes.json`` (``[{"name": ..., "shape": [...]}, ...]``) -> (data names,
    (name, shape) pairs), each shape's first dimension set to ``batch_size`` (toolkit
    ``utils.read_data_shapes``).

    Raises:
        ModelLoadError: the file is not such a list.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            signatures = json.load(handle)
        pairs = [(str(entry["name"]), [int(size) for size in entry["shape"]]) for entry in signatures]
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ModelLoadError(
            f"{SHAPES_FILE} must be a JSON list of the Module's inputs, e.g. "
            f'[{{"name": "data", "shape": [1, 4]}}]: {type(exc).__name__}: {exc}'
        ) from None
    for _, shape in pairs:
        if shape:
            shape[0] = batch_size
    return [name for name, _ in pairs], pairs


def default_model_fn(model_dir: str):
    """Load ``model-symbol.json`` + ``model-0000.params`` as a Module bound, for inference, to the
    inputs of ``model-shapes.json`` with batches of 1, on the CPU (toolkit ``default_model_fn``).

    Raises:
        ModelLoadError: one of the three files is missing.
    """
    missing = [name for name in (SYMBOL_FILE, PARAMS_FILE, SHAPES_FILE)
               if not os.path.exists(os.path.join(model_dir, name))]
    if missing:
        present = sorted(os.listdir(model_dir)) if os.path.isdir(model_dir) else []
        raise ModelLoadError(
            f"The default MXNet model_fn needs {SYMBOL_FILE}, {PARAMS_FILE} and {SHAPES_FILE} in the "
            f"model directory; missing: {', '.join(missing)} (it holds: {', '.join(present) or 'nothing'}). "
            f"Save the model with net.export(os.path.join(model_dir, {MODEL_PREFIX!r})) and write "
            f'{SHAPES_FILE} ([{{"name": "data", "shape": [1, <features>]}}]), or define '
            "model_fn(model_dir) in the entry point to load what training saved."
        )
    mx = _mx()
    data_names, data_shapes = read_data_shapes(os.path.join(model_dir, SHAPES_FILE))
    symbol, arg_params, aux_params = mx.model.load_checkpoint(os.path.join(model_dir, MODEL_PREFIX), 0)
    module = mx.mod.Module(symbol=symbol, context=mx.cpu(), data_names=data_names, label_names=None)
    module.bind(for_training=False, data_shapes=data_shapes)
    module.set_params(arg_params, aux_params, allow_missing=True)
    return module


def _unsupported(role: str, value: str, valid: tuple[str, ...], model: str, function: str) -> ServingError:
    return ServingError(
        415,
        f"{role} {value!r} is not supported by the default {function} of MXNet {model} models: use "
        f"{', '.join(valid)}, or define {function} in the entry point.",
    )


def _to_ndarray(body, content_type: str, valid: tuple[str, ...], model: str):
    kind = codecs.base_type(content_type)
    if kind not in valid:
        raise _unsupported("Content type", content_type, valid, model, "input_fn(request_body, request_content_type)")
    try:
        array = codecs.decode(body, kind)
    except ValueError as exc:
        raise ServingError(400, f"The {kind} request body could not be read: {exc}") from None
    return _mx().nd.array(array)


def gluon_input_fn(request_body, content_type: str):
    """JSON or NPY -> ``mxnet.nd.NDArray`` (float32) for a Gluon Block.

    Raises:
        ServingError(415): another content type (CSV included, as in AWS's container).
    """
    return _to_ndarray(request_body, content_type, GLUON_TYPES, "Gluon")


def gluon_predict_fn(data, block):
    """``block(data)``."""
    return block(data)


def module_input_fn(request_body, content_type: str, model):
    """JSON, CSV or NPY -> ``mxnet.io.NDArrayIter`` over the rows, batched as the Module is bound
    (CSV rows are reshaped to the Module's input shape after the first dimension).

    Raises:
        ServingError(415): another content type.
    """
    mx = _mx()
    data = _to_ndarray(request_body, content_type, MODULE_TYPES, "Module")
    [(_, shape)] = [(desc[0], desc[1]) for desc in model.data_shapes]
    if codecs.base_type(content_type) == codecs.CSV:
        data = data.reshape((-1, *tuple(shape[1:])))
    return mx.io.NDArrayIter(data, batch_size=shape[0], last_batch_handle="pad")


def module_predict_fn(data, module):
    """``module.predict(data)``."""
    return module.predict(data)


def _output_fn(prediction, accept: str, valid: tuple[str, ...], model: str):
    for entry in (accept or "").split(","):
        kind = codecs.base_type(entry)
        if kind in valid:
            values = np.asarray(prediction.asnumpy().tolist())  # as the toolkit's encoder gets it
            return codecs.encode(values, kind), kind
    raise _unsupported("Accept type", accept, valid, model, "output_fn(prediction, accept)")


def gluon_output_fn(prediction, accept: str):
    """An NDArray -> JSON or NPY.

    Raises:
        ServingError(415): another accept type.
    """
    return _output_fn(prediction, accept, GLUON_TYPES, "Gluon")


def module_output_fn(prediction, accept: str):
    """An NDArray -> JSON, CSV or NPY.

    Raises:
        ServingError(415): another accept type.
    """
    return _output_fn(prediction, accept, MODULE_TYPES, "Module")


_USER_FUNCTIONS = ("model_fn", "transform_fn", "input_fn", "predict_fn", "output_fn", "execution_parameters_fn")


def _takes_model(function) -> bool:
    try:
        return "model" in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def load_handlers(model_dir: str, code_dir: str, program: str | None) -> handlers.Handlers:
    """The serving functions, as the toolkit's ``HandlerService`` picks them: import the entry
    point (if any), load the model with its ``model_fn`` or :func:`default_model_fn`, then take
    the Module or Gluon defaults for the functions the entry point does not define.

    MXNet is not thread-safe (its "Multi Threaded Inference" guide: neither the Module's executor
    nor Gluon's cached graph may be called from two threads at once; two concurrent Module
    predictions answer each other's rows), so everything MXNet does in a model server (the entry
    point's import, ``model_fn``, each request's functions) runs on one thread of its own, one
    request after the other, as in each worker process of AWS's model server: ``Handlers.invoke``
    hands the requests to that thread. (A lock instead, with MXNet called from each request's
    thread, answered about 15% more 100-row requests per second at concurrency 8; MXNet's
    maintainers ask for one thread, as some of its state is per thread.)

    Raises:
        ModelLoadError: the model is neither a Module nor a Gluon Block and the entry point has no
            ``transform_fn``; the entry point defines ``transform_fn`` with ``input_fn`` /
            ``predict_fn`` / ``output_fn``; the default model_fn's files are missing.
        Exception: whatever the entry point's import or ``model_fn`` raises, unchanged.
    """
    mxnet_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mxnet")
    try:
        loaded = mxnet_thread.submit(_load_handlers, model_dir, code_dir, program).result()
    except BaseException:
        mxnet_thread.shutdown(wait=False)
        raise

    def pipeline(data, content_type: str, accept: str):
        if loaded.transform_fn is not None:
            return loaded.transform_fn(loaded.model, data, content_type, accept)
        return loaded.output_fn(loaded.predict_fn(loaded.input_fn(data, content_type), loaded.model), accept)

    def invoke(data, content_type: str, accept: str, custom_attributes: str | None):
        return mxnet_thread.submit(pipeline, data, content_type, accept).result()

    loaded.invoke = invoke
    return loaded


def _load_handlers(model_dir: str, code_dir: str, program: str | None) -> handlers.Handlers:
    base = ServingDefaults(
        input_fn=gluon_input_fn, predict_fn=gluon_predict_fn, output_fn=gluon_output_fn,
        missing_model_fn="", install_import_hooks=_install_import_hooks, model_fn=default_model_fn,
    )
    if program:
        module = handlers.import_entry_point(code_dir, program, base)
    else:
        _install_import_hooks()
        module = None
    user = {name: getattr(module, name) for name in _USER_FUNCTIONS if hasattr(module, name)}
    loaded = handlers.load_handlers(types.SimpleNamespace(**user), model_dir, program or "(none)", base)
    if loaded.transform_fn is not None:
        return loaded
    mx = _mx()
    model = loaded.model
    if isinstance(model, mx.module.BaseModule):
        if "input_fn" not in user:
            loaded.input_fn = functools.partial(module_input_fn, model=model)
        if "predict_fn" not in user:
            loaded.predict_fn = module_predict_fn
        if "output_fn" not in user:
            loaded.output_fn = module_output_fn
    elif not isinstance(model, mx.gluon.Block):
        raise ModelLoadError(
            f"Unsupported model type: {type(model).__name__}. model_fn must return an MXNet Module or "
            "Gluon Block for the default input_fn / predict_fn / output_fn; for another model define "
            "transform_fn(model, request_body, content_type, accept) in the entry point."
        )
    if "input_fn" in user and _takes_model(user["input_fn"]):
        user_input_fn = user["input_fn"]
        loaded.input_fn = lambda body, content_type: user_input_fn(body, content_type, model)
    return loaded


def serving_defaults() -> ServingDefaults:
    """The model server's defaults for MXNet images: :func:`load_handlers` chooses them per model."""
    return ServingDefaults(
        input_fn=gluon_input_fn,
        predict_fn=gluon_predict_fn,
        output_fn=gluon_output_fn,
        missing_model_fn="",
        install_import_hooks=_install_import_hooks,
        model_fn=default_model_fn,
        load_handlers=load_handlers,
    )


if __name__ == "__main__" and sys.argv[1:2] == [_PARAMETER_SERVER_FLAG]:
    if not sys.argv[2].isdigit() or int(sys.argv[2]) > 65535:
        print(f"ValueError: the hyperparameter {PS_PORT_HYPERPARAMETER} must be a TCP port number, got "
              f"{sys.argv[2]!r}", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(train_with_parameter_server(int(sys.argv[2]), sys.argv[3]))
