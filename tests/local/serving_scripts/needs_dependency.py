"""Imports a package that only its requirements.txt provides."""

import json

import tinydep


def model_fn(model_dir):
    return tinydep.VALUE


def transform_fn(model, request_body, content_type, accept):
    return json.dumps({"value": model, "module": tinydep.__file__}), "application/json"
