"""TensorFlow Serving ``handler(data, context)``: posts the request to TensorFlow Serving's REST
API itself (``context.rest_uri``) with requests, as AWS's examples do, and answers the class
indices as CSV."""

import json

import requests


def handler(data, context):
    body = json.loads(data.read().decode("utf-8"))
    response = requests.post(context.rest_uri, data=json.dumps({"instances": body}), timeout=30)
    if response.status_code != 200:
        raise ValueError(response.content.decode("utf-8"))
    predictions = response.json()["predictions"]
    classes = [max(range(len(row)), key=row.__getitem__) for row in predictions]
    return "\n".join(str(value) for value in classes) + "\n", "text/csv"
