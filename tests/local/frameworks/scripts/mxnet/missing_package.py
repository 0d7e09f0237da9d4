"""A training script that imports a package AWS's MXNet image does not have either."""

import gluonts  # noqa: F401

print("never reached")
