"""Training augmentations of one ``[0, 255]`` float image and its ``{0, 1}`` mask: scale/crop, flip, colour, copy-paste.

Every random choice is a stateless op of an explicit seed, so an element's augmentation is a
pure function of ``(run seed, epoch, index)`` (see `carseg_model.training.pipeline`).
"""

from __future__ import annotations

import math

import tensorflow as tf

from carseg_model.training.options import Augmentations

SCALE_RANGE = (0.75, 1.33)
"""Zoom factors of the scale/crop augmentation (below 1 zooms out and pads with black)."""
PASTE_SCALE_RANGE = (0.35, 1.0)
"""Size of a pasted car relative to its own photo."""
PASTE_PROBABILITY = 0.5


def augment(
    image: tf.Tensor, mask: tf.Tensor, augmentations: Augmentations, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Random scale/crop, horizontal flip and colour jitter (those switched on) of an image and its mask."""
    scale_seed, flip_seed, color_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if augmentations.scale:
        image, mask = rescale_and_place(image, mask, SCALE_RANGE, scale_seed)
    if augmentations.flip:
        flip = tf.random.stateless_uniform([], flip_seed) < 0.5
        image = tf.where(flip, tf.image.flip_left_right(image), image)
        mask = tf.where(flip, tf.image.flip_left_right(mask), mask)
    if augmentations.color:
        image = color_jitter(image, color_seed)
    return image, mask


def donor_index(index: tf.Tensor, count: int, seed: tf.Tensor) -> tf.Tensor:
    """A random element of ``0 .. count - 1`` other than ``index`` (itself when ``count`` is 1): the car to paste."""
    offset = tf.cast(uniform_int(seed, 0, max(count - 1, 1)), tf.int64)
    return (index + 1 + offset) % count


def copy_paste(
    image: tf.Tensor, mask: tf.Tensor, donor_image: tf.Tensor, donor_mask: tf.Tensor, seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """With probability `PASTE_PROBABILITY`, paste the car pixels of a donor sample, shrunk to a
    random size at a random position, onto the image; the masks are united.
    """
    place_seed, apply_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    donor_image, donor_mask = rescale_and_place(donor_image, donor_mask, PASTE_SCALE_RANGE, place_seed)
    apply = tf.cast(tf.random.stateless_uniform([], apply_seed) < PASTE_PROBABILITY, tf.float32)
    pasted = donor_mask * apply
    return image * (1.0 - pasted) + donor_image * pasted, tf.maximum(mask, pasted)


def rescale_and_place(
    image: tf.Tensor, mask: tf.Tensor, scale_range: tuple[float, float], seed: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Zoom by a random factor in ``scale_range`` (log-uniform) and put the result at a random
    position in a frame of the original size: cropped when larger, padded with zeros when smaller.
    """
    scale_seed, y_seed, x_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    height, width = image.shape[0], image.shape[1]
    log_low, log_high = math.log(scale_range[0]), math.log(scale_range[1])
    scale = tf.exp(tf.random.stateless_uniform([], scale_seed, log_low, log_high))
    new_height = tf.maximum(tf.cast(tf.round(height * scale), tf.int32), 1)
    new_width = tf.maximum(tf.cast(tf.round(width * scale), tf.int32), 1)
    image = tf.image.resize(image, tf.stack([new_height, new_width]), "bilinear")
    mask = tf.cast(tf.image.resize(mask, tf.stack([new_height, new_width]), "bilinear") >= 0.5, tf.float32)
    # Top-left corner of the zoomed image in the output frame, then pad by a full frame on
    # every side so one crop handles both zooming in and out.
    top = uniform_int(y_seed, -tf.maximum(new_height - height, 0), tf.maximum(height - new_height, 0) + 1)
    left = uniform_int(x_seed, -tf.maximum(new_width - width, 0), tf.maximum(width - new_width, 0) + 1)
    begin = tf.stack([height - top, width - left, 0])
    padding = [[height, height], [width, width], [0, 0]]
    image = tf.slice(tf.pad(image, padding), begin, [height, width, 3])
    mask = tf.slice(tf.pad(mask, padding), begin, [height, width, 1])
    return image, mask


def color_jitter(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Random brightness, contrast, saturation and hue of a ``[0, 255]`` RGB image."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 4))
    image = image / 255.0
    image = tf.image.stateless_random_brightness(image, 0.15, seeds[0])
    image = tf.image.stateless_random_contrast(image, 0.75, 1.25, seeds[1])
    image = tf.image.stateless_random_saturation(tf.clip_by_value(image, 0.0, 1.0), 0.7, 1.3, seeds[2])
    image = tf.image.stateless_random_hue(image, 0.04, seeds[3])
    return tf.clip_by_value(image, 0.0, 1.0) * 255.0


def uniform_int(seed: tf.Tensor, low: int | tf.Tensor, high: int | tf.Tensor) -> tf.Tensor:
    """A stateless random int32 in ``[low, high)``."""
    return tf.random.stateless_uniform([], seed, minval=low, maxval=high, dtype=tf.int32)
