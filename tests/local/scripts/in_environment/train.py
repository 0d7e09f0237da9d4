"""Runs in a framework environment built on demand: says which interpreter and packages it has."""

import importlib.util
import os
import sys

import six

print("prefix:", sys.prefix, flush=True)
print("six:", six.__version__, flush=True)
print("runtime packages visible:", importlib.util.find_spec("moto") is not None, flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "six.txt"), "w") as handle:
    handle.write(six.__version__)
