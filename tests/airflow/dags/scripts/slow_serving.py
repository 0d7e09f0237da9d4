"""Serves the Iris model of ``dags/scripts/scikit_learn_iris.py``, but ``model_fn`` takes 3 s, so
that a batch transform job with it stays InProgress long enough for a sensor to wait on it."""

import os
import time

import joblib

LOAD_SECONDS = 3


def model_fn(model_dir):
    time.sleep(LOAD_SECONDS)
    return joblib.load(os.path.join(model_dir, "model.joblib"))
