"""`distributed_fit` on a one-layer network (multi-worker runs: tests/test_train_multiworker.py)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from carseg_model.losses import dice_coef, dice_loss
from carseg_model.training.distributed_fit import distributed_fit

STRATEGY = tf.distribute.get_strategy()


def photos(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.uniform(-1, 1, (count, 8, 8, 3)).astype(np.float32)
    return images, (images[..., :1] > 0).astype(np.float32)


def compiled_network() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    network = keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid")(inputs))
    network.compile(optimizer=keras.optimizers.Adam(0.05), loss=dice_loss)
    network.optimizer.build(network.trainable_variables)
    return network


class Recorder(keras.callbacks.Callback):
    """Keeps each epoch's logs; sets ``stop_training`` after epoch ``stop_after``."""

    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.stop_after = stop_after
        self.logs: dict[int, dict[str, float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.logs[epoch] = dict(logs)
        if epoch == self.stop_after:
            self.model.stop_training = True


def fit(network: keras.Model, epochs: tuple[int, int], *callbacks: keras.callbacks.Callback) -> None:
    """Epochs ``epochs[0] .. epochs[1] - 1`` of 3 batches (2 + 2 + 1 photos); validation in batches of 2 + 1."""
    batches = tf.data.Dataset.from_tensor_slices(photos(5, seed=1)).batch(2).repeat()
    validation = tf.data.Dataset.from_tensor_slices(photos(3, seed=2)).batch(2)
    distributed_fit(network, STRATEGY, batches, 3, *epochs, validation, list(callbacks))


def test_it_trains_and_logs_the_means_over_the_photos() -> None:
    network = compiled_network()
    recorder = Recorder()
    fit(network, (0, 4), recorder)
    assert list(recorder.logs) == [0, 1, 2, 3] and int(network.optimizer.iterations) == 12
    last = recorder.logs[3]
    assert set(last) == {"loss", "dice_coef", "iou_coef", "val_loss", "val_dice_coef", "val_iou_coef"}
    assert recorder.logs[0]["loss"] > last["loss"] == pytest.approx(1 - last["dice_coef"])

    images, masks = photos(3, seed=2)  # each photo's Dice alone: the batches (2 + 1 photos) do not matter
    dices = [float(dice_coef(masks[i : i + 1], network(images[i : i + 1]))) for i in range(3)]
    assert last["val_dice_coef"] == pytest.approx(np.mean(dices), rel=1e-5)
    assert last["val_loss"] == pytest.approx(1 - np.mean(dices), rel=1e-5)


def test_a_callback_stops_training_after_an_epoch() -> None:
    network = compiled_network()
    recorder = Recorder(stop_after=2)
    fit(network, (1, 6), recorder)
    assert list(recorder.logs) == [1, 2] and int(network.optimizer.iterations) == 6
