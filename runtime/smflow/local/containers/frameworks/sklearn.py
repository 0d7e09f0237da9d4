"""scikit-learn's local container contract: what AWS's SageMaker scikit-learn images do, run
locally.

- Images: any region's ``sagemaker-scikit-learn`` repository, by tag (``<version>-cpu-py3``, the
  version being e.g. ``1.2-1``) or by digest (``@sha256:<64 hex>``).
- Environment: this Python interpreter, which has what AWS's scikit-learn image gives scripts
  (scikit-learn, numpy, scipy, pandas, joblib) and AWS's ``sagemaker-training`` toolkit.
- Model server (aws/sagemaker-scikit-learn-container ``serving.py``, and the SageMaker Python
  SDK docs "SageMaker Scikit-learn Model Server"): ``model_fn`` is required (there is no default
  model loader); the default ``input_fn`` reads NPY, JSON or CSV into a NumPy array (JSON and
  CSV numbers as float32; other types answer 415), ``predict_fn`` calls ``model.predict`` and
  ``output_fn`` writes NPY, JSON or CSV (other Accept types answer 406).
- Scripts that load models with ``from sklearn.externals import joblib`` (removed in
  scikit-learn 0.23, still in the SDK's older examples) get ``joblib``.
- Fork server: importing scikit-learn (which pulls in SciPy and pandas) takes about 1.3 s of CPU
  and most of a model server's memory, so model servers are forked from a process that has it
  imported (see ``smflow.local.executors.hosting.fork_server``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import re
import sys

from smflow.local.containers.serving.handlers import ServingDefaults, decode_request, encode_answer

NAME = "sklearn"
DISPLAY_NAME = "scikit-learn"
REPOSITORIES = ("sagemaker-scikit-learn",)
IMAGE_FORMS = (
    "<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:<version>-cpu-py3",
    "...@sha256:<digest>",
)

# What the fork server imports before forking: the libraries, as scripts for AWS's scikit-learn
# container use them.
PRELOADED_MODULES = ("numpy", "scipy", "pandas", "joblib", "sklearn", "sklearn.base", "sklearn.pipeline",
                     "sklearn.tree")
# Environment variables that these libraries read while they are imported.
IMPORT_TIME_ENV_PREFIXES = (
    "OMP_", "OPENBLAS_", "GOTO", "MKL_", "KMP_", "BLIS_", "VECLIB_", "NUMEXPR_", "NUMBA_", "NPY_",
    "NUMPY_", "SCIPY_", "SKLEARN_", "JOBLIB_", "PANDAS_", "ARROW_", "PYARROW_",
)

_TAG = re.compile(r"^(?P<version>.+?)-cpu-py3$")


def version(tag: str | None) -> str | None:
    """``"1.2-1"`` for tag ``1.2-1-cpu-py3``; None for another tag or none (an image by digest)."""
    match = _TAG.match(tag or "")
    return match.group("version") if match else None


# Model servers are forked from a process with scikit-learn imported (see the module docstring).
FORK_SAFE = True


def environment(framework_version: str | None) -> None:
    """None: the runtime's own interpreter runs scikit-learn images (every version); it has what
    AWS's scikit-learn image gives scripts (the ``local`` extra installs it)."""


def python(framework_version: str | None) -> str:
    """The interpreter that runs scikit-learn images (every version): this one."""
    return sys.executable


def default_input_fn(request_body: bytes | str, content_type: str):
    """NPY, JSON or CSV -> NumPy array; JSON and CSV numbers become float32 (AWS's container).

    Raises:
        ServingError(415): the content type is none of the three.
    """
    return decode_request(request_body, content_type)


def default_predict_fn(input_data, model):
    """``model.predict(input_data)``."""
    return model.predict(input_data)


def default_output_fn(prediction, accept: str) -> tuple[bytes, str]:
    """Serialize a prediction as NPY, JSON or CSV.

    Raises:
        ServingError(406): the accept type is none of the three.
    """
    return encode_answer(prediction, accept)


class _SklearnExternalsJoblib(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serve ``sklearn.externals.joblib`` (removed in scikit-learn 0.23) as ``joblib``."""

    NAME = "sklearn.externals.joblib"

    def find_spec(self, fullname, path, target=None):
        if fullname != self.NAME:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module("joblib")

    def exec_module(self, module):
        return None


def _install_import_hooks() -> None:
    if not any(isinstance(finder, _SklearnExternalsJoblib) for finder in sys.meta_path):
        sys.meta_path.append(_SklearnExternalsJoblib())


def serving_defaults() -> ServingDefaults:
    """The model server's defaults for scikit-learn images."""
    return ServingDefaults(
        input_fn=default_input_fn,
        predict_fn=default_predict_fn,
        output_fn=default_output_fn,
        missing_model_fn=(
            "The scikit-learn model server has no default model loader: add a model_fn that "
            "loads and returns the model saved by training, e.g. `return "
            'joblib.load(os.path.join(model_dir, "model.joblib"))`.'
        ),
        install_import_hooks=_install_import_hooks,
    )
