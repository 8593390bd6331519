"""Put a cut-out car on a new background (with an optional soft contact shadow), or tint it on its photo."""

from __future__ import annotations

import cv2
import numpy as np

from carseg_model.colors import parse_color
from carseg_model.image_io import ImageInput, load_image

Background = str | tuple[int, int, int] | ImageInput
"""``"transparent"``, ``"blur"``, a colour (``"white"``, ``"#f0f0f0"``, ``(R, G, B)``) or an image (path, bytes, PIL, array)."""

SHADOW_OPACITY = 0.45
"""Darkness of the contact shadow at its centre."""

SHADOW_SCALE = 8
"""The contact shadow is drawn at 1/8 of the photo's size."""

BLUR_SIGMA = 0.02
"""Blur of a ``"blur"`` background: Gaussian sigma as a share of the photo's longer side."""


def background_image(background: Background, photo: np.ndarray) -> np.ndarray:
    """The background for ``photo`` as ``(H, W, 3)`` uint8 RGB: a colour, the photo blurred, or an image
    scaled to cover the photo and centre-cropped."""
    height, width = photo.shape[:2]
    if isinstance(background, str) and background == "blur":
        small = cv2.resize(photo, (max(1, width // 8), max(1, height // 8)), interpolation=cv2.INTER_AREA)
        sigma = BLUR_SIGMA * max(height, width) / 8
        return cv2.resize(cv2.GaussianBlur(small, (0, 0), sigma), (width, height), interpolation=cv2.INTER_LINEAR)
    colour = _as_colour(background)
    if colour is not None:
        return np.full((height, width, 3), colour, np.uint8)
    image = load_image(background, max_pixels=10 * height * width + 50_000_000)
    scale = max(height / image.shape[0], width / image.shape[1])
    resized = cv2.resize(
        image,
        (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    top, left = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[top : top + height, left : left + width])


def contact_shadow(size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """``(H, W)`` uint8 shadow strength (0..255): a soft ellipse under the bottom of the car's ``box``.

    Drawn and blurred at 1/8 scale (a soft shadow has no detail), then upsampled.
    """
    height, width = size
    left, top, right, bottom = (value / SHADOW_SCALE for value in box)
    car_width, car_height = right - left, bottom - top
    small = np.zeros((max(1, height // SHADOW_SCALE), max(1, width // SHADOW_SCALE)), np.uint8)
    centre = (round((left + right) / 2), round(bottom - 0.02 * car_height))
    axes = (max(1, round(0.48 * car_width)), max(1, round(0.07 * car_height)))
    cv2.ellipse(small, centre, axes, 0, 0, 360, round(255 * SHADOW_OPACITY), thickness=-1, lineType=cv2.LINE_AA)
    small = cv2.GaussianBlur(small, (0, 0), max(0.5, 0.04 * car_height))
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def paint_overlay(
    image: np.ndarray, mask: np.ndarray, color: tuple[int, int, int], opacity: float, outline_width: int | None
) -> np.ndarray:
    """A copy of ``image`` (RGB uint8) with the pixels where ``mask`` (uint8, non-zero: car) is set
    tinted in ``color`` at ``opacity`` and outlined ``outline_width`` pixels wide (``None``: scaled
    with the image, ``0``: none). Only the car's box is worked on."""
    painted = image.copy()
    left, top, width, height = cv2.boundingRect(mask)
    if width == 0:
        return painted
    region, car = painted[top : top + height, left : left + width], mask[top : top + height, left : left + width]
    cv2.copyTo(cv2.LUT(region, _tint_table(color, opacity)), car, region)  # into `painted`
    if outline_width is None:
        outline_width = max(1, round(min(mask.shape) / 250))
    if outline_width > 0:
        contours, _ = cv2.findContours(car, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(left, top))
        cv2.drawContours(painted, contours, -1, color, outline_width, cv2.LINE_AA)
    return painted


def _tint_table(color: tuple[int, int, int], opacity: float) -> np.ndarray:
    """A `cv2.LUT` table ``(1, 256, 3)``: each channel's value ``v`` -> ``v * (1 - opacity) + color * opacity``,
    rounded (one table lookup per pixel instead of a scale and an add)."""
    values = np.arange(256, dtype=np.float32)[:, None]
    table = np.round(values * np.float32(1.0 - opacity)) + np.round(np.asarray(color, np.float64) * opacity)
    return np.clip(table, 0, 255).astype(np.uint8)[None]


def blend(foreground: np.ndarray, background: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``foreground * alpha + background * (1 - alpha)`` with alpha uint8 0..255; RGB uint8."""
    weight = alpha.astype(np.float32) * np.float32(1 / 255)
    return cv2.blendLinear(foreground, background, weight, 1.0 - weight)


def darken(image: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """``image * (1 - strength / 255)``: a shadow of ``strength`` (uint8) laid on ``image``."""
    return blend(np.zeros_like(image), image, strength)


def _as_colour(background: Background) -> tuple[int, int, int] | None:
    if isinstance(background, tuple) and len(background) == 3 and all(isinstance(c, int) for c in background):
        return parse_color(background)
    if isinstance(background, str) and not _looks_like_path(background):
        return parse_color(background)
    return None


def _looks_like_path(text: str) -> bool:
    return "/" in text or "\\" in text or "." in text
