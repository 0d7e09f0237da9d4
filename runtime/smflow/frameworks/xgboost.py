"""XGBoost in script mode: the conventions of the SageMaker Python SDK's
``sagemaker.xgboost.XGBoost`` estimator and ``XGBoostModel``.

Its images (``sagemaker-xgboost``; ``xgboost`` for the built-in algorithm's version ``"1"``) are
in ``data/xgboost.json``; training and inference use the same image. As in the SDK: py_version
must be ``py3`` (``xgboost.utils.validate_py_version``), XGBoost 1.1 is refused
(``XGBOOST_UNSUPPORTED_VERSIONS``), training may use several instances (the container trains with
Rabit across hosts) and takes no ``distribution``; the HyperParameters and the model's
Environment are script mode's; the model serves with the training image
(``XGBoost.create_model``). The default framework_version is smflow's: ``1.7-1``.
"""

from __future__ import annotations

from smflow.errors import ConfigurationError
from smflow.frameworks import Framework

UNSUPPORTED_RELEASES = {
    "1.1": "XGBoost 1.1 cannot predict on LIBSVM input with fewer features than the training data; use 1.2-1 or later"
}


class XGBoost(Framework):
    """SDK ``XGBoost``: py3 only, no XGBoost 1.1."""

    def _check_training(self, *, version, py_version, instance_type, instance_count, framework_options) -> None:
        if py_version != "py3":
            raise ConfigurationError(f"py_version {py_version!r} is not supported by SageMaker XGBoost; use py3")
        reason = UNSUPPORTED_RELEASES.get((version or "").split("-")[0])
        if reason:
            raise ConfigurationError(f"framework_version {version!r} is not supported: {reason}")


FRAMEWORK = XGBoost(
    name="xgboost",
    title="XGBoost",
    base_job_name="sagemaker-xgboost",
    default_version="1.7-1",
    preferred_py_version="py3",
    serves_with_training_image=True,
)
