"""PCA (``pca``): AWS's "PCA Hyperparameters" page and the SDK's ``sagemaker.PCA``.

The data (``data/pca.json``) holds the names, types and required ones (``feature_dim``,
``mini_batch_size``, ``num_components``); the SDK's ``fit`` sends ``mini_batch_size``
``min(500, records per instance)``. Here: the rule between two of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from smflow.algorithms import HyperparameterError


def check(hyperparameters: Mapping[str, str]) -> None:
    """``num_components`` cannot exceed ``feature_dim`` (a projection keeps at most as many
    components as the data has features; AWS's page: "the number of principal components to
    compute", of ``feature_dim``-dimensional rows).

    Raises: HyperparameterError naming ``num_components``."""
    components, features = hyperparameters.get("num_components"), hyperparameters.get("feature_dim")
    if components and features and int(components) > int(features):
        raise HyperparameterError("PCA", "num_components", f"({components}) cannot exceed feature_dim ({features})")
