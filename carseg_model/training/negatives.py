"""Photos that teach what is NOT a car (``--negatives DIR``): read a folder, split it, load its labels.

A negatives folder holds photos in ``images/`` (or directly in it) and, optionally:

* ``manifest.csv``, one row per photo: ``file`` (path in the folder), ``licence``,
  ``cars_visible`` (``yes``/``no``/``unknown``: judged by eye, so checked by the teachers),
  ``objects`` (``;``-separated) and more columns that are not read. Without a manifest every
  photo of the folder counts as car-free;
* ``masks/<stem>.png``: 255 = labelled non-car pixels (their target is forced to 0);
* ``masks_classes/<stem>.png`` with ``CLASSES.txt`` (``<id> <name>`` lines): class ids; the
  largest person, bicycle or animal (`DISTRACTOR_NAMES`) is cut out and pasted next to cars;
* ``masks_car/<stem>.png``: 255 = car (a photo with cars after all).

Without class masks, a photo whose ``objects`` name a distractor has its ``masks/`` object cut
out (a cat or dog mask). No TensorFlow here.
"""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from carseg_model.datasets import DatasetError, report_problems
from carseg_model.image_io import IMAGE_SUFFIXES
from carseg_model.training.scenes import largest_object

MANIFEST = "manifest.csv"
CLASSES_FILE = "CLASSES.txt"
CARS_VISIBLE = ("no", "yes", "unknown")
DISTRACTOR_NAMES = frozenset({"person", "face", "body", "bicycle", "cow", "horse", "sheep", "bird", "cat", "dog"})
"""Objects that are cut out of car-free photos and pasted next to cars (people, bicycles, animals)."""
DISTRACTOR_MIN_PIXELS = 400
HELD_OUT_STEMS = frozenset({"text_scenetext01", "data_fruits"})
"""Negatives that are the demo's own example photos (``space/examples``): never trained on."""


@dataclass(frozen=True)
class NegativePhoto:
    """One photo of a negatives folder and what its manifest says about it."""

    path: Path
    folder: Path
    cars_visible: str = "no"
    objects: tuple[str, ...] = ()
    license: str = "unknown"

    @property
    def source(self) -> str:
        """The folder's name, which the model card and the logs use."""
        return self.folder.resolve().name

    def label_file(self, kind: str) -> Path | None:
        """``<folder>/<kind>/<stem>.png`` (kind: ``masks``, ``masks_classes``, ``masks_car``) if it exists."""
        path = self.folder / kind / f"{self.path.stem}.png"
        return path if path.is_file() else None


@dataclass(frozen=True)
class NegativeLabels:
    """A negative photo's labels at its own size: bool masks, or ``None`` where the folder has none."""

    car: np.ndarray | None
    not_car: np.ndarray | None
    cutout: np.ndarray | None


def find_negatives(folder: str | os.PathLike, skip_bad: bool = False) -> list[NegativePhoto]:
    """The photos of a negatives folder, in manifest order (else sorted by name).

    Missing or unreadable rows raise one `DatasetError` listing them (``skip_bad``: logged, left out).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"negatives folder {folder} does not exist")
    if (folder / MANIFEST).is_file():
        photos, problems = _manifest_photos(folder)
    else:
        images = folder / "images" if (folder / "images").is_dir() else folder
        photos = [NegativePhoto(path, folder) for path in sorted(images.iterdir()) if _is_photo(path)]
        problems = []
    report_problems(problems, f"negatives folder {folder}", skip_bad)
    if not photos:
        raise DatasetError(f"negatives folder {folder} has no photos (in images/ or listed in {MANIFEST})")
    return photos


def _manifest_photos(folder: Path) -> tuple[list[NegativePhoto], list[str]]:
    with open(folder / MANIFEST, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    photos, problems = [], []
    for number, row in enumerate(rows, start=2):
        where = f"{folder / MANIFEST} line {number}"
        if not row.get("file"):
            problems.append(f"{where}: no file")
            continue
        cars_visible = (row.get("cars_visible") or "no").strip().lower()
        if cars_visible not in CARS_VISIBLE:
            problems.append(f"{where}: cars_visible must be one of {', '.join(CARS_VISIBLE)}; got {cars_visible!r}")
        elif not (folder / row["file"]).is_file():
            problems.append(f"{where}: {folder / row['file']} does not exist")
        else:
            objects = tuple(name.strip().lower() for name in (row.get("objects") or "").split(";") if name.strip())
            license = (row.get("licence") or row.get("license") or "").strip() or "unknown"
            photos.append(NegativePhoto(folder / row["file"], folder, cars_visible, objects, license))
    return photos, problems


def _is_photo(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def split_negatives(
    photos: Sequence[NegativePhoto], val_fraction: float, seed: int
) -> tuple[list[NegativePhoto], list[NegativePhoto]]:
    """``(train, validation)``: a seeded ``val_fraction`` of the photos held out, the demo's examples
    (`HELD_OUT_STEMS`) in neither."""
    kept = [photo for photo in photos if photo.path.stem not in HELD_OUT_STEMS]
    order = np.random.default_rng(seed).permutation(len(kept))
    val = set(order[: round(val_fraction * len(kept))].tolist())
    return [p for i, p in enumerate(kept) if i not in val], [p for i, p in enumerate(kept) if i in val]


def folder_license(photos: Sequence[NegativePhoto]) -> str:
    """The licence of a folder's photos for the model card: the one licence, or all of them."""
    licenses = sorted({photo.license for photo in photos})
    return licenses[0] if len(licenses) == 1 else "mixed: " + "; ".join(licenses)


def load_labels(photo: NegativePhoto) -> NegativeLabels:
    """The car, non-car and cut-out masks of a negative photo at its own size."""
    car_file, not_car_file, classes_file = (photo.label_file(kind) for kind in ("masks_car", "masks", "masks_classes"))
    car = _read_mask(car_file) > 127 if car_file else None
    not_car = _read_mask(not_car_file) > 127 if not_car_file else None
    if car is not None:
        cutout = largest_object(car)
    elif classes_file:
        things = np.isin(_read_mask(classes_file), distractor_ids(photo.folder))
        cutout = largest_object(things, DISTRACTOR_MIN_PIXELS)
    elif not_car is not None and DISTRACTOR_NAMES.intersection(photo.objects):
        cutout = largest_object(not_car, DISTRACTOR_MIN_PIXELS)
    else:
        cutout = None
    return NegativeLabels(car, not_car, cutout)


@functools.cache
def distractor_ids(folder: Path) -> tuple[int, ...]:
    """The class ids of `DISTRACTOR_NAMES` in ``<folder>/masks_classes/CLASSES.txt``."""
    path = folder / "masks_classes" / CLASSES_FILE
    if not path.is_file():
        raise DatasetError(f"{path.parent} has no {CLASSES_FILE} (lines '<class id> <name>')")
    ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        number, _, name = line.strip().partition(" ")
        if number.isdigit() and name.strip().lower() in DISTRACTOR_NAMES:
            ids.append(int(number))
    return tuple(ids)


def _read_mask(path: Path) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise DatasetError(f"{path} cannot be read as a grey-scale PNG mask")
    return mask
