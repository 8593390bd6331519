"""Far cars for evaluation: held-out photos shrunk and pasted into car-free photos.

Validation photos rarely show a car under 5 % of the frame (the Roboflow and CamVid splits hold
one such photo in 172), so the small-car slice of `carseg_model.evaluation` would be empty. Each
photo here is shrunk to 1/`SHRINK` of its sides (1/16 of its area: a car that filled a fifth of
the frame now covers about 1 %) and pasted, whole and at a seeded random place, into a car-free
photo scaled to cover the original's size; its truth is the shrunk mask at that place. The
pasted rectangle's edges are visible, so the slice measures scale, not realism: compare models
on it, not with street photos.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from carseg_model.compositing import background_image
from carseg_model.config import CarSegConfig
from carseg_model.datasets import Sample, load_mask
from carseg_model.encoding import write_image
from carseg_model.image_io import load_image

SHRINK = 4
"""Each side of a pasted photo is 1/SHRINK of the original's."""


def far_car_samples(
    samples: Sequence[Sample],
    backgrounds: Sequence[str | os.PathLike],
    folder: str | os.PathLike,
    seed: int = 7,
    shrink: int = SHRINK,
) -> list[Sample]:
    """Write a far-car copy of every sample with a car (photo JPEG + mask PNG) into ``folder``; their samples.

    Background ``i`` is ``backgrounds[i % len(backgrounds)]``; the dataset of a copy is
    ``"<dataset> far (1/<shrink>)"``.
    """
    if not backgrounds:
        raise ValueError("far cars need at least one car-free photo to paste into")
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "masks").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    far = []
    for sample in samples:
        truth = load_mask(sample)
        if not truth.any():
            continue
        photo = load_image(sample.image_path, CarSegConfig.max_pixels)
        scene = background_image(str(backgrounds[len(far) % len(backgrounds)]), photo)
        height, width = truth.shape
        small = (max(1, width // shrink), max(1, height // shrink))
        top, left = int(rng.integers(height - small[1] + 1)), int(rng.integers(width - small[0] + 1))
        window = (slice(top, top + small[1]), slice(left, left + small[0]))
        scene[window] = cv2.resize(photo, small, interpolation=cv2.INTER_AREA)
        mask = np.zeros((height, width), bool)
        mask[window] = cv2.resize(truth.view(np.uint8) * np.uint8(255), small, interpolation=cv2.INTER_AREA) > 127
        name = f"{sample.dataset}_{sample.image_path.stem}"
        image_path = write_image(scene, folder / "images" / f"{name}.jpg")
        mask_path = write_image(mask, folder / "masks" / f"{name}.png")
        far.append(Sample(image_path, mask_path, f"{sample.dataset} far (1/{shrink})", (255,)))
    return far
