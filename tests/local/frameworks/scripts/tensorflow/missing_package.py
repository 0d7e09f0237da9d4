"""A training script that imports a package the environment does not have."""

import iris_feature_store_client  # noqa: F401  - not installed anywhere
import tensorflow as tf  # noqa: F401

print("unreachable")
