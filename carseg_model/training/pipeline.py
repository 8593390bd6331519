"""tf.data pipelines: augmented training batches of a `SampleCache` or of scenes (`SceneSampler`), and plain
evaluation batches.

Each epoch's order and each element's augmentation are pure functions of ``(seed, epoch,
index)`` (stateless random ops, or the sampler's seeded NumPy generators), so a seeded run is
repeatable and a resumed run sees exactly the batches the uninterrupted run would have.
A `TrainingFeed` hands either kind of training batches to the training loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from carseg_model.config import CarSegConfig
from carseg_model.datasets import SampleCache
from carseg_model.preprocessing import scale_pixels
from carseg_model.training.augment import augment, copy_paste, donor_index
from carseg_model.training.options import Augmentations
from carseg_model.training.scenes import SceneSampler

Fetch = Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]


@dataclass(frozen=True)
class TrainingFeed:
    """A run's training batches: ``dataset(first_epoch, end_epoch)``, ``steps`` global batches an epoch."""

    dataset: Callable[[int, int], tf.data.Dataset]
    steps: int


def cache_feed(
    cache: SampleCache,
    config: CarSegConfig,
    batch_size: int,
    augmentations: Augmentations,
    seed: int,
    replicas: int = 1,
) -> TrainingFeed:
    """`training_dataset` batches of a decoded cache for ``replicas`` replicas (the last batch of an epoch may be
    smaller)."""
    return TrainingFeed(
        lambda first, end: training_dataset(cache, config, batch_size, augmentations, seed, first, end, replicas),
        steps_per_epoch(cache, batch_size, replicas),
    )


def scene_feed(sampler: SceneSampler, config: CarSegConfig, batch_size: int) -> TrainingFeed:
    """`scene_dataset` batches (full batches only)."""
    if len(sampler) < batch_size:
        raise ValueError(f"--scenes needs at least --batch-size ({batch_size}) training photos; got {len(sampler)}")
    return TrainingFeed(
        lambda first, end: scene_dataset(sampler, config, batch_size, first, end), len(sampler) // batch_size
    )


def steps_per_epoch(cache: SampleCache, batch_size: int, replicas: int = 1) -> int:
    """Batches in one epoch (the last one may be smaller)."""
    return math.ceil(photos_per_epoch(len(cache), batch_size, replicas) / batch_size)


def photos_per_epoch(photos: int, batch_size: int, replicas: int = 1) -> int:
    """How many of ``photos`` an epoch trains on: all, unless a last, smaller batch would leave one of the
    ``replicas`` without a photo (a BatchNormalization layer cannot train on none); then all but those."""
    rest = photos % batch_size
    return photos - rest if rest < replicas else photos


def training_dataset(
    cache: SampleCache,
    config: CarSegConfig,
    batch_size: int,
    augmentations: Augmentations,
    seed: int,
    first_epoch: int,
    end_epoch: int,
    replicas: int = 1,
) -> tf.data.Dataset:
    """Batches of epochs ``first_epoch .. end_epoch - 1`` back to back: ``(network input, mask)`` pairs.

    Epoch ``e`` has ``steps_per_epoch(cache, batch_size, replicas)`` batches: a seeded permutation
    of the cache (its first `photos_per_epoch`), element ``i`` of it augmented with a seed made
    from ``(seed, e, i)``.
    """
    fetch = _fetcher(cache)
    count = len(cache)
    photos = photos_per_epoch(count, batch_size, replicas)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        epoch_seed = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.random.experimental.stateless_shuffle(tf.range(count, dtype=tf.int64), seed=epoch_seed)

        def augmented(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            element_seed = tf.random.experimental.stateless_fold_in(epoch_seed, index)
            image, mask = fetch(index)
            if augmentations.copy_paste:
                donor_seed, element_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
                image, mask = copy_paste(image, mask, *fetch(donor_index(index, count, donor_seed)), element_seed)
            image, mask = augment(image, mask, augmentations, element_seed)
            return scale_pixels(image, config), mask

        return (
            tf.data.Dataset.from_tensor_slices(order[:photos])
            .map(augmented, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch_size)
        )

    dataset = tf.data.Dataset.range(first_epoch, end_epoch).flat_map(epoch_batches)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_pipeline_options())


def scene_dataset(
    sampler: SceneSampler, config: CarSegConfig, batch_size: int, first_epoch: int, end_epoch: int
) -> tf.data.Dataset:
    """Batches of scene elements of epochs ``first_epoch .. end_epoch - 1``: ``(network input, soft target)``.

    Epoch ``e`` takes the photos in ``sampler.epoch_order(e)``, cut to whole batches; element
    ``(e, i)`` is ``sampler.element(e, i)``, made in parallel threads (NumPy and OpenCV).
    """
    whole = len(sampler) // batch_size * batch_size
    pairs = [(epoch, index) for epoch in range(first_epoch, end_epoch) for index in sampler.epoch_order(epoch)[:whole]]
    height, width = sampler.size

    def element(pair: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, target = tf.numpy_function(
            lambda p: sampler.element(int(p[0]), int(p[1])), [pair], [tf.uint8, tf.float32], stateful=False
        )
        image = tf.ensure_shape(tf.cast(image, tf.float32), [height, width, 3])
        return scale_pixels(image, config), tf.ensure_shape(target[..., None], [height, width, 1])

    dataset = (
        tf.data.Dataset.from_tensor_slices(np.array(pairs, np.int64).reshape(-1, 2))
        .map(element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=True)
    )
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_pipeline_options())


def evaluation_dataset(cache: SampleCache, config: CarSegConfig, batch_size: int) -> tf.data.Dataset:
    """``(network input, mask)`` batches of the cache in order, without augmentation (for validation)."""
    fetch = _fetcher(cache)

    def unaugmented(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, mask = fetch(index)
        return scale_pixels(image, config), mask

    dataset = (
        tf.data.Dataset.range(len(cache))
        .map(unaugmented, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size)
    )
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(_pipeline_options())


def _pipeline_options() -> tf.data.Options:
    """Deterministic order; each worker of a multi-worker run takes its share of the batches."""
    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def _fetcher(cache: SampleCache) -> Fetch:
    """``index -> (image, mask)`` from the in-memory cache as float32 ``[0, 255]`` and ``{0, 1}``."""
    height, width = cache.images.shape[1:3]

    def fetch(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, mask = tf.numpy_function(
            lambda i: (cache.images[i], cache.masks[i]), [index], [tf.uint8, tf.uint8], stateful=False
        )
        image = tf.ensure_shape(tf.cast(image, tf.float32), [height, width, 3])
        mask = tf.ensure_shape(tf.cast(mask[..., None], tf.float32), [height, width, 1])
        return image, mask

    return fetch
