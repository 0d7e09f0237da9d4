"""scikit-learn: the conventions of the SageMaker Python SDK's ``sagemaker.sklearn.SKLearn``
estimator and ``SKLearnModel``.

Its images (``sagemaker-scikit-learn``, CPU, Python 3) are in ``data/sklearn.json``. As in the SDK,
py_version is ``py3``, the base job name is the image's repository name, and training runs on
one instance (the SDK's ``SKLearn`` refuses ``instance_count`` other than 1: scikit-learn does not
train across instances). The default framework_version is smflow's: ``1.2-1``.
"""

from __future__ import annotations

from smflow.frameworks import Framework

FRAMEWORK = Framework(
    name="sklearn",
    title="scikit-learn",
    base_job_name="sagemaker-scikit-learn",
    default_version="1.2-1",
    default_py_version="py3",
    max_instance_count=1,
)
