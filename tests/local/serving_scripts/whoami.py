"""Answers with the serving process's id and a value from its environment (no model data)."""

import json
import os


def model_fn(model_dir):
    return {"pid": os.getpid(), "files": sorted(os.listdir(model_dir))}


def transform_fn(model, request_body, content_type, accept):
    return (
        json.dumps({"pid": model["pid"], "files": model["files"], "color": os.environ.get("COLOR")}),
        "application/json",
    )
