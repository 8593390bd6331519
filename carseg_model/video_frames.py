"""Per-frame work of a video: temporal smoothing, a flicker figure, and the mask and overlay of a frame.

`frame_mask` and `OverlayPainter` draw what ``SegmentationResult.from_arrays(frame, probabilities,
threshold, refine_edges=False)`` gives as ``mask_image()`` and ``overlay()``, with the same helpers,
without building a result per frame (edge refinement would cost ~20 ms a 720p frame: video skips it).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from carseg_model.compositing import paint_overlay
from carseg_model.preprocessing import upsample_alpha


class ProbabilitySmoother:
    """Exponential moving average of each frame's network-size probabilities, to stop flicker.

    ``smoothed = weight * previous_smoothed + (1 - weight) * probabilities``; weight 0 is off.
    A frame of another size starts afresh.
    """

    def __init__(self, weight: float) -> None:
        if not 0.0 <= weight < 1.0:
            raise ValueError(f"smoothing weight must be at least 0 and below 1; got {weight}")
        self.weight = weight
        self._previous: np.ndarray | None = None

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        """The smoothed probabilities of the next frame, ``(h, w)`` float32."""
        if self.weight and self._previous is not None and self._previous.shape == probabilities.shape:
            probabilities = self.weight * self._previous + (1.0 - self.weight) * probabilities
        self._previous = probabilities
        return probabilities


class FlickerMeter:
    """Mean share of pixels whose mask flips between consecutive frames (0: a still mask)."""

    def __init__(self) -> None:
        self._previous: np.ndarray | None = None
        self._flips: list[float] = []

    def add(self, mask: np.ndarray) -> None:
        """Count the next frame's ``(h, w)`` bool mask."""
        if self._previous is not None and self._previous.shape == mask.shape:
            self._flips.append(float(np.count_nonzero(mask != self._previous)) / mask.size)
        self._previous = mask

    @property
    def share(self) -> float:
        """The mean share of flipped pixels over frame pairs; NaN before two frames."""
        return float(np.mean(self._flips)) if self._flips else float("nan")


def frame_mask(probabilities: np.ndarray, size: tuple[int, int], threshold: float) -> np.ndarray:
    """Network-size probabilities -> ``size = (height, width)`` uint8 mask, 255 for car.

    Upsampled as `SegmentationResult.alpha` is without refinement (`upsample_alpha`), then thresholded.
    """
    return cv2.threshold(upsample_alpha(probabilities, size), threshold * 255.0, 255, cv2.THRESH_BINARY)[1]


class OverlayPainter:
    """Tints the car (``mask`` 255) of each frame in ``color`` at ``opacity`` and outlines it, as
    `SegmentationResult.overlay` does (`carseg_model.compositing.paint_overlay`; ``outline_width``
    None: scaled with the frame, 0: none), with the style checked once for the whole video."""

    def __init__(self, color: Sequence[int], opacity: float, outline_width: int | None) -> None:
        if not 0.0 <= opacity <= 1.0:
            raise ValueError(f"opacity must be in [0, 1]; got {opacity}")
        self.color = tuple(int(c) for c in color)
        self.opacity = opacity
        self.outline_width = outline_width

    def __call__(self, frame: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The overlay of one ``(H, W, 3)`` uint8 RGB frame and its ``(H, W)`` uint8 mask."""
        return paint_overlay(frame, mask, self.color, self.opacity, self.outline_width)
