"""Iris with TensorFlow (Keras), for SageMaker's TensorFlow containers (script mode).

Training: reads ``iris.csv`` (label first, no header) from ``SM_CHANNEL_TRAIN``, fits a small
dense network and exports it as a SavedModel under ``SM_MODEL_DIR/1``: the layout TensorFlow
Serving (the TensorFlow inference container) loads, answering ``{"instances": [[...4 features]]}``
with the three class scores per row. ``--model_dir`` (the S3 URI the estimator passes) is accepted
and not used: the model goes to ``SM_MODEL_DIR``, which SageMaker uploads.
"""

import argparse
import os
from pathlib import Path

import numpy as np
import tensorflow as tf


def main(arguments) -> None:
    files = sorted(Path(arguments.train).glob("*.csv"))
    table = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in files])
    features, labels = table[:, 1:].astype("float32"), table[:, 0].astype("int64")
    tf.random.set_seed(0)
    model = tf.keras.Sequential([
        tf.keras.Input(shape=(4,)),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(arguments.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(features, labels, epochs=arguments.epochs, verbose=0)
    print(f"loss={history.history['loss'][-1]:.4f} train_accuracy={history.history['accuracy'][-1]:.4f}")
    tf.saved_model.save(model, str(Path(arguments.sm_model_dir) / "1"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--model_dir")  # the estimator's S3 model_dir; unused
    parser.add_argument("--sm-model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    main(parser.parse_args())
