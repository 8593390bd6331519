"""Training scenes that teach what a car is, at every size (NumPy and OpenCV, no TensorFlow).

`SceneSampler` makes each training element from one photo of the training set:

1. zoom it log-uniformly around "the photo's area = the crop's area" (how ``keep_aspect``
   models size photos for the network), with a little aspect jitter, and take a random crop
   of the training size, mirrored at the borders where the zoomed photo does not cover it;
2. sometimes paste a small car cut out of another training photo (well under 1 % of the
   frame upwards): target 1 on its pixels;
3. sometimes paste a person, bicycle or animal cut out of a car-free photo: target 0 on its
   pixels (things that are not cars, next to cars);
4. flip and colour-jitter.

Targets are soft car probabilities (`soft_target`): the ground truth mixed with the teachers'
probabilities where a mask exists, the teachers alone where it does not (car-free photos,
whose labelled non-car pixels are forced to 0). Every element is a pure function of
``(seed, epoch, index)``, so a seeded run is repeatable and a resumed run sees the same batches.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

TEACHER_WEIGHT = 0.25
"""Default share of the teachers' probability in the target of a photo with a ground-truth mask."""
WORKING_LONG_SIDE = 640
"""Photos are kept in memory at most this long (their long side); the strongest zooms of large crops enlarge them."""


@dataclass(frozen=True)
class SceneRecipe:
    """The random choices of `SceneSampler`: ranges are log-uniform, areas are shares of the crop."""

    zoom_range: tuple[float, float] = (0.6, 2.0)
    """Zoom of a photo relative to "its area = the crop's area"."""
    aspect_jitter: float = 1.15
    """Largest stretch of one side against the other (in ``[1/x, x]``)."""
    car_paste_probability: float = 0.35
    car_paste_area: tuple[float, float] = (0.002, 0.06)
    """Area of a pasted car's box: far and small cars."""
    distractor_paste_probability: float = 0.5
    distractor_paste_area: tuple[float, float] = (0.01, 0.2)
    flip_probability: float = 0.5
    color_jitter: bool = True


@dataclass
class ScenePhoto:
    """One training photo: RGB uint8, its soft car target (uint8, 255 = car) and what can be cut out of it.

    ``cutout`` is a bool mask of one object that may be pasted into other photos (a car when
    ``has_car``, else a person, bicycle or animal), or ``None``.
    """

    image: np.ndarray
    target: np.ndarray
    cutout: np.ndarray | None
    has_car: bool


def soft_target(
    truth: np.ndarray | None,
    teacher: np.ndarray | None,
    not_car: np.ndarray | None = None,
    teacher_weight: float = TEACHER_WEIGHT,
) -> np.ndarray:
    """The uint8 soft car target of a photo (255 = certainly car).

    ``truth``: bool ground-truth car mask or ``None``; ``teacher``: float car probability of the
    teachers or ``None``; ``not_car``: bool mask of pixels labelled as something else (forced to 0).
    With both, the target is ``(1 - teacher_weight) * truth + teacher_weight * teacher``.
    """
    if truth is None and teacher is None:
        raise ValueError("a training photo needs a ground-truth mask or a teacher's probabilities")
    if truth is None:
        target = teacher
    elif teacher is None:
        target = truth.astype(np.float32)
    else:
        target = (1.0 - teacher_weight) * truth + teacher_weight * teacher
    if not_car is not None:
        target = np.where(not_car, 0.0, target)
    return np.clip(np.rint(target * 255.0), 0, 255).astype(np.uint8)


def largest_object(mask: np.ndarray, min_pixels: int = 64) -> np.ndarray | None:
    """The largest connected part of a bool mask (``None`` when it is smaller than ``min_pixels``)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[biggest, cv2.CC_STAT_AREA] < min_pixels:
        return None
    return labels == biggest


def fit_long_side(image: np.ndarray, long_side: int = WORKING_LONG_SIDE) -> np.ndarray:
    """``image`` shrunk (area averaging) so that its long side is at most ``long_side``; never enlarged."""
    scale = long_side / max(image.shape[:2])
    if scale >= 1:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class SceneSampler:
    """Seeded training elements ``(image uint8 (H, W, 3), target float32 (H, W) in [0, 1])`` of ``size = (H, W)``."""

    def __init__(
        self, photos: Sequence[ScenePhoto], size: tuple[int, int], seed: int, recipe: SceneRecipe = SceneRecipe()
    ) -> None:
        self.photos = list(photos)
        self.size = tuple(size)
        self.seed = seed
        self.recipe = recipe
        self.cars = [i for i, p in enumerate(self.photos) if p.has_car and p.cutout is not None]
        self.distractors = [i for i, p in enumerate(self.photos) if not p.has_car and p.cutout is not None]

    def __len__(self) -> int:
        return len(self.photos)

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The seeded order in which ``epoch`` visits the photos."""
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.photos))

    def element(self, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The element of photo ``index`` in ``epoch``: the same call always gives the same pixels."""
        recipe = self.recipe
        rng = np.random.default_rng([self.seed, epoch, index])
        photo = self.photos[index]
        image, target = zoom_and_crop(photo.image, photo.target, self.size, recipe, rng)
        if self.cars and rng.random() < recipe.car_paste_probability:
            donor = self.photos[self.cars[rng.integers(len(self.cars))]]
            image, target = paste(image, target, donor, recipe.car_paste_area, 255, rng)
        if self.distractors and rng.random() < recipe.distractor_paste_probability:
            donor = self.photos[self.distractors[rng.integers(len(self.distractors))]]
            image, target = paste(image, target, donor, recipe.distractor_paste_area, 0, rng)
        if rng.random() < recipe.flip_probability:
            image, target = image[:, ::-1], target[:, ::-1]
        if recipe.color_jitter:
            image = color_jitter(image, rng)
        return np.ascontiguousarray(image), target.astype(np.float32) / 255.0


def zoom_and_crop(
    image: np.ndarray, target: np.ndarray, size: tuple[int, int], recipe: SceneRecipe, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Zoom the photo and its target, then place them at a random offset in a crop of ``size``,
    mirrored (``BORDER_REFLECT_101``) where the zoomed photo does not cover the crop."""
    height, width = size
    fit = math.sqrt(height * width / (image.shape[0] * image.shape[1]))
    zoom = fit * math.exp(rng.uniform(*np.log(recipe.zoom_range)))
    stretch = math.exp(rng.uniform(-1, 1) * math.log(recipe.aspect_jitter))
    zoom_y, zoom_x = zoom / math.sqrt(stretch), zoom * math.sqrt(stretch)
    new_h, new_w = max(1, round(image.shape[0] * zoom_y)), max(1, round(image.shape[1] * zoom_x))
    if zoom_y < 1 and zoom_x < 1:  # shrink with area averaging first (no aliasing), then only move
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
        target = cv2.resize(target, (new_w, new_h), interpolation=cv2.INTER_AREA)
        zoom_y = zoom_x = 1.0
    offset_y = _offset(new_h, height, rng)
    offset_x = _offset(new_w, width, rng)
    matrix = np.float32([[zoom_x, 0, offset_x], [0, zoom_y, offset_y]])
    return tuple(
        cv2.warpAffine(a, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        for a in (image, target)
    )


def _offset(length: int, frame: int, rng: np.random.Generator) -> int:
    """Where a zoomed side of ``length`` starts in a frame side: inside it when shorter, overlapping it when longer."""
    if length > frame:
        return -int(rng.integers(length - frame + 1))
    return int(rng.integers(frame - length + 1))


def paste(
    image: np.ndarray,
    target: np.ndarray,
    donor: ScenePhoto,
    area_range: tuple[float, float],
    value: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Paste the donor's cut-out object, its box scaled to ``area_range`` of the frame (log-uniform),
    at a random place; the target becomes ``value`` (0..255) on the object's pixels."""
    ys, xs = np.nonzero(donor.cutout)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box_h, box_w = bottom - top, right - left
    frame_h, frame_w = image.shape[:2]
    area = frame_h * frame_w * math.exp(rng.uniform(*np.log(area_range)))
    scale = min(math.sqrt(area / (box_h * box_w)), frame_h / box_h, frame_w / box_w)
    new_h, new_w = max(2, round(box_h * scale)), max(2, round(box_w * scale))
    pixels = cv2.resize(donor.image[top:bottom, left:right], (new_w, new_h), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(
        donor.cutout[top:bottom, left:right].astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_AREA
    )
    y, x = int(rng.integers(frame_h - new_h + 1)), int(rng.integers(frame_w - new_w + 1))
    image, target = image.copy(), target.copy()
    window = (slice(y, y + new_h), slice(x, x + new_w))
    region = image[window].astype(np.float32)
    image[window] = np.rint(region + alpha[..., None] * (pixels - region)).astype(np.uint8)
    region_target = target[window].astype(np.float32)
    target[window] = np.rint(region_target + alpha * (value - region_target)).astype(np.uint8)
    return image, target


def color_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random saturation, contrast and brightness of an RGB uint8 image."""
    pixels = image.astype(np.float32)
    gray = pixels.mean(axis=2, keepdims=True)
    pixels = gray + (pixels - gray) * rng.uniform(0.7, 1.3)  # saturation
    pixels = (pixels - pixels.mean()) * rng.uniform(0.75, 1.25) + pixels.mean()  # contrast
    pixels += rng.uniform(-0.15, 0.15) * 255.0  # brightness
    return np.clip(pixels, 0, 255).astype(np.uint8)
