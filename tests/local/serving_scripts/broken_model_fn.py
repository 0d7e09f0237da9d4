"""model_fn raises: the server must not start, and the reason must reach the user."""


def model_fn(model_dir):
    raise RuntimeError("cannot load weights: model.joblib is corrupted")
