"""`SegmentationResult`: one photo's car probabilities, and the images made from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from carseg_model.colors import parse_color
from carseg_model.config import check_threshold
from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY


@dataclass(frozen=True)
class SegmentationResult:
    """The prediction for one photo, at the photo's own resolution.

    Attributes:
        image: the photo as ``(H, W, 3)`` uint8 RGB, upright per its EXIF orientation.
        probabilities: ``(H, W)`` float32 car probability of each pixel, in [0, 1].
        threshold: probability above which a pixel counts as car.
    """

    image: np.ndarray
    probabilities: np.ndarray
    threshold: float = 0.5

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool car mask."""
        return self.probabilities > self.threshold

    @property
    def car_fraction(self) -> float:
        """Share of the photo's pixels that are car, in [0, 1]."""
        return float(self.mask.mean())

    def with_threshold(self, threshold: float) -> SegmentationResult:
        """The same prediction cut at another threshold (no new network run)."""
        return replace(self, threshold=check_threshold(threshold))

    def mask_image(self) -> np.ndarray:
        """``(H, W)`` uint8 mask, 255 for car and 0 elsewhere (what a mask PNG holds)."""
        return self.mask.astype(np.uint8) * 255

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
        mask = self.mask
        tinted = self.image.copy()
        tint = np.asarray(color, dtype=np.float32)
        tinted[mask] = (self.image[mask] * (1.0 - opacity) + tint * opacity).round().astype(np.uint8)
        if outline_width is None:
            outline_width = max(1, round(min(mask.shape) / 250))
        if outline_width > 0:
            contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(tinted, contours, -1, color, outline_width, cv2.LINE_AA)
        return tinted

    def cutout(self, soft_edges: bool = False) -> np.ndarray:
        """The car on a transparent background: ``(H, W, 4)`` uint8 RGBA.

        With ``soft_edges`` the alpha channel is the probability itself (smooth borders),
        otherwise it is the hard mask.
        """
        if soft_edges:
            alpha = (self.probabilities * 255.0).round().astype(np.uint8)
        else:
            alpha = self.mask_image()
        return np.dstack([self.image, alpha])
