"""The digits net, with a predict_fn that refuses negative pixel values: the request fails with
this message, and the endpoint goes on serving."""

from gluon_digits import model_fn  # noqa: F401 - the model server takes it from this module


def predict_fn(data, net):
    if data.min().asscalar() < 0:
        raise ValueError(f"pixel values must be in [0, 1], got {data.min().asscalar()}")
    return net(data)
