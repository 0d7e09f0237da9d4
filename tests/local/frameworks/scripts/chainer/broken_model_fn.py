"""model_fn raises: the model server does not start and the message reaches the user."""


def model_fn(model_dir):
    raise RuntimeError("cannot load weights: model.npz was saved by another network")
