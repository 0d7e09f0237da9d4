"""scikit-learn: the conventions of the SageMaker Python SDK's ``sagemaker.sklearn.SKLearn``
estimator and ``SKLearnModel``.

Its images (``sagemaker-scikit-learn``, CPU, Python 3) are in ``data/sklearn.json``. As in the SDK,
py_version is ``py3``, the base job name is the image's repository name, training runs on
one instance (the SDK's ``SKLearn`` refuses ``instance_count`` other than 1: scikit-learn does not
train across instances) and takes no distribution, and the images have no GPU build (the
registry lists CPU images only, so a GPU instance type is refused). The model's code is
referenced by SAGEMAKER_SUBMIT_DIRECTORY (the SDK repacks it into the model only with network
isolation), and the model serves with the training image (``SKLearn.create_model``). The
default framework_version is smflow's: ``1.2-1``.
"""

from __future__ import annotations

from smflow.frameworks import Framework

FRAMEWORK = Framework(
    name="sklearn",
    title="scikit-learn",
    base_job_name="sagemaker-scikit-learn",
    default_version="1.2-1",
    preferred_py_version="py3",
    max_instance_count=1,
    serves_with_training_image=True,
)
