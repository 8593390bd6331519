"""`SegmentationResult`: one photo's car probabilities, and the images made from them on demand."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from carseg_model.colors import parse_color
from carseg_model.compositing import Background, background_image, blend, contact_shadow, darken, paint_overlay
from carseg_model.config import check_threshold
from carseg_model.defaults import OVERLAY_COLOR, OVERLAY_OPACITY
from carseg_model.encoding import write_image
from carseg_model.image_io import Photo
from carseg_model.main_car import main_car_pieces
from carseg_model.preprocessing import upsample_alpha
from carseg_model.refinement import foreground_colours, refine_alpha, working_size


@functools.lru_cache(maxsize=16)
def cutout_alpha_curve(threshold: float) -> np.ndarray:
    """The lookup table of soft cut-out borders: alpha 3x steeper around the threshold, half transparent there.

    The upsampled probability fades over several photo pixels where the photo shows no edge to
    follow; this keeps a soft but narrow border (and turns the faint tail a sixth below the threshold
    transparent), centred where the mask's edge is.
    """
    curve = np.clip((np.arange(256) - 255 * threshold) * 3.0 + 127.5, 0, 255).round().astype(np.uint8)
    curve.flags.writeable = False
    return curve


Box = tuple[int, int, int, int]
"""``(left, top, right, bottom)`` in pixels; right and bottom are exclusive."""


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """The prediction for one photo; full-size images are made when asked for, in uint8, and kept.

    It holds the network-size probabilities (a few hundred KB), not full-size float arrays: the
    full-size ``alpha`` (uint8), ``mask`` (bool), overlay and cut-out are computed on first use.
    A JPEG's full-size pixels are decoded only when an image needs them (``image``, `overlay`,
    `cutout`); `mask` never does. Threads may share a result: each full-size image is made once.

    Attributes:
        photo: the photo (its upright ``size``; its pixels decoded on demand).
        network_probabilities: ``(h, w)`` float32 car probability at the network's input size.
        threshold: probability above which a pixel counts as car.
        refine_edges: fit the full-size alpha to the photo's edges (`carseg_model.refinement`);
            ``False`` upsamples the network's probabilities bilinearly.
    """

    photo: Photo
    network_probabilities: np.ndarray
    threshold: float = 0.5
    refine_edges: bool = True
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)

    @classmethod
    def from_arrays(
        cls, image: np.ndarray, probabilities: np.ndarray, threshold: float = 0.5, refine_edges: bool = True
    ) -> SegmentationResult:
        """A result for ``(H, W, 3)`` uint8 RGB ``image`` and ``(h, w)`` probabilities of any size (e.g. from a video loop)."""
        probabilities = probabilities.astype(np.float32, copy=False)
        return cls(Photo.from_pixels(image), probabilities, check_threshold(threshold), refine_edges)

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
        """``(H, W)`` uint8 car probability at the photo's size, 0..255 (fitted to the photo's edges
        with ``refine_edges``, else upsampled bilinearly)."""
        key = f"alpha-{self.refine_edges}"
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self._full_size_alpha()
            return self._cache[key]

    def _full_size_alpha(self) -> np.ndarray:
        if not self.refine_edges:
            return upsample_alpha(self.network_probabilities, self.size)
        working = working_size(self.size)
        guide = self.photo.reduced(working)
        if guide.shape[:2] != working:
            guide = cv2.resize(guide, working[::-1], interpolation=cv2.INTER_AREA)
        coarse = upsample_alpha(self.network_probabilities, working)
        refined = refine_alpha(guide, coarse, self.network_probabilities.shape)
        if working == self.size:
            return refined
        return cv2.resize(refined, self.size[::-1], interpolation=cv2.INTER_LINEAR)

    @property
    def probabilities(self) -> np.ndarray:
        """``(H, W)`` float32 car probability in [0, 1] (made on each call: 4 bytes a pixel; prefer `alpha`)."""
        return self.alpha.astype(np.float32) / np.float32(255.0)

    @property
    def mask(self) -> np.ndarray:
        """``(H, W)`` bool car mask: ``alpha > 255 * threshold``."""
        key = f"mask-{self.refine_edges}"
        with self._lock:
            threshold, mask = self._cache.get(key, (None, None))
            if threshold != self.threshold:  # one mask kept per alpha: the last threshold asked for
                mask = self.alpha > np.uint8(min(255, int(255 * self.threshold)))
                self._cache[key] = (self.threshold, mask)
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

    def main_car(self) -> SegmentationResult:
        """The result restricted to the car the photo is about (the rule: `carseg_model.main_car`).

        Pieces of one car split by a pole or a mirror stay together; other cars go. With one
        car (or none) in the mask, this is the result itself, at no cost.
        """
        pieces = main_car_pieces(self.mask)
        if pieces is None:
            return self
        alpha = self._alpha_near(pieces, self.alpha)  # the kept car's soft border too
        return replace(self, _cache={f"alpha-{self.refine_edges}": alpha})

    def crop(self, margin: float = 0.05) -> SegmentationResult:
        """The result cut to the car's box widened by ``margin`` (a share of the box's longer side) on each side.

        Without a car it is the result itself.
        """
        if not 0.0 <= margin <= 10.0:
            raise ValueError(f"margin is a share of the car's size, in [0, 10]; got {margin}")
        box = self.box
        if box is None:
            return self
        left, top, right, bottom = box
        pad = round(margin * max(right - left, bottom - top))
        height, width = self.size
        left, top, right, bottom = (
            max(0, left - pad),
            max(0, top - pad),
            min(width, right + pad),
            min(height, bottom + pad),
        )
        rows, columns = self.network_probabilities.shape
        network = self.network_probabilities[
            top * rows // height : max(top * rows // height + 1, -(-bottom * rows // height)),
            left * columns // width : max(left * columns // width + 1, -(-right * columns // width)),
        ]
        photo = Photo.from_pixels(np.ascontiguousarray(self.image[top:bottom, left:right]))
        alpha = np.ascontiguousarray(self.alpha[top:bottom, left:right])
        return replace(self, photo=photo, network_probabilities=network, _cache={f"alpha-{self.refine_edges}": alpha})

    def _upsampling_step(self) -> int:
        """Photo pixels per network output pixel (the width of the soft border an upsampled alpha has)."""
        return int(np.ceil(max(np.divide(self.size, self.network_probabilities.shape))))

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
        return paint_overlay(self.image, self.mask.view(np.uint8), color, opacity, outline_width)

    def cutout(self, soft_edges: bool = True) -> np.ndarray:
        """The car on a transparent background: ``(H, W, 4)`` uint8 RGBA.

        With ``soft_edges`` (the default) the alpha channel is `alpha` near the car (borders blend
        into any background) and border pixels carry the car's own colour, freed of the old
        background's (`carseg_model.refinement.foreground_colours`); otherwise it is the hard mask.
        Fully transparent pixels are black (0, 0, 0, 0): nothing of the old background is left in the file.
        """
        rgba = np.zeros((*self.size, 4), np.uint8)
        alpha = self._cutout_alpha(soft_edges)
        left, top, width, height = cv2.boundingRect(alpha)
        if width == 0:
            return rgba
        region = (slice(top, top + height), slice(left, left + width))
        rgba[region] = cv2.merge((self._car_colours(alpha, region), alpha[region]))  # 3x faster than by channel
        return rgba

    def composite(self, background: Background = "transparent", shadow: bool = False) -> np.ndarray:
        """The car on a new background: ``(H, W, 4)`` RGBA for ``"transparent"``, else ``(H, W, 3)`` RGB.

        ``background`` is ``"transparent"``, ``"blur"`` (the photo itself, blurred), a colour
        (``"white"``, ``"#f0f0f0"``, ``(R, G, B)``) or an image (path, bytes, PIL image, array),
        scaled to cover the photo. ``shadow`` lays a soft contact shadow under the car.
        """
        box = self.box
        if isinstance(background, str) and background == "transparent":
            rgba = self.cutout()
            if shadow and box is not None:
                shade = contact_shadow(self.size, box)
                rgba[:, :, 3] = np.maximum(rgba[:, :, 3], shade)  # black, half transparent, under the car
            return rgba
        back = background_image(background, self.image)
        if box is None:
            return back
        if shadow:
            back = darken(back, contact_shadow(self.size, box))
        alpha = self._cutout_alpha(soft_edges=True)
        left, top, width, height = cv2.boundingRect(alpha)
        region = (slice(top, top + height), slice(left, left + width))
        back[region] = blend(self._car_colours(alpha, region), back[region], alpha[region])
        return back

    def _cutout_alpha(self, soft_edges: bool) -> np.ndarray:
        """The cut-out's alpha: the hard mask, or `alpha` next to the mask through `cutout_alpha_curve`."""
        if not soft_edges:
            return self.mask_image()
        return self._alpha_near(self.mask, self.alpha, cutout_alpha_curve(self.threshold))

    def _alpha_near(self, mask: np.ndarray, alpha: np.ndarray, curve: np.ndarray | None = None) -> np.ndarray:
        """``alpha`` (through the lookup table ``curve``, if given) where it is near ``mask``, 0 elsewhere.

        Near is ``mask`` widened by the soft border an upsampled alpha has, so blobs below the
        threshold stay out. Only the mask's box, widened as much, is worked on.
        """
        reach = 2 * self._upsampling_step() + 1
        kept = np.zeros(self.size, np.uint8)
        left, top, width, height = cv2.boundingRect(mask.view(np.uint8))
        if width == 0:
            return kept
        pad = reach // 2
        region = (slice(max(0, top - pad), top + height + pad), slice(max(0, left - pad), left + width + pad))
        near = cv2.dilate(mask[region].view(np.uint8), np.ones((reach, reach), np.uint8))
        inside = cv2.bitwise_and(alpha[region], alpha[region], mask=near)
        kept[region] = inside if curve is None else cv2.LUT(inside, curve)
        return kept

    def _car_colours(self, alpha: np.ndarray, region: tuple[slice, slice]) -> np.ndarray:
        """RGB of the car in ``region``: the photo where alpha is 255, estimated foreground on the
        border, black where transparent."""
        image, weight = self.image[region], alpha[region]
        colours = cv2.bitwise_and(image, image, mask=(weight > 0).view(np.uint8))
        border = cv2.findNonZero(cv2.inRange(weight, 1, 254))  # (x, y) of each border pixel, row by row, or None
        if border is not None:
            columns, rows = border.reshape(-1, 2).T
            colours[rows, columns] = foreground_colours(image, weight, rows, columns)
        return colours

    def save_mask(self, path: str | os.PathLike) -> Path:
        """Write the `mask_image` (0/255; ``.png``, or ``.webp``); return the path."""
        return write_image(self.mask_image(), path)

    def save_cutout(self, path: str | os.PathLike, soft_edges: bool = True) -> Path:
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
