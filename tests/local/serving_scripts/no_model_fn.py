"""Defines predict_fn but no model_fn: the scikit-learn model server refuses to start."""


def predict_fn(input_object, model):
    return input_object
