"""Runtimes that turn a preprocessed batch into car probabilities.

A backend is a callable ``(N, H, W, 3) float32 -> (N, H, W) float32``. Each one
imports its runtime when it is created, so importing carseg never imports TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import keras


class KerasBackend:
    """Runs a Keras network through one compiled ``tf.function`` with a fixed input signature.

    The signature leaves only the batch size open, so every batch reuses one trace
    (``model.predict`` per image is ~2.5x slower on CPU).
    """

    def __init__(self, network: keras.Model) -> None:
        import keras
        import tensorflow as tf

        if keras.config.backend() != "tensorflow":
            raise RuntimeError(
                f"carseg runs Keras models on the TensorFlow backend, but KERAS_BACKEND is "
                f"{keras.config.backend()!r}; set KERAS_BACKEND=tensorflow"
            )
        height, width = network.input_shape[1:3]
        signature = [tf.TensorSpec([None, height, width, 3], tf.float32)]
        self._call = tf.function(lambda batch: network(batch, training=False), input_signature=signature)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self._call(batch).numpy()[..., 0]
