"""Script-mode Keras training for SageMaker's TensorFlow images: a small classifier on the CSV
files of the ``train`` channel (label first), exported as a SavedModel to
``SM_MODEL_DIR/<model_version>`` for TensorFlow Serving."""

import argparse
import glob
import json
import os

import numpy as np
import tensorflow as tf

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=30)
parser.add_argument("--learning-rate", type=float, default=0.05)
parser.add_argument("--model_version", type=str, default="1")
parser.add_argument("--model_dir", type=str)  # the SDK's s3:// model_dir: unused here, as in AWS's examples
parser.add_argument("--sm-model-dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
args, _ = parser.parse_known_args()

rows = np.concatenate([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(glob.glob(os.path.join(args.train, "*.csv")))])
labels, features = rows[:, 0].astype("int64"), rows[:, 1:].astype("float32")
classes = int(labels.max()) + 1

tf.random.set_seed(0)
model = tf.keras.Sequential([
    tf.keras.Input(shape=(features.shape[1],)),
    tf.keras.layers.Dense(16, activation="relu"),
    tf.keras.layers.Dense(classes, activation="softmax"),
])
model.compile(optimizer=tf.keras.optimizers.Adam(args.learning_rate), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(features, labels, epochs=args.epochs, batch_size=16, verbose=2)
print(f"final accuracy={history.history['accuracy'][-1]:.4f};")
print("model_dir hyperparameter:", json.dumps(args.model_dir))

export_dir = os.path.join(args.sm_model_dir, args.model_version)
if hasattr(model, "export"):
    model.export(export_dir)  # Keras 2.13 and later: a SavedModel with a serving_default signature
else:
    tf.saved_model.save(model, export_dir)
