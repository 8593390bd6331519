"""`SegmentationResult`: one photo's car probabilities, and the images made from them on demand."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from carseg_model.colors import parse_color
from carseg_model.config import check_threshold
from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY
from carseg_model.encoding import write_image
from carseg_model.image_io import Photo

Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in pixels; right and bottom are exclusive."""


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """The prediction for one photo; full-size images are made when asked for, in uint8, and kept.

    It holds the network-size probabilities (a few hundred KB), not full-size float arrays: the
    full-size ``alpha`` (uint8), ``mask`` (bool), overlay and cut-out are computed on first use.
    A JPEG's full-size pixels are decoded only when an image needs them (``image``, `overlay`,
    `cutout`); `mask` never does.

    Attributes:
        photo: the photo (its upright ``size``; its pixels decoded on demand).
        network_probabilities: ``(h, w)`` float32 car probability at the network's input size.
        threshold: probability above which a pixel counts as car.
    """

    photo: Photo
    network_probabilities: np.ndarray
    threshold: float = 0.5
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_arrays(cls, image: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5) -> SegmentationResult:
        """A result for ``(H, W, 3)`` uint8 RGB ``image`` and ``(h, w)`` probabilities of any size (e.g. from a video loop)."""
        return cls(Photo.from_pixels(image), probabilities.astype(np.float32, copy=False), check_threshold(threshold))

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of the photo, and of every full-size image made from the result."""
        return self.photo.size

    @property
    def image(self) -> np.ndarray:
        """The photo as ``(H, W, 3)`` uint8 RGB, upright per its EXIF orientation (decoded on first use)."""
        return self.photo.pixels()

    @property
    def alpha(self) -> np.ndarray:
        """``(H, W)`` uint8 car probability at the photo's size, 0..255 (bilinear upsampling)."""
        if "alpha" not in self._cache:
            height, width = self.size
            levels = np.clip(self.network_probabilities * 255.0 + 0.5, 0, 255).astype(np.uint8)
            self._cache["alpha"] = cv2.resize(levels, (width, height), interpolation=cv2.INTER_LINEAR)
        return self._cache["alpha"]

    @property
    def probabilities(self) -> np.ndarray:
        """``(H, W)`` float32 car probability in [0, 1] (made on each call: 4 bytes a pixel; prefer `alpha`)."""
        return self.alpha.astype(np.float32) / np.float32(255.0)

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool car mask: ``alpha > 255 * threshold``."""
        threshold, mask = self._cache.get("mask", (None, None))
        if threshold != self.threshold:
            mask = self.alpha > np.uint8(min(255, int(255 * self.threshold)))
            self._cache["mask"] = (self.threshold, mask)
        return mask

    @property
    def car_fraction(self) -> float:
        """Share of the photo's pixels that are car, in [0, 1]."""
        return np.count_nonzero(self.mask) / self.mask.size

    @property
    def box(self) -> Box | None:
        """The car pixels' bounding box ``(left, top, right, bottom)``, or ``None`` when no car was found."""
        left, top, width, height = cv2.boundingRect(self.mask.view(np.uint8))
        return None if width == 0 else (left, top, left + width, top + height)

    def with_threshold(self, threshold: float) -> SegmentationResult:
        """The same prediction cut at another threshold (no new network run; the full-size alpha is shared)."""
        return replace(self, threshold=check_threshold(threshold))

    def mask_image(self) -> np.ndarray:
        """``(H, W)`` uint8 mask, 255 for car and 0 elsewhere (what a mask PNG holds)."""
        return self.mask.view(np.uint8) * np.uint8(255)

    def overlay(
        self,
        color: str | Sequence[int] = OVERLAY_COLOR,
        opacity: float = OVERLAY_OPACITY,
        outline_width: int | None = None,
    ) -> np.ndarray:
        """The photo with the car tinted in ``color`` at ``opacity`` and outlined.

        ``color`` is ``(R, G, B)`` or any text `carseg_model.colors.parse_color` reads (``"#ff2878"``, ``"red"``).
        ``outline_width`` is in pixels; ``None`` scales it with the photo, ``0`` draws none.
        Returns ``(H, W, 3)`` uint8 RGB.
        """
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity must be in [0, 1]; got {opacity}")
        color = parse_color(color if isinstance(color, str) else tuple(int(c) for c in color))
        tinted = self.image.copy()
        box = self.box
        if box is None:
            return tinted
        left, top, right, bottom = box
        region, car = tinted[top:bottom, left:right], self.mask[top:bottom, left:right]
        blended = cv2.add(cv2.convertScaleAbs(region, alpha=1.0 - opacity), tuple(c * opacity for c in color) + (0,))
        np.copyto(region, blended, where=car[:, :, None])
        if outline_width is None:
            outline_width = max(1, round(min(self.size) / 250))
        if outline_width > 0:
            contours, _ = cv2.findContours(car.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(region, contours, -1, color, outline_width, cv2.LINE_AA)
        return tinted

    def cutout(self, soft_edges: bool = False) -> np.ndarray:
        """The car on a transparent background: ``(H, W, 4)`` uint8 RGBA.

        With ``soft_edges`` the alpha channel is `alpha` (smooth borders), otherwise the hard mask.
        Fully transparent pixels are black (0, 0, 0, 0): nothing of the old background is left in the file.
        """
        rgba = np.zeros((*self.size, 4), np.uint8)
        box = self.box
        if box is None:
            return rgba
        left, top, right, bottom = box
        if soft_edges:  # the soft alpha reaches a little beyond the mask: widen the box by the upsampling step
            margin = int(np.ceil(max(self.size) / max(self.network_probabilities.shape)))
            left, top = max(0, left - margin), max(0, top - margin)
            right, bottom = min(self.size[1], right + margin), min(self.size[0], bottom + margin)
        alpha = (self.alpha if soft_edges else self.mask_image())[top:bottom, left:right]
        region = rgba[top:bottom, left:right]
        region[:, :, 3] = alpha
        np.copyto(region[:, :, :3], self.image[top:bottom, left:right], where=(alpha > 0)[:, :, None])
        return rgba

    def save_mask(self, path: str | os.PathLike) -> Path:
        """Write the `mask_image` (0/255; ``.png``, or ``.webp``); return the path."""
        return write_image(self.mask_image(), path)

    def save_cutout(self, path: str | os.PathLike, soft_edges: bool = False) -> Path:
        """Write the `cutout` (``.png`` or ``.webp``, which keep transparency); return the path."""
        return write_image(self.cutout(soft_edges), path)

    def save_overlay(
        self,
        path: str | os.PathLike,
        color: str | Sequence[int] = OVERLAY_COLOR,
        opacity: float = OVERLAY_OPACITY,
        outline_width: int | None = None,
    ) -> Path:
        """Write the `overlay` (``.jpg`` for a small viewing file, or ``.png`` / ``.webp``); return the path."""
        return write_image(self.overlay(color, opacity, outline_width), path)
