"""Photo -> network input, and network output -> full-size alpha (OpenCV, no TensorFlow)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import cv2
import numpy as np

from carseg_model.config import CarSegConfig, network_input_size
from carseg_model.image_io import Photo
from carseg_model.refinement import working_size

Pixels = TypeVar("Pixels")


def resize_image(image: np.ndarray, size: tuple[int, int], method: str) -> np.ndarray:
    """Resize an image to ``size = (height, width)``.

    ``"area"`` averages pixels when shrinking (no aliasing) and is bilinear when enlarging;
    ``"bilinear"`` is bilinear both ways.
    """
    height, width = size
    shrinking = height < image.shape[0] and width < image.shape[1]
    interpolation = cv2.INTER_AREA if method == "area" and shrinking else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def scale_pixels(image: Pixels, config: CarSegConfig) -> Pixels:
    """Float RGB in 0..255 -> network input: ``image * input_scale + input_offset`` (the one place for it).

    Works on float32 numpy arrays and TensorFlow tensors alike and keeps their dtype
    (inference, the training pipeline and int8 calibration all scale pixels here).
    """
    return image * config.input_scale + config.input_offset  # type: ignore[operator]


def preprocess(image: np.ndarray, config: CarSegConfig) -> np.ndarray:
    """RGB uint8 photo of any size -> float32 ``(H, W, 3)`` network input as the config says
    (its size is `network_input_size`)."""
    return network_input(Photo.from_pixels(image), config)


def network_input(photo: Photo, config: CarSegConfig, scale: float = 1.0) -> np.ndarray:
    """A `Photo` -> float32 ``(H, W, 3)`` network input of `network_input_size` (at ``scale``), decoded no
    larger than needed.

    With ``refine_edges`` the photo is decoded once at the edge refinement's working size (the
    photo keeps that decode), so the refinement does not decode it again.
    """
    size = network_input_size(photo.size, config, scale)
    working = working_size(photo.size) if config.refine_edges else size
    decode = (max(size[0], working[0]), max(size[1], working[1]))
    return scale_pixels(resize_image(photo.reduced(decode), size, config.resize_method).astype(np.float32), config)


def upsample_alpha(probabilities: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An ``(h, w)`` probability map -> ``size = (height, width)`` uint8 alpha, 0..255, resized bilinearly
    in uint8 (a 256th of probability apart from the float way, many times faster, a quarter of the memory)."""
    height, width = size
    levels = np.clip(probabilities * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(levels, (width, height), interpolation=cv2.INTER_LINEAR)


def average_probabilities(maps: Sequence[np.ndarray]) -> np.ndarray:
    """One photo's probability maps from several network input sizes (`CarSegConfig.test_time_scales`),
    averaged at the largest map's size (the others resized bilinearly); one map is returned as it is."""
    if len(maps) == 1:
        return maps[0]
    height, width = max((probabilities.shape for probabilities in maps), key=lambda shape: shape[0] * shape[1])
    same_size = [
        cv2.resize(probabilities, (width, height), interpolation=cv2.INTER_LINEAR)
        if probabilities.shape != (height, width)
        else probabilities
        for probabilities in maps
    ]
    return np.mean(same_size, axis=0, dtype=np.float32)
