"""Augmentations: shapes kept, masks binary and aligned with the photo, the same seed giving the same result."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from carseg_model.training.augment import augment, color_jitter, copy_paste, donor_index, rescale_and_place
from carseg_model.training.options import Augmentations

SIZE = (32, 48)


def pair(seed: int = 0) -> tuple[tf.Tensor, tf.Tensor]:
    """A random photo whose red channel is 255 exactly on the (random rectangle) mask."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((*SIZE, 1), np.float32)
    mask[8:20, 10:30] = 1.0
    image = rng.uniform(0, 200, (*SIZE, 3)).astype(np.float32)
    image[..., 0] = np.where(mask[..., 0] > 0, 255.0, image[..., 0])
    return tf.constant(image), tf.constant(mask)


def seed(*values: int) -> tf.Tensor:
    return tf.constant(values or (1, 2), tf.int64)


def test_nothing_switched_on_changes_nothing() -> None:
    image, mask = pair()
    out_image, out_mask = augment(image, mask, Augmentations.parse(""), seed())
    np.testing.assert_array_equal(out_image, image)
    np.testing.assert_array_equal(out_mask, mask)


def test_same_seed_same_result_other_seed_other_result() -> None:
    image, mask = pair()
    everything = Augmentations()
    first, again, other = (augment(image, mask, everything, s) for s in (seed(1, 2), seed(1, 2), seed(1, 3)))
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


@pytest.mark.parametrize("value", range(6))
def test_scale_keeps_the_size_and_the_mask_on_the_car(value: int) -> None:
    image, mask = pair()
    out_image, out_mask = rescale_and_place(image, mask, (0.5, 2.0), seed(value, 0))
    assert out_image.shape == (*SIZE, 3) and out_mask.shape == (*SIZE, 1)
    assert set(np.unique(out_mask)) <= {0.0, 1.0}
    inside = out_mask.numpy()[..., 0] > 0
    eroded = inside & np.roll(inside, 1, 0) & np.roll(inside, -1, 0) & np.roll(inside, 1, 1) & np.roll(inside, -1, 1)
    assert (out_image.numpy()[..., 0][eroded] > 250).all()  # the mask still covers the car's pixels


def test_flip_mirrors_photo_and_mask_together() -> None:
    image, mask = pair()
    flips = Augmentations.parse("flip")
    outcomes = [augment(image, mask, flips, seed(value, 0)) for value in range(8)]
    mirrored = [np.array_equal(out_mask, mask.numpy()[:, ::-1]) for _, out_mask in outcomes]
    assert any(mirrored) and not all(mirrored)
    for (out_image, _), flipped in zip(outcomes, mirrored):
        np.testing.assert_array_equal(out_image, image.numpy()[:, ::-1] if flipped else image)


def test_color_jitter_stays_in_range() -> None:
    jittered = color_jitter(pair()[0], seed()).numpy()
    assert jittered.min() >= 0.0 and jittered.max() <= 255.0 and jittered.shape == (*SIZE, 3)


def test_copy_paste_unites_the_masks() -> None:
    image, mask = pair(0)
    donor_image, donor_mask = tf.zeros_like(image) + 7.0, tf.ones_like(mask)  # a "car" covering its whole photo
    results = [copy_paste(image, mask, donor_image, donor_mask, seed(value, 0)) for value in range(8)]
    pasted_any = False
    for out_image, out_mask in results:
        assert (out_mask.numpy() >= mask.numpy()).all()
        pasted = (out_mask.numpy() > mask.numpy())[..., 0]
        assert (out_image.numpy()[pasted] == 7.0).all()
        pasted_any |= pasted.any()
    assert pasted_any


def test_the_donor_is_another_element() -> None:
    donors = [int(donor_index(tf.constant(3, tf.int64), 5, seed(value, 0))) for value in range(20)]
    assert set(donors) <= {0, 1, 2, 4} and len(set(donors)) > 1
    assert int(donor_index(tf.constant(0, tf.int64), 1, seed())) == 0
