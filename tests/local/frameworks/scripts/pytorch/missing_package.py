"""A training script that imports a package its environment does not have."""

import smflow_absent_package  # noqa: F401

print("never reached")
