"""An input_fn with the signature of the SDK's MXNet page, ``input_fn(request_body,
request_content_type, model)``: the model server passes the Module the default model_fn loaded,
whose data shape turns 8x8 images (JSON ``{"images": [...]}``) into its rows of 64 pixels."""

import json

import mxnet as mx


def input_fn(request_body, request_content_type, model):
    if request_content_type != "application/vnd+digits-images":
        raise ValueError(f"send application/vnd+digits-images, not {request_content_type}")
    images = mx.nd.array(json.loads(request_body)["images"])
    (_, shape), = model.data_shapes
    rows = images.reshape((-1, *shape[1:]))
    return mx.io.NDArrayIter(rows, batch_size=shape[0])
