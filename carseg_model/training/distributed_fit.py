"""`distributed_fit`: Keras's ``fit`` loop (callbacks, logs, validation) with its steps run by ``tf.distribute``.

Keras 3's ``Model.fit`` fails under ``MultiWorkerMirroredStrategy`` (it reduces batches and scalar
metrics in ways that strategy rejects: "Attempt to convert a value (PerReplica...) with an unsupported
type"), so every ``--strategy`` trains through this loop. Each replica computes the loss of its share
of the global batch, the optimizer sums the replicas' gradients, and the loss and metrics are summed
over all replicas of all workers per photo with ``strategy.reduce``: every worker logs, and so stops
or lowers its learning rate on, the same numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from carseg_model.losses import dice_coef, iou_coef

METRICS = {"dice_coef": dice_coef, "iou_coef": iou_coef}
"""The metrics logged besides ``loss`` (and ``val_``-prefixed for validation), as ``fit`` logged them."""

Step = Callable[[tf.Tensor], tf.Tensor]


def distributed_fit(
    network: keras.Model,
    strategy: tf.distribute.Strategy,
    batches: tf.data.Dataset,
    steps_per_epoch: int,
    initial_epoch: int,
    epochs: int,
    validation: tf.data.Dataset,
    callbacks: Sequence[keras.callbacks.Callback],
) -> None:
    """Train epochs ``initial_epoch .. epochs - 1`` of ``steps_per_epoch`` global batches of ``batches`` each,
    validate on all of ``validation`` after each epoch and call ``callbacks`` as ``network.fit`` would.

    ``network`` is compiled in ``strategy``'s scope with its loss and a built optimizer (see
    `carseg_model.training.loop.compile_for`). Stops early when a callback sets ``network.stop_training``.
    """
    callback_list = keras.callbacks.CallbackList(
        list(callbacks), add_progbar=True, verbose=1, epochs=epochs, steps=steps_per_epoch, model=network
    )
    train_step, test_step = _train_step(network, strategy), _test_step(network, strategy)
    training = iter(strategy.experimental_distribute_dataset(batches))
    validating = strategy.experimental_distribute_dataset(validation)
    network.stop_training = False
    callback_list.on_train_begin()
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        sums = np.zeros(2 + len(METRICS))
        for step in range(steps_per_epoch):
            callback_list.on_train_batch_begin(step)
            sums += train_step(next(training)).numpy()
            callback_list.on_train_batch_end(step, _means(sums))
        val_sums = sum((test_step(batch).numpy() for batch in validating), np.zeros_like(sums))
        logs = {**_means(sums), **{f"val_{name}": value for name, value in _means(val_sums).items()}}
        callback_list.on_epoch_end(epoch, logs)
        if network.stop_training:
            break
    callback_list.on_train_end(logs)


def _train_step(network: keras.Model, strategy: tf.distribute.Strategy) -> Step:
    """A global batch -> `_photo_sums` over all replicas, after one optimizer step on the trainable weights."""
    variables = network.trainable_variables

    def replica_step(images: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        photos = tf.cast(tf.shape(images)[0], tf.float32)
        all_photos = tf.distribute.get_replica_context().all_reduce("SUM", photos)
        with tf.GradientTape() as tape:
            predictions = network(images, training=True)
            loss = network.loss(masks, predictions)
            share = tf.math.multiply_no_nan(loss, photos / all_photos)  # the optimizer sums the shares' gradients
        gradients = tape.gradient(share, variables)
        network.optimizer.apply_gradients(zip(gradients, variables))
        return _photo_sums(photos, loss, masks, predictions)

    @tf.function(reduce_retracing=True)
    def step(batch: tf.Tensor) -> tf.Tensor:
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    return step


def _test_step(network: keras.Model, strategy: tf.distribute.Strategy) -> Step:
    """A global batch -> `_photo_sums` over all replicas, the network in inference mode."""

    def replica_step(images: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
        predictions = network(images, training=False)
        photos = tf.cast(tf.shape(images)[0], tf.float32)
        return _photo_sums(photos, network.loss(masks, predictions), masks, predictions)

    @tf.function(reduce_retracing=True)
    def step(batch: tf.Tensor) -> tf.Tensor:
        return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

    return step


def _photo_sums(photos: tf.Tensor, loss: tf.Tensor, masks: tf.Tensor, predictions: tf.Tensor) -> tf.Tensor:
    """``[photos, loss x photos, metric x photos for each of METRICS]``: summed over replicas, then divided by
    the photos, the means over all photos. A replica with no photos (the last, small batch) adds zeros."""
    values = [loss, *(metric(masks, predictions) for metric in METRICS.values())]
    return tf.stack([photos, *(tf.math.multiply_no_nan(value, photos) for value in values)])


def _means(sums: np.ndarray) -> dict[str, float]:
    """The logs of `_photo_sums` added up over batches: ``loss`` and each metric, means over the photos."""
    photos, *totals = sums
    return {name: float(total / max(photos, 1.0)) for name, total in zip(["loss", *METRICS], totals)}
