"""Overrides input_fn, predict_fn and output_fn (the SageMaker Python SDK docs, "Serve a Model").

The model is model_dir/weights.json ({"weights": [...]}, a linear scorer; NumPy only, so the
server starts fast). input_fn reads "application/x-pipes" (rows separated by ';', fields by '|');
predict_fn scores rows and raises on negative features; output_fn answers a JSON document tagged
with who produced it, in content type "application/vnd.smflow+json".
"""

import json
import os

import numpy as np


def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        return np.array(json.load(handle)["weights"], dtype=float)


def input_fn(request_body, request_content_type):
    if request_content_type != "application/x-pipes":
        raise ValueError(f"overrides.input_fn only reads application/x-pipes, not {request_content_type}")
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    return np.array([[float(v) for v in row.split("|")] for row in text.split(";") if row])


def predict_fn(input_object, model):
    if (input_object < 0).any():
        raise ValueError("negative measurements cannot be scored")
    return input_object @ model


def output_fn(prediction, content_type):
    body = json.dumps({"scores": prediction.tolist(), "accept": content_type, "by": "output_fn"})
    return body, "application/vnd.smflow+json"
