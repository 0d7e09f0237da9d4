"""TensorFlow Serving pre/post-processing (``code/inference.py``): ``input_handler`` turns
``application/x-iris`` bodies (one space-separated row of four measurements per line) into a
predict request; ``output_handler`` answers the species names as JSON with what ``context`` said.
A body that starts with ``boom`` makes the handler raise."""

import json

import numpy as np

SPECIES = ["setosa", "versicolor", "virginica"]


def input_handler(data, context):
    text = data.read().decode("utf-8")
    if text.startswith("boom"):
        raise ValueError("boom: input_handler refused the request")
    if context.request_content_type == "application/x-iris":
        rows = [[float(value) for value in line.split()] for line in text.strip().splitlines()]
        return json.dumps({"instances": rows})
    return text  # TFS JSON as it came


def output_handler(response, context):
    if response.status_code != 200:
        raise ValueError(response.content.decode("utf-8"))
    scores = np.asarray(response.json()["predictions"])
    answer = {
        "species": [SPECIES[index] for index in scores.argmax(axis=1)],
        "content_type": context.request_content_type,
        "accept": context.accept_header,
        "method": context.method,
        "rest_uri": context.rest_uri,
    }
    return json.dumps(answer), "application/json"
