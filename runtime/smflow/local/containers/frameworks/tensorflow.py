"""TensorFlow's local container contract: what AWS's SageMaker TensorFlow images do, run locally.

- Images: any region's ``tensorflow-training`` / ``tensorflow-inference`` (and
  ``tensorflow-inference-graviton``) repositories, and the older script-mode
  ``sagemaker-tensorflow-scriptmode`` and ``sagemaker-tensorflow-serving`` ones that the SageMaker
  Python SDK's registry names (``smflow/frameworks/data/tensorflow.json``), by tag
  (``<version>-cpu[-py310]...``) or by digest. The legacy-mode ``sagemaker-tensorflow`` images
  (TensorFlow 1.4 to 1.10, Python 2) are not claimed: script mode cannot drive them.
- Environment (:func:`environment`): one virtual environment per version family (``2.19``) with
  ``tensorflow-cpu`` of the image's version when it installs on this Python, else the nearest one
  that does (the job's log says which), and what AWS's containers give scripts: AWS's TensorFlow
  training toolkit (``sagemaker-tensorflow-training``), NumPy, SciPy, pandas, Pillow and h5py
  (from the toolkit's list; a script that needs its other machine-learning library lists it in
  ``requirements.txt``), and ``requests`` (the TensorFlow Serving container's inference
  scripts use it).
- Training (:func:`training_command`): as AWS's images do (their Dockerfile sets
  ``SAGEMAKER_TRAINING_MODULE=sagemaker_tensorflow_container.training:main``), the training toolkit
  hands over to AWS's TensorFlow toolkit, which passes the hyperparameters (``--model_dir
  s3://...`` as the SDK sets it) to the script and warns when ``/opt/ml/model`` holds no
  SavedModel under a numeric version folder. Writing to an ``s3://`` model_dir from TensorFlow
  itself needs ``tensorflow-io``'s S3 file system, which the environment does not install.
- Model server (:func:`serving_defaults`): the contract of AWS's TensorFlow Serving container
  (aws/sagemaker-tensorflow-serving-container: ``serve.py``, ``tensorflowServing.js``,
  ``python_service.py``, ``tfs_utils.py``), answered from the SavedModels' signatures since
  TensorFlow Serving itself is on no package registry: see :class:`TfsModels` and
  :func:`load_handlers`.
- Fork server: TensorFlow is not fork-safe once imported (its thread pools do not survive a
  fork), so each model server is a fresh process (``FORK_SAFE = False``).
"""

from __future__ import annotations

import base64
import collections
import csv
import http.server
import io
import json
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from smflow import codecs
from smflow.local.containers.serving.handlers import (
    Handlers,
    ModelLoadError,
    ServingDefaults,
    ServingError,
)

NAME = "tensorflow"
DISPLAY_NAME = "TensorFlow"
REPOSITORIES = (
    "tensorflow-training",
    "tensorflow-inference",
    "tensorflow-inference-graviton",
    "sagemaker-tensorflow-scriptmode",
    "sagemaker-tensorflow-serving",
)
IMAGE_FORMS = (
    "<account>.dkr.ecr.<region>.amazonaws.com/tensorflow-training:<version>-cpu-py310",
    "<account>.dkr.ecr.<region>.amazonaws.com/tensorflow-inference:<version>-cpu",
)

FORK_SAFE = False  # TensorFlow's runtime (thread pools, Eigen/oneDNN state) does not survive fork
PRELOADED_MODULES: tuple[str, ...] = ()  # not forked: nothing to preload
IMPORT_TIME_ENV_PREFIXES = ("TF_", "OMP_", "KMP_", "MKL_", "ONEDNN_", "CUDA_")

# The training toolkit's hand-over to AWS's TensorFlow toolkit, as AWS's training images set it.
TRAINING_MODULE = "sagemaker_tensorflow_container.training:main"
# Pinned requirements besides tensorflow-cpu itself (see the module docstring). AWS's TensorFlow
# toolkit is installed without its dependencies, as AWS's images do: its metadata asks for
# numpy<1.24 and sagemaker-training<=4.8.3, which no TensorFlow 2.12+ can share, while its code
# needs only sagemaker-training, boto3 and six (which sagemaker-training brings).
TRAINING_TOOLKIT = "sagemaker-tensorflow-training==20.5.0"
# What AWS's TensorFlow images give scripts besides TensorFlow (from the toolkit's own list) and what
# the TensorFlow Serving container's inference scripts use (requests): versions that fit the
# chosen TensorFlow are left to pip.
# The training toolkit and boto3 are resolved with TensorFlow in one pip run, so that pip picks a
# sagemaker-training whose protobuf range TensorFlow's allows (5.x needs protobuf>=5.28.1, which
# TensorFlow 2.15 and older refuse).
CONTAINER_PACKAGES = ("requests==2.32.3", "scipy", "pandas", "Pillow", "h5py", "sagemaker-training>=4.7", "boto3")

# tensorflow-cpu releases on PyPI (Linux x86-64 wheels) and the Pythons they have wheels for,
# from the newest back to the oldest that installs on a Python smflow supports (3.10 and later).
TENSORFLOW_CPU_RELEASES: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("2.21.0", (3, 10), (3, 13)),
    ("2.20.0", (3, 9), (3, 13)),
    ("2.19.1", (3, 9), (3, 12)), ("2.19.0", (3, 9), (3, 12)),
    ("2.18.1", (3, 9), (3, 12)), ("2.18.0", (3, 9), (3, 12)),
    ("2.17.1", (3, 9), (3, 12)), ("2.17.0", (3, 9), (3, 12)),
    ("2.16.2", (3, 9), (3, 12)), ("2.16.1", (3, 9), (3, 12)),
    ("2.15.1", (3, 9), (3, 11)), ("2.15.0", (3, 9), (3, 11)),
    ("2.14.1", (3, 9), (3, 11)), ("2.14.0", (3, 9), (3, 11)),
    ("2.13.1", (3, 8), (3, 11)), ("2.13.0", (3, 8), (3, 11)),
    ("2.12.1", (3, 8), (3, 11)), ("2.12.0", (3, 8), (3, 11)),
    ("2.11.1", (3, 7), (3, 10)), ("2.11.0", (3, 7), (3, 10)),
    ("2.10.1", (3, 7), (3, 10)), ("2.10.0", (3, 7), (3, 10)),
    ("2.9.3", (3, 7), (3, 10)), ("2.9.2", (3, 7), (3, 10)), ("2.9.1", (3, 7), (3, 10)),
    ("2.8.4", (3, 7), (3, 10)), ("2.8.0", (3, 7), (3, 10)),
)

_TAG = re.compile(r"^(?P<version>\d+\.\d+(?:\.\d+)?)-(?:cpu|gpu)(?:-.*)?$")


def version(tag: str | None) -> str | None:
    """``"2.13.0"`` for tags ``2.13.0-cpu-py310``, ``2.13.0-cpu``, ``2.13.0-gpu-py310-cu118-...``;
    None for another tag or none (an image by digest)."""
    match = _TAG.match(tag or "")
    return match.group("version") if match else None


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _family(text: str) -> str:
    return ".".join(str(part) for part in _release(text)[:2])


def aws_versions() -> tuple[str, ...]:
    """The TensorFlow versions of SageMaker's TensorFlow images (the SDK's registry), sorted."""
    from smflow.image_uris import (
        config_for_framework,  # the registry data file, read once
    )

    config = config_for_framework(NAME)
    found = set()
    for scope in ("training", "inference", "inference_graviton", "eia"):
        found.update((config.get(scope) or {}).get("versions", {}))
    return tuple(sorted(found, key=_release))


def installable_versions(python: tuple[int, int] | None = None) -> tuple[str, ...]:
    """The tensorflow-cpu versions with wheels for ``python`` (default: this interpreter), newest first."""
    python = python or sys.version_info[:2]
    return tuple(release for release, lowest, highest in TENSORFLOW_CPU_RELEASES if lowest <= python <= highest)


def _nearest(wanted: str, candidates: tuple[str, ...]) -> str:
    """The newest release of the family nearest ``wanted`` among ``candidates`` (ties go to the
    newer family)."""
    want = _release(wanted) + (0, 0)
    want_minor = want[0] * 1000 + want[1]

    def rank(candidate: str) -> tuple[int, int, int]:
        release = _release(candidate) + (0, 0)
        minor = release[0] * 1000 + release[1]
        return abs(minor - want_minor), -minor, -release[2]

    return min(candidates, key=rank)


def environment(framework_version: str | None):
    """The local environment that runs TensorFlow images of ``framework_version``.

    The family is the installed version's ``major.minor``, and one environment serves a family:
    it holds the family's newest tensorflow-cpu release that installs on this Python (so patch
    releases share it, and an image's patch version may differ: ``note`` says so). A family with
    no release for this Python gets the nearest family that has one (``note`` says which); an
    image by digest (no version) gets the newest.

    Raises:
        UnsupportedImageError: ``framework_version`` is no SageMaker TensorFlow version (nor of
            one's family), or no tensorflow-cpu release installs on this Python.
    """
    from smflow.local.containers.environments import (
        EnvironmentSpec,
        UnsupportedImageError,
    )

    python = ".".join(str(part) for part in sys.version_info[:2])
    candidates = installable_versions()
    if not candidates:
        raise UnsupportedImageError(
            f"No tensorflow-cpu release installs on Python {python}: run the local runtime with Python 3.10 to "
            f"3.13 to run TensorFlow images."
        )
    note = None
    if framework_version is None:
        chosen = candidates[0]
        note = f"The image is named by digest, so its TensorFlow version is unknown; using TensorFlow {chosen}"
    else:
        known = aws_versions()
        known_families = {_family(known_version) for known_version in known}
        if not re.fullmatch(r"\d+\.\d+(\.\d+)?", framework_version) or (
            framework_version not in known and _family(framework_version) not in known_families
        ):
            raise UnsupportedImageError(
                f"TensorFlow version {framework_version!r} (from the image tag) is not a version of SageMaker's "
                f"TensorFlow images: use one of {', '.join(known)} (framework_version in the SageMaker Python SDK)."
            )
        chosen = _nearest(framework_version, candidates)
        if _family(chosen) != _family(framework_version):
            note = (
                f"TensorFlow {framework_version} does not install on Python {python} (tensorflow-cpu has no wheel "
                f"for it); using TensorFlow {chosen}, the nearest version that does"
            )
        elif framework_version.count(".") == 2 and chosen != framework_version:
            note = (
                f"The image's TensorFlow {framework_version} runs with TensorFlow {chosen}, the newest release of "
                f"its {_family(chosen)} family (one local environment serves each family)"
            )
    family = _family(chosen)
    return EnvironmentSpec(
        framework=NAME,
        family=family,
        framework_version=chosen,
        display=f"{DISPLAY_NAME} {family}",
        install_steps=((f"tensorflow-cpu=={chosen}", *CONTAINER_PACKAGES), ("--no-deps", TRAINING_TOOLKIT)),
        note=note,
    )


# The ``train`` step: the training toolkit, told to hand over to AWS's TensorFlow toolkit. That
# toolkit imports TensorFlow at module level but uses it only to start a parameter server, so in
# its process ``tensorflow`` is a stand-in module that imports the real one on first attribute
# use: a job without a parameter server does not import TensorFlow twice (3.3 s of CPU, about
# 10 s on a busy 2-core machine; the script, a child process, imports it as usual). importlib's
# LazyLoader does not fit: the import system reads the module's __spec__, which loads it.
_TRAIN = """
import importlib, os, runpy, sys, types
os.environ.setdefault('SAGEMAKER_TRAINING_MODULE', {module!r})
class _FirstUse(types.ModuleType):
    def __getattr__(self, name):
        sys.modules.pop('tensorflow', None)
        return getattr(importlib.import_module('tensorflow'), name)
sys.modules['tensorflow'] = _FirstUse('tensorflow')
runpy.run_module('sagemaker_training.cli.train', run_name='__main__')
"""


def training_command(framework_version: str | None, hyperparameters: dict[str, str]) -> list[str]:
    """The ``train`` step: the training toolkit's trainer, handing over to AWS's TensorFlow toolkit
    (``SAGEMAKER_TRAINING_MODULE``, as set in AWS's TensorFlow training images; a value in the job's
    Environment wins), with TensorFlow imported lazily in that process (see ``_TRAIN``)."""
    return ["-c", _TRAIN.format(module=TRAINING_MODULE)]


# ---------------------------------------------------------------------------------------------
# Serving: the TensorFlow Serving container's contract.
# ---------------------------------------------------------------------------------------------

DEFAULT_MODEL_NAME_ENV = "SAGEMAKER_TFS_DEFAULT_MODEL_NAME"
INFERENCE_SCRIPT = "inference.py"  # the container's one pre/post-processing script (code/inference.py)
TOP_MODEL_NAME = "model"  # a SavedModel right under /opt/ml/model/<version>/ is served as "model"
DEFAULT_SIGNATURE = "serving_default"
PREDICT, CLASSIFY, REGRESS = "predict", "classify", "regress"
METHOD_NAMES = {
    PREDICT: "tensorflow/serving/predict",
    CLASSIFY: "tensorflow/serving/classify",
    REGRESS: "tensorflow/serving/regress",
}
JSON_TYPES = ("application/json", "application/jsonlines", "application/jsons")
CSV_TYPE = "text/csv"
_ATTRIBUTE = re.compile(r"(tfs-[a-z\-]+=[^,]+)")

# What inference.py's handlers receive as ``context`` (AWS's tfs_utils.Context).
Context = collections.namedtuple(
    "Context",
    "model_name, model_version, method, rest_uri, grpc_port, channel, custom_attributes, "
    "request_content_type, accept_header, content_length",
)


def parse_custom_attributes(header: str | None) -> dict[str, str]:
    """``tfs-model-name``, ``tfs-model-version`` and ``tfs-method`` from the
    ``X-Amzn-SageMaker-Custom-Attributes`` header (other attributes are ignored, as AWS does)."""
    attributes = {}
    for match in _ATTRIBUTE.findall(header or ""):
        key, _, value = match.partition("=")
        attributes[key] = value.strip()
    return attributes


def _json_error(message: str) -> str:
    return json.dumps({"error": message})


@dataclass
class Servable:
    """One version of one SavedModel: ``signatures`` (name -> concrete function) and their
    ``method_names`` (from ``saved_model.pb``: predict, classify or regress)."""

    name: str
    version: int
    path: str
    signatures: dict[str, Any]
    method_names: dict[str, str]
    loaded: Any = field(repr=False, default=None)  # keeps the SavedModel's variables alive


def find_models(model_dir: str) -> dict[str, dict[int, str]]:
    """The SavedModels in ``model_dir`` as TensorFlow Serving's container finds them: every
    ``saved_model.pb`` in a numeric folder ``<version>`` is a version of the model named after the
    folder above (``model`` for ``model_dir`` itself). Returns name -> {version: path}."""
    models: dict[str, dict[int, str]] = {}
    for root, dirs, files in os.walk(model_dir):
        dirs.sort()
        if "saved_model.pb" not in files:
            continue
        folder = os.path.basename(root)
        if not folder.isdigit():
            continue
        base = os.path.dirname(root)
        name = TOP_MODEL_NAME if os.path.abspath(base) == os.path.abspath(model_dir) else os.path.basename(base)
        models.setdefault(name, {})[int(folder)] = root
    return models


def _misplaced_saved_models(model_dir: str) -> list[str]:
    return sorted(
        os.path.relpath(root, model_dir) for root, _, files in os.walk(model_dir)
        if "saved_model.pb" in files and not os.path.basename(root).isdigit()
    )


def _method_names(path: str) -> dict[str, str]:
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    names: dict[str, str] = {}
    for meta_graph in proto.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags or not names:
            names = {key: value.method_name for key, value in meta_graph.signature_def.items()}
    return names


def load_servable(name: str, model_version: int, path: str) -> Servable:
    """Load one SavedModel with ``tf.saved_model.load``.

    Raises:
        ModelLoadError: the SavedModel has no signature at all (TensorFlow Serving could not
            answer any request), saying how to export one.
    """
    import tensorflow as tf

    loaded = tf.saved_model.load(path)
    signatures = dict(loaded.signatures)
    if not signatures:
        raise ModelLoadError(
            f"The SavedModel {name!r} version {model_version} ({path}) has no serving signature, so TensorFlow "
            "Serving cannot answer requests with it: export it with one, e.g. "
            "`tf.saved_model.save(model, export_dir, signatures={'serving_default': model.call.get_concrete_function("
            "tf.TensorSpec([None, n_features], tf.float32))})`, or `model.export(export_dir)` for a Keras 3 model."
        )
    return Servable(name, model_version, path, signatures, _method_names(path), loaded)


class TfsModels:
    """The models of one model server and TensorFlow Serving's REST API over them
    (``POST /v1/models/<name>[/versions/<version>]:predict|classify|regress``), answered by calling
    the SavedModels' signatures. Every version of every model is loaded at start, as TensorFlow
    Serving loads them (the container lists them all); a request without a version gets the highest.
    """

    def __init__(self, model_dir: str):
        found = find_models(model_dir)
        if not found:
            misplaced = _misplaced_saved_models(model_dir)
            where = (
                f" (found saved_model.pb in {', '.join(misplaced)}: its folder must be a version number)"
                if misplaced else ""
            )
            raise ModelLoadError(
                f"No SavedModel bundles found in the model artifacts{where}: TensorFlow Serving serves "
                "model.tar.gz holding <version>/saved_model.pb or <model name>/<version>/saved_model.pb; "
                "in the training script export with e.g. tf.saved_model.save(model, "
                "os.path.join(os.environ['SM_MODEL_DIR'], '1'))."
            )
        self.models: dict[str, dict[int, Servable]] = {}
        for name in sorted(found):
            self.models[name] = {
                number: load_servable(name, number, path) for number, path in sorted(found[name].items())
            }
        default = os.environ.get(DEFAULT_MODEL_NAME_ENV, "None")
        if default == "None":
            default = min(self.models)
        elif default not in self.models:
            raise ModelLoadError(
                f"{DEFAULT_MODEL_NAME_ENV} is {default!r}, but the model artifacts hold the models "
                f"{', '.join(sorted(self.models))}: set it to one of them."
            )
        self.default_model = default

    def servable(self, name: str | None, model_version: str | int | None) -> Servable:
        """The servable for a request (404 as TensorFlow Serving: "Servable not found ...")."""
        name = name or self.default_model
        versions = self.models.get(name)
        if not versions:
            raise ServingError(404, _json_error(f"Servable not found for request: Latest({name})"))
        if model_version in (None, ""):
            return versions[max(versions)]
        try:
            number = int(model_version)
        except (TypeError, ValueError):
            raise ServingError(400, _json_error(f"Invalid model version {model_version!r}: use a number")) from None
        if number not in versions:
            raise ServingError(404, _json_error(f"Servable not found for request: Specific({name}, {number})"))
        return versions[number]

    def rest(self, name: str | None, model_version: str | None, method: str, body: bytes | str) -> dict:
        """One TensorFlow Serving REST request; returns its JSON answer as a dict.

        Raises:
            ServingError: 400 for a malformed request or one TensorFlow rejects (its message),
                404 for an unknown model or version; the body is ``{"error": ...}``.
        """
        if method not in METHOD_NAMES:
            raise ServingError(
                400, _json_error(f"Unsupported method {method!r}: use predict, classify or regress (tfs-method)")
            )
        servable = self.servable(name, model_version)
        try:
            request = json.loads(body) if body else None
        except ValueError as exc:
            raise ServingError(400, _json_error(f"JSON Parse error: {exc}")) from None
        if not isinstance(request, dict):
            raise ServingError(400, _json_error("The request body must be a JSON object"))
        if method == PREDICT:
            return _predict(servable, request)
        return _classify_or_regress(servable, request, method)


def _signature(servable: Servable, request: dict, method: str):
    name = request.get("signature_name") or DEFAULT_SIGNATURE
    function = servable.signatures.get(name)
    if function is None:
        raise ServingError(
            400,
            _json_error(
                f'Serving signature name: "{name}" not found in signature def (the model has '
                f"{', '.join(sorted(servable.signatures))})"
            ),
        )
    method_name = servable.method_names.get(name, METHOD_NAMES[PREDICT])
    if method != PREDICT and method_name != METHOD_NAMES[method]:
        kind = "classification" if method == CLASSIFY else "regression"
        raise ServingError(
            400,
            _json_error(
                f"Expected {kind} signature method_name to be {METHOD_NAMES[method]}. Was: {method_name}"
            ),
        )
    return name, function


_SPECS: dict[int, dict[str, Any]] = {}  # id(signature) -> its input specs (reading them costs ~40 us)


def _input_specs(function) -> dict[str, Any]:
    specs = _SPECS.get(id(function))
    if specs is None:
        specs = _SPECS[id(function)] = dict(function.structured_input_signature[1])
    return specs


def _decode_binary(value):
    if isinstance(value, dict) and set(value) == {"b64"}:
        return base64.b64decode(value["b64"])
    if isinstance(value, list):
        return [_decode_binary(item) for item in value]
    return value


def _call(function, inputs: dict[str, Any]) -> dict[str, Any]:
    """Call a signature with JSON values converted to its input dtypes. TensorFlow's own message
    answers a value or shape it rejects (400), as TensorFlow Serving does."""
    import tensorflow as tf

    specs = _input_specs(function)
    missing = sorted(set(specs) - set(inputs))
    unknown = sorted(set(inputs) - set(specs))
    if missing or unknown:
        raise ServingError(
            400,
            _json_error(
                f"The request's inputs {sorted(inputs)} do not match the signature's inputs {sorted(specs)}"
                + (f" (missing {', '.join(missing)})" if missing else "")
                + (f" (unknown {', '.join(unknown)})" if unknown else "")
            ),
        )
    try:
        tensors = {key: tf.constant(_decode_binary(value), dtype=specs[key].dtype) for key, value in inputs.items()}
        outputs = function(**tensors)
    except (ValueError, TypeError) as exc:
        raise ServingError(400, _json_error(str(exc))) from None
    except tf.errors.OpError as exc:
        status = {tf.errors.INVALID_ARGUMENT: 400, tf.errors.NOT_FOUND: 404, tf.errors.OUT_OF_RANGE: 400,
                  tf.errors.FAILED_PRECONDITION: 400}.get(exc.error_code, 500)
        raise ServingError(status, _json_error(exc.message)) from None
    if not isinstance(outputs, dict):
        outputs = {"output_0": outputs}
    return outputs


def _jsonable(name: str, tensor) -> Any:
    value = tensor.numpy() if hasattr(tensor, "numpy") else tensor
    value = value.tolist() if hasattr(value, "tolist") else value
    return _strings(value, binary=name.endswith("_bytes"))


def _strings(value, binary: bool):
    if isinstance(value, list):
        return [_strings(item, binary) for item in value]
    if isinstance(value, bytes):
        if binary:
            return {"b64": base64.b64encode(value).decode("ascii")}
        return value.decode("utf-8", errors="replace")
    return value


def _predict(servable: Servable, request: dict) -> dict:
    """The Predict API: row format (``instances`` -> ``predictions``) or columnar (``inputs`` ->
    ``outputs``)."""
    if "instances" in request and "inputs" in request:
        raise ServingError(400, _json_error('Request body must have either "instances" or "inputs", not both'))
    if "instances" not in request and "inputs" not in request:
        raise ServingError(400, _json_error('Missing "instances" or "inputs" key in the request body'))
    _, function = _signature(servable, request, PREDICT)
    names = sorted(_input_specs(function))
    if "instances" in request:
        instances = request["instances"]
        if not isinstance(instances, list):
            raise ServingError(400, _json_error('"instances" must be a list, one item per instance'))
        if instances and all(isinstance(item, dict) and "b64" not in item for item in instances):
            inputs = {}
            for key in {key for item in instances for key in item}:
                missing = [index for index, item in enumerate(instances) if key not in item]
                if missing:
                    raise ServingError(400, _json_error(f"Instance {missing[0]} has no input {key!r}"))
                inputs[key] = [item[key] for item in instances]
        elif len(names) == 1:
            inputs = {names[0]: instances}
        else:
            raise ServingError(
                400,
                _json_error(f"The signature has several inputs ({', '.join(names)}): each instance must be an "
                            "object of input name to value"),
            )
        outputs = _call(function, inputs)
        values = {key: _jsonable(key, tensor) for key, tensor in outputs.items()}
        if len(values) == 1:
            return {"predictions": next(iter(values.values()))}
        rows = {len(value) for value in values.values() if isinstance(value, list)}
        if len(rows) != 1 or any(not isinstance(value, list) for value in values.values()):
            raise ServingError(
                400, _json_error("The outputs do not have the same 0-th dimension: use the columnar \"inputs\" format")
            )
        count = rows.pop()
        return {"predictions": [{key: value[row] for key, value in sorted(values.items())} for row in range(count)]}
    columns = request["inputs"]
    if isinstance(columns, dict) and "b64" not in columns and (len(names) > 1 or set(columns) <= set(names)):
        inputs = columns
    elif len(names) == 1:
        inputs = {names[0]: columns}
    else:
        raise ServingError(400, _json_error(f"The signature has several inputs ({', '.join(names)}): send an object"))
    outputs = _call(function, inputs)
    values = {key: _jsonable(key, tensor) for key, tensor in outputs.items()}
    return {"outputs": next(iter(values.values())) if len(values) == 1 else values}


def _feature(value):
    import tensorflow as tf

    items = value if isinstance(value, list) else [value]
    items = [_decode_binary(item) for item in items]
    if all(isinstance(item, (bool, int)) for item in items):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(item) for item in items]))
    if all(isinstance(item, (int, float)) for item in items):
        return tf.train.Feature(float_list=tf.train.FloatList(value=[float(item) for item in items]))
    if all(isinstance(item, (str, bytes)) for item in items):
        return tf.train.Feature(bytes_list=tf.train.BytesList(
            value=[item.encode("utf-8") if isinstance(item, str) else item for item in items]))
    raise ServingError(400, _json_error(f"Unsupported feature value {value!r}: use numbers, strings or b64 objects"))


def _classify_or_regress(servable: Servable, request: dict, method: str) -> dict:
    """The Classify and Regress APIs: ``examples`` (and a shared ``context``) become serialized
    ``tf.train.Example`` protos fed to a classify / regress signature; the answer is ``results``."""
    import tensorflow as tf

    _, function = _signature(servable, request, method)
    examples = request.get("examples")
    if not isinstance(examples, list) or not all(isinstance(item, dict) for item in examples):
        raise ServingError(400, _json_error('"examples" must be a list of objects of feature name to value'))
    context = request.get("context") or {}
    serialized = []
    for example in examples:
        features = {key: _feature(value) for key, value in {**context, **example}.items()}
        serialized.append(tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString())
    names = sorted(_input_specs(function))
    if len(names) != 1:
        raise ServingError(400, _json_error(f"A {method} signature takes one input of serialized examples, not {names}"))
    outputs = _call(function, {names[0]: serialized})
    if method == REGRESS:
        if "outputs" not in outputs:
            raise ServingError(400, _json_error("The regression signature has no output named 'outputs'"))
        values = outputs["outputs"].numpy().reshape(len(examples), -1)
        return {"results": [row[0].item() if row.size == 1 else row.tolist() for row in values]}
    scores = outputs["scores"].numpy().reshape(len(examples), -1).tolist() if "scores" in outputs else None
    classes = _jsonable("classes", outputs["classes"]) if "classes" in outputs else None
    if scores is None and classes is None:
        raise ServingError(400, _json_error("The classification signature has neither 'classes' nor 'scores'"))
    results = []
    for index in range(len(examples)):
        labels = classes[index] if classes is not None else [""] * len(scores[index])
        row_scores = scores[index] if scores is not None else [0.0] * len(labels)
        results.append([[label, score] for label, score in zip(labels, row_scores)])
    return {"results": results}


# -- the container's request conversion (tensorflowServing.js) --------------------------------

_TFS_JSON = re.compile(r'"(instances|inputs|examples)"\s*:')
_JSON_LINES = re.compile(r"[}\]]\s*[\[{]")
_NUMBER = re.compile(r"^\s*[\d.Ee+\-]+\s*$")


def to_tfs_request(body: str, content_type: str) -> str:
    """Turn an InvokeEndpoint body into a TensorFlow Serving REST request, as the container's
    nginx module does: TFS JSON passes as is; JSON Lines become ``instances`` (one per line);
    other JSON becomes one instance (or the list of instances, for a list of lists); each CSV
    line becomes one instance (numbers stay numbers, unless the body's first field is neither a
    number nor quoted: then every value is a string).

    Raises:
        ServingError(415): the content type is none of application/json, application/jsonlines,
            application/jsons, text/csv.
    """
    kind = codecs.base_type(content_type)
    if kind in JSON_TYPES:
        if _TFS_JSON.search(body):
            return body
        if _JSON_LINES.search(body):
            lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
            return '{"instances":' + (lines[0] if len(lines) == 1 else "[" + ",".join(lines) + "]") + "}"
        data = body if re.match(r"^\s*\[\s*\[", body) else "[" + body + "]"
        return '{"instances":' + data + "}"
    if kind == CSV_TYPE:
        # As the container: a body whose first field is neither a number nor quoted is all strings.
        strings = not re.match(r'^\s*("|[\d.Ee+\-]+)', body)
        instances = []
        for row in csv.reader(io.StringIO(body.strip())):
            if not row:
                continue
            values = [json.loads(cell) if not strings and _NUMBER.match(cell) and _is_json_number(cell) else cell
                      for cell in row]
            instances.append(values if len(values) > 1 else values[0])
        return json.dumps({"instances": instances})
    raise ServingError(415, _json_error(f"Unsupported Media Type: {content_type or 'Unknown'}"))


def _is_json_number(text: str) -> bool:
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def _response_type(accept: str) -> str:
    entries = [entry.strip() for entry in (accept or "").split(",") if entry.strip()]
    bases = [codecs.base_type(entry) for entry in entries]
    if "application/jsonlines" in bases or "application/json" in bases:
        return entries[0]
    return "application/json"


# -- inference.py: handler, or input_handler and output_handler -------------------------------


class RestResponse:
    """What ``output_handler(response, context)`` receives in place of ``requests.Response`` from
    TensorFlow Serving: ``status_code``, ``content`` (bytes), ``text``, ``json()``, ``headers``."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content
        self.headers = {"Content-Type": "application/json"}
        self.reason = http.server.BaseHTTPRequestHandler.responses.get(status_code, ("",))[0]

    @property
    def ok(self) -> bool:
        return self.status_code < 400

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")

    def json(self):
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if not self.ok:
            raise RuntimeError(f"{self.status_code} {self.reason}: {self.text}")


def _answer(models: TfsModels, name, model_version, method, body) -> tuple[int, bytes]:
    try:
        return 200, json.dumps(models.rest(name, model_version, method, body)).encode("utf-8")
    except ServingError as exc:
        return exc.status, str(exc).encode("utf-8")


class _RestApi(http.server.BaseHTTPRequestHandler):
    """TensorFlow Serving's REST API on a loopback port, for inference scripts whose ``handler``
    posts to ``context.rest_uri`` themselves (as AWS's examples do with ``requests``)."""

    protocol_version = "HTTP/1.1"
    models: TfsModels
    _PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+))?(?::(?P<method>\w+))?$")

    def log_message(self, format: str, *args) -> None:
        return None

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        match = self._PATH.match(self.path.split("?", 1)[0])
        if not match or match.group("method"):
            self._reply(404, _json_error(f"Malformed request: GET {self.path}").encode())
            return
        try:
            servable = self.models.servable(match.group("name"), match.group("version"))
        except ServingError as exc:
            self._reply(exc.status, str(exc).encode())
            return
        versions = [servable] if match.group("version") else list(self.models.models[servable.name].values())
        status = {"model_version_status": [
            {"version": str(item.version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for item in versions
        ]}
        self._reply(200, json.dumps(status).encode())

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        match = self._PATH.match(self.path.split("?", 1)[0])
        if not match or not match.group("method"):
            self._reply(404, _json_error(f"Malformed request: POST {self.path}").encode())
            return
        self._reply(*_answer(self.models, match.group("name"), match.group("version"), match.group("method"), body))


def _start_rest_api(models: TfsModels) -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("TfsRestApi", (_RestApi,), {"models": models}))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="tfs-rest-api", daemon=True).start()
    return server.server_address[1]


def _import_inference_script(code_dir: str, program: str):
    from smflow.local.containers.serving.handlers import import_entry_point

    library = os.path.join(code_dir, "lib")
    if os.path.isdir(library) and library not in sys.path:
        sys.path.insert(0, library)  # the container adds code/lib to the path
    return import_entry_point(code_dir, program)


class TfsService:
    """One model server's answers: the container's default path (request conversion, then the
    REST API) or inference.py's handlers (``handler(data, context)``, or ``input_handler(data,
    context)`` -> REST API -> ``output_handler(response, context)``)."""

    def __init__(self, models: TfsModels, script=None, program: str | None = None):
        self.models = models
        self.handler = self.input_handler = self.output_handler = None
        self.rest_port = None
        if script is not None:
            if hasattr(script, "handler"):
                self.handler = script.handler
            elif hasattr(script, "input_handler") and hasattr(script, "output_handler"):
                self.input_handler, self.output_handler = script.input_handler, script.output_handler
            else:
                raise ModelLoadError(
                    f"The inference script {program!r} defines neither handler(data, context) nor both "
                    "input_handler(data, context) and output_handler(response, context): define one of the two, "
                    "as the TensorFlow Serving container requires."
                )
            self.rest_port = _start_rest_api(models)

    def context(self, attributes: dict[str, str], custom_attributes, content_type: str, accept: str, length: int):
        name = attributes.get("tfs-model-name") or self.models.default_model
        uri = f"http://127.0.0.1:{self.rest_port}/v1/models/{name}"
        if attributes.get("tfs-model-version"):
            uri += "/versions/" + attributes["tfs-model-version"]
        uri += ":" + attributes.get("tfs-method", PREDICT)
        return Context(attributes.get("tfs-model-name"), attributes.get("tfs-model-version"),
                       attributes.get("tfs-method"), uri, None, None, custom_attributes, content_type, accept,
                       length)

    def invoke(self, data: bytes | str, content_type: str, accept: str, custom_attributes: str | None):
        """Answer one ``/invocations`` request (see :class:`smflow.local.containers.serving.handlers.Handlers`)."""
        attributes = parse_custom_attributes(custom_attributes)
        name, model_version = attributes.get("tfs-model-name"), attributes.get("tfs-model-version")
        method = attributes.get("tfs-method", PREDICT)
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        if self.handler is None and self.input_handler is None:
            text = data if isinstance(data, str) else raw.decode("utf-8", errors="replace")
            request = to_tfs_request(text, content_type)
            status, body = _answer(self.models, name, model_version, method, request)
            if status != 200:
                raise ServingError(status, body.decode("utf-8"))
            return body, _response_type(accept)
        context = self.context(attributes, custom_attributes, content_type, accept, len(raw))
        if self.handler is not None:
            return self.handler(io.BytesIO(raw), context)
        processed = self.input_handler(io.BytesIO(raw), context)
        if isinstance(processed, dict):
            processed = json.dumps(processed)
        if not isinstance(processed, (str, bytes)):
            raise TypeError(f"input_handler returned {type(processed).__name__}: return the JSON request as str or bytes")
        status, body = _answer(self.models, name, model_version, method, processed)
        return self.output_handler(RestResponse(status, body), context)


def load_handlers(model_dir: str, code_dir: str, program: str | None) -> Handlers:
    """The TensorFlow Serving container's model server: every SavedModel in ``model_dir`` (see
    :func:`find_models`), and ``inference.py`` from ``code_dir`` when present. As in AWS's
    container, the script's name is always ``inference.py`` (``program``, from
    ``SAGEMAKER_PROGRAM``, is not used: the container reads no such variable).

    Raises:
        ModelLoadError: no SavedModel, a SavedModel without signatures, an unknown
            ``SAGEMAKER_TFS_DEFAULT_MODEL_NAME``, or an inference script without handlers.
        Exception: whatever importing the inference script or loading a SavedModel raises.
    """
    models = TfsModels(model_dir)
    script = None
    if os.path.isfile(os.path.join(code_dir, INFERENCE_SCRIPT)):
        script = _import_inference_script(code_dir, INFERENCE_SCRIPT)
    service = TfsService(models, script, INFERENCE_SCRIPT)
    defaults = serving_defaults()
    return Handlers(
        model=models,
        transform_fn=None,
        input_fn=defaults.input_fn,
        predict_fn=defaults.predict_fn,
        output_fn=defaults.output_fn,
        execution_parameters_fn=None,
        default_accept=codecs.JSON,
        invoke=service.invoke,
    )


def default_input_fn(body: bytes | str, content_type: str) -> str:
    """The container's request conversion (:func:`to_tfs_request`)."""
    return to_tfs_request(body.decode("utf-8") if isinstance(body, bytes) else body, content_type)


def default_predict_fn(request: str, models: TfsModels) -> dict:
    """A predict request to the default model's newest version."""
    return models.rest(None, None, PREDICT, request)


def default_output_fn(prediction: dict, accept: str) -> tuple[bytes, str]:
    """The REST API's JSON answer (the container answers JSON whatever the Accept type)."""
    return json.dumps(prediction).encode("utf-8"), _response_type(accept)


def serving_defaults() -> ServingDefaults:
    """The model server of TensorFlow images: TensorFlow Serving's container (``load_handlers``)."""
    return ServingDefaults(
        input_fn=default_input_fn,
        predict_fn=default_predict_fn,
        output_fn=default_output_fn,
        missing_model_fn=(
            "The TensorFlow Serving container loads the SavedModels of model.tar.gz itself: it needs no model_fn."
        ),
        load_handlers=load_handlers,
    )
