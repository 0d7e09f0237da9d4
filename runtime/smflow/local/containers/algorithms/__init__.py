"""Amazon SageMaker's built-in algorithms, emulated so that their images train and serve on the
local runtime: KMeans, PCA and LinearLearner with NumPy (:mod:`.kmeans`, :mod:`.pca`,
:mod:`.linear_learner`), and the built-in mode of a framework image whose container is also an
algorithm (its module here bears the framework's name and is imported only in its environment).
Each module declares ``NAME`` (the algorithm's name), ``TITLE``, ``PARAMS``, ``CONTENT_TYPES``,
``DEFAULT_CONTENT_TYPE``, ``OTHER_CHANNELS``, ``SUPERVISED``, ``train(train_set, other_set, hp,
log) -> {file name: bytes}`` and, for serving, ``load``, ``predict``, ``feature_dim``,
``RESULT_KEY`` and ``OUTPUT_KEYS``.

- :mod:`.train` is the training container's entry point (``python -m
  smflow.local.containers.algorithms.train <algorithm>``), run by the training executor in place
  of the training toolkit (the framework modules' ``training_command``);
- :mod:`.data` reads channels (RecordIO-protobuf, CSV, libsvm; File and Pipe input modes),
  :mod:`.hyperparameters` checks hyperparameters with the algorithms' wording,
  :mod:`.ndarray` writes and reads NDArray files (AWS's model format for KMeans and PCA);
- :mod:`.serving` answers ``/invocations`` as AWS's algorithm containers do.

Why our own code: AWS's algorithm containers are closed source and run only in Docker; these
emulations follow their documented behaviour (hyperparameters, data formats, model files,
response formats), which is what users' pipelines depend on.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def get(name: str) -> ModuleType:
    """The module emulating the algorithm ``name`` (``kmeans``, ``linear-learner``...: the
    module ``linear_learner``). Raises KeyError for an unknown one."""
    module_name = name.replace("-", "_")
    if not module_name.isidentifier() or module_name in _SUPPORT_MODULES:
        raise KeyError(name)
    try:
        return importlib.import_module(f"{__name__}.{module_name}")
    except ModuleNotFoundError as error:
        if error.name == f"{__name__}.{module_name}":
            raise KeyError(name) from None
        raise


_SUPPORT_MODULES = {"data", "hyperparameters", "ndarray", "records", "serving", "train"}
