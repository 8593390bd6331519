"""The tf.data pipelines (cached photos and scenes): batches, scaling, and epochs that are pure functions of (seed, epoch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from carseg_model.config import CarSegConfig
from carseg_model.datasets import Sample, SampleCache
from carseg_model.training.options import Augmentations
from carseg_model.training.pipeline import (
    evaluation_dataset,
    photos_per_epoch,
    scene_feed,
    steps_per_epoch,
    training_dataset,
)
from carseg_model.training.scenes import ScenePhoto, SceneSampler

CONFIG = CarSegConfig(input_size=(32, 32), encoder_weights=None)


def cache(count: int = 5) -> SampleCache:
    """Photo ``i`` is filled with the value ``10 * i``; its mask is its left half."""
    images = np.stack([np.full((32, 32, 3), 10 * i, np.uint8) for i in range(count)])
    masks = np.zeros((count, 32, 32), np.uint8)
    masks[:, :, :16] = 1
    samples = [Sample(Path(f"{i}.png"), Path(f"{i}_mask.png"), "d", None) for i in range(count)]
    return SampleCache(samples, images, masks)


def batches(dataset) -> list[tuple[np.ndarray, np.ndarray]]:  # noqa: ANN001 - a tf.data.Dataset
    return [(images.numpy(), masks.numpy()) for images, masks in dataset]


def test_evaluation_batches_in_order_scaled_as_the_config_says() -> None:
    result = batches(evaluation_dataset(cache(), CONFIG, batch_size=2))
    assert [images.shape for images, _ in result] == [(2, 32, 32, 3), (2, 32, 32, 3), (1, 32, 32, 3)]
    firsts = np.concatenate([images[:, 0, 0, 0] for images, _ in result])
    np.testing.assert_allclose(firsts, np.arange(5) * 10 / 127.5 - 1.0, rtol=1e-6)
    assert result[0][1].shape == (2, 32, 32, 1) and (result[0][1][:, :, :16] == 1).all()


def test_each_epoch_is_a_seeded_permutation() -> None:
    data = cache()
    assert steps_per_epoch(data, 2) == 3
    epochs = batches(training_dataset(data, CONFIG, 5, Augmentations.parse(""), seed=3, first_epoch=0, end_epoch=2))
    orders = [np.round((images[:, 0, 0, 0] + 1.0) * 127.5 / 10).astype(int).tolist() for images, _ in epochs]
    assert [sorted(order) for order in orders] == [[0, 1, 2, 3, 4]] * 2 and orders[0] != orders[1]
    again = batches(training_dataset(data, CONFIG, 5, Augmentations.parse(""), seed=3, first_epoch=0, end_epoch=2))
    np.testing.assert_array_equal(again[1][0], epochs[1][0])


def test_a_resumed_run_gets_the_same_augmented_batches() -> None:
    data = cache()
    whole = batches(training_dataset(data, CONFIG, 2, Augmentations(), seed=5, first_epoch=0, end_epoch=2))
    resumed = batches(training_dataset(data, CONFIG, 2, Augmentations(), seed=5, first_epoch=1, end_epoch=2))
    assert len(whole) == 6 and len(resumed) == 3
    for (images, masks), (again_images, again_masks) in zip(whole[3:], resumed):
        np.testing.assert_array_equal(images, again_images)
        np.testing.assert_array_equal(masks, again_masks)


def scene_sampler(count: int = 5) -> SceneSampler:
    """Photo ``i`` is filled with ``10 * (i + 1)``; its target is its left half."""
    target = np.zeros((32, 48), np.uint8)
    target[:, :24] = 255
    photos = [ScenePhoto(np.full((32, 48, 3), 10 * (i + 1), np.uint8), target, None, True) for i in range(count)]
    return SceneSampler(photos, (32, 64), seed=3)


def test_scene_batches_are_whole_scaled_and_the_same_when_resumed() -> None:
    sampler = scene_sampler()
    feed = scene_feed(sampler, CONFIG, batch_size=2)
    assert feed.steps == 2  # 5 photos: two whole batches an epoch
    whole = batches(feed.dataset(0, 2))
    assert [images.shape for images, _ in whole] == [(2, 32, 64, 3)] * 4
    assert whole[0][1].shape == (2, 32, 64, 1) and 0.0 <= whole[0][1].min() < whole[0][1].max() <= 1.0
    assert -1.0 <= whole[0][0].min() <= whole[0][0].max() <= 1.0
    first, _ = sampler.element(0, int(sampler.epoch_order(0)[0]))
    np.testing.assert_allclose(whole[0][0][0], first / 127.5 - 1.0, atol=1e-6)
    resumed = batches(feed.dataset(1, 2))
    for (images, targets), (again_images, again_targets) in zip(whole[2:], resumed, strict=True):
        np.testing.assert_array_equal(images, again_images)
        np.testing.assert_array_equal(targets, again_targets)


def test_scenes_need_a_batch_of_photos() -> None:
    with pytest.raises(ValueError, match=r"needs at least --batch-size \(8\) training photos; got 5"):
        scene_feed(scene_sampler(), CONFIG, batch_size=8)


def test_no_replica_gets_an_empty_last_batch() -> None:
    """A last batch smaller than the replica count is left out (e.g. 1 photo of batch 8 on 2 replicas)."""
    assert [photos_per_epoch(photos, 8, replicas=2) for photos in (16, 17, 18, 23)] == [16, 16, 18, 23]
    assert photos_per_epoch(17, 8) == 17 and photos_per_epoch(19, 8, replicas=4) == 16
    assert steps_per_epoch(cache(9), 4, replicas=2) == 2 and steps_per_epoch(cache(9), 4) == 3
    epochs = batches(training_dataset(cache(9), CONFIG, 4, Augmentations.parse(""), 3, 0, 2, replicas=2))
    assert [len(images) for images, _ in epochs] == [4, 4, 4, 4]
