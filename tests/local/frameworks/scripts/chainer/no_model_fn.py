"""Defines no model_fn: the Chainer model server has no default model loader."""


def predict_fn(data, model):
    return model(data)
