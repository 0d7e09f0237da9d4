"""Writes a SavedModel without any signature to ``argv[1]/1`` (TensorFlow Serving cannot serve it)."""

import os
import sys

import tensorflow as tf

module = tf.Module()
module.weights = tf.Variable([1.0, 2.0])
tf.saved_model.save(module, os.path.join(sys.argv[1], "1"))
