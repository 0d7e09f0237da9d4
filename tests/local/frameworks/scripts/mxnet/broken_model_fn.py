"""model_fn raises: the endpoint must fail to start with this message."""


def model_fn(model_dir):
    raise RuntimeError("cannot load weights: model.params is truncated")
