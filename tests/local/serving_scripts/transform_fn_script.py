"""Defines transform_fn alone: it receives the raw body, content type and accept.

The model is model_dir/weights.json ({"weights": [...]}); NumPy only.
"""

import json
import os

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return np.array(json.load(handle)["weights"], dtype=float)


def transform_fn(model, request_body, content_type, accept):
    rows = np.array(json.loads(request_body)["instances"], dtype=float)
    scores = (rows @ model).tolist()
    return json.dumps({"scores": scores, "content_type": content_type, "accept": accept}), accept
