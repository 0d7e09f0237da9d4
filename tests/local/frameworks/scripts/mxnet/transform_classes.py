"""transform_fn over the default model_fn's Module: JSON rows in, ``{"classes": [...]}`` out."""

import json

import mxnet as mx


def transform_fn(model, request_body, content_type, accept):
    rows = mx.nd.array(json.loads(request_body))
    scores = model.predict(mx.io.NDArrayIter(rows, batch_size=1))
    return json.dumps({"classes": scores.argmax(axis=1).asnumpy().astype(int).tolist()}), "application/json"
