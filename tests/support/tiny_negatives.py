"""Two tiny folders of car-free photos (96x72), as ``train.py --negatives`` reads them, made in milliseconds.

* ``people/``: the layout of ``../shared/data/negatives/msrc_v2``: ``images/``, ``manifest.csv``,
  ``masks/`` (255 = labelled non-car), ``masks_classes/`` + ``CLASSES.txt`` (a blue "person" =
  `PERSON_ID`), and ``masks_car/`` for the one photo that shows a (red) car after all; one photo is
  ``cars_visible`` unknown, and one is named like a demo example (never trained on);
* ``plain/``: photos only, no manifest (all car-free).

`RednessTeacher` stands in for a DeepLabV3 teacher (`carseg_model.training.distillation.TeacherTargets`).

Used by ``carseg_model/training/*_test.py`` and ``tests/test_train.py``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from tests.support.tiny_datasets import CAR_COLOR, PHOTO_SIZE

PERSON_COLOR = (30, 60, 220)
PERSON_ID = 22
CLASSES = f"0 unlabelled\n7 sky\n12 car\n{PERSON_ID} body\n"
PEOPLE = [f"person_{k}" for k in range(8)]
CAR_PHOTO = "person_with_car"
UNSURE_PHOTO = "street_unknown"
DEMO_PHOTO = "text_scenetext01"
PLAIN = [f"wall_{k}" for k in range(3)]
LICENSE = "CC0 (tiny test photos)"


class RednessTeacher:
    """A stand-in for a DeepLabV3 teacher: car log-odds from how red a pixel is (``bias`` shifts them)."""

    def __init__(self, bias: float) -> None:
        self.bias = bias
        self.calls = 0

    def car_log_odds(self, image: np.ndarray) -> np.ndarray:
        self.calls += 1
        small = cv2.resize(image, (33, 33), interpolation=cv2.INTER_AREA).astype(np.float32)
        return (small[..., 0] - small[..., 1:].mean(axis=-1)) / 10.0 + self.bias


def _background(rng: np.random.Generator) -> np.ndarray:
    height, width = PHOTO_SIZE
    color = rng.integers(60, 200, size=3)
    return np.clip(color + rng.normal(0, 10, size=(height, width, 3)), 0, 255).astype(np.uint8)


def _save_mask(path: Path, mask: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(mask.astype(np.uint8)).save(path)


def make_people(root: Path, rng: np.random.Generator) -> None:
    """``people/``: photos with a blue person (class masks), one with a car too, one unsure, one demo example."""
    rows = []
    for name in [*PEOPLE, CAR_PHOTO, UNSURE_PHOTO, DEMO_PHOTO]:
        photo = _background(rng)
        classes = np.full(PHOTO_SIZE, 7, np.uint8)  # sky
        top, left = int(rng.integers(5, 30)), int(rng.integers(5, 60))
        classes[top : top + 35, left : left + 18] = PERSON_ID
        photo[classes == PERSON_ID] = PERSON_COLOR
        car = np.zeros(PHOTO_SIZE, np.uint8)
        if name == CAR_PHOTO:
            cv2.ellipse(car, (78, 60), (14, 8), 0, 0, 360, 1, thickness=-1)
            photo[car.astype(bool)] = CAR_COLOR
            classes[car.astype(bool)] = 12
            _save_mask(root / "masks_car" / f"{name}.png", car * 255)
        (root / "images").mkdir(parents=True, exist_ok=True)
        Image.fromarray(photo).save(root / "images" / f"{name}.jpg", quality=95)
        _save_mask(root / "masks" / f"{name}.png", (classes != 12) * 255)  # every labelled non-car pixel
        _save_mask(root / "masks_classes" / f"{name}.png", classes)
        cars_visible = {CAR_PHOTO: "yes", UNSURE_PHOTO: "unknown"}.get(name, "no")
        rows.append({"file": f"images/{name}.jpg", "licence": LICENSE, "cars_visible": cars_visible, "objects": "body"})
    (root / "masks_classes" / "CLASSES.txt").write_text(CLASSES)
    with open(root / "manifest.csv", "w", newline="") as file:
        writer = csv.DictWriter(file, ["file", "width", "height", "licence", "cars_visible", "objects"])
        writer.writeheader()
        writer.writerows({**row, "width": PHOTO_SIZE[1], "height": PHOTO_SIZE[0]} for row in rows)


def make_plain(root: Path, rng: np.random.Generator) -> None:
    """``plain/``: three photos, nothing else."""
    root.mkdir(parents=True)
    for name in PLAIN:
        Image.fromarray(_background(rng)).save(root / f"{name}.png")


def make_negatives(root: Path) -> Path:
    """``root/people`` and ``root/plain``, always the same (seeded)."""
    rng = np.random.default_rng(1)
    make_people(root / "people", rng)
    make_plain(root / "plain", rng)
    return root
