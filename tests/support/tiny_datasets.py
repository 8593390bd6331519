"""Two tiny datasets of 96x72 photos (random backgrounds with a red ellipse "car"), made in a few milliseconds.

* ``carvana/``: Kaggle layout, ``train/<car id>_<NN>.jpg`` + ``train_masks/<car id>_<NN>_mask.gif`` (car = 1);
* ``street/``: ``images/`` + ``masks/`` with CamVid-style names ``<sequence>_<frame>.png`` and label masks
  (car = 8, sky = 1, road = 3, a "building" = 9).

Used by ``carseg_model/datasets_test.py`` and ``tests/test_train.py``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

PHOTO_SIZE = (72, 96)  # height, width
CAR_COLOR = (220, 30, 30)
CAR_LABEL = 8
CAR_IDS = ("0a1b2c3d4e5f", "11aa22bb33cc", "abcdef012345", "fedcba987654")
STREET_NAMES = [f"0001TP_{6690 + 150 * k:06d}" for k in range(8)] + [f"0016E5_{4350 + 150 * k:05d}" for k in range(8)]


def make_photo(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A photo (uint8 RGB) with a red ellipse on a random background, and the ellipse's bool mask."""
    height, width = PHOTO_SIZE
    background = rng.integers(0, 160, size=3)
    photo = np.clip(background + rng.normal(0, 12, size=(height, width, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    center = (int(rng.integers(30, width - 30)), int(rng.integers(25, height - 25)))
    axes = (int(rng.integers(15, 28)), int(rng.integers(10, 20)))
    cv2.ellipse(mask, center, axes, 0, 0, 360, 1, thickness=-1)
    photo[mask.astype(bool)] = CAR_COLOR
    return photo, mask.astype(bool)


def make_carvana(root: Path, rng: np.random.Generator) -> None:
    """4 cars x 4 views in the Kaggle Carvana layout (palette GIF masks, car = 1)."""
    (root / "train").mkdir(parents=True)
    (root / "train_masks").mkdir()
    for car in CAR_IDS:
        for view in range(1, 5):
            photo, mask = make_photo(rng)
            Image.fromarray(photo).save(root / "train" / f"{car}_{view:02d}.jpg", quality=95)
            gif = Image.fromarray(mask.astype(np.uint8), mode="L").convert("P")
            gif.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
            gif.save(root / "train_masks" / f"{car}_{view:02d}_mask.gif")


def make_street(root: Path, rng: np.random.Generator) -> None:
    """16 CamVid-named frames of two sequences in the images/ + masks/ layout (label masks, car = `CAR_LABEL`)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for name in STREET_NAMES:
        photo, mask = make_photo(rng)
        labels = np.full(PHOTO_SIZE, 3, np.uint8)
        labels[:10] = 1
        labels[10:30, :12] = 9
        labels[mask] = CAR_LABEL
        Image.fromarray(photo).save(root / "images" / f"{name}.png")
        Image.fromarray(labels).save(root / "masks" / f"{name}.png")


def make_datasets(root: Path) -> Path:
    """``root/carvana`` and ``root/street``, always the same (seeded)."""
    rng = np.random.default_rng(0)
    make_carvana(root / "carvana", rng)
    make_street(root / "street", rng)
    return root


def make_bad_street(street: Path, root: Path) -> Path:
    """A copy of ``street`` plus a photo without mask, a mask without photo, a corrupt photo and a truncated one."""
    root = Path(shutil.copytree(street, root))
    shutil.copy(root / "images" / f"{STREET_NAMES[0]}.png", root / "images" / "lonely_photo.png")
    shutil.copy(root / "masks" / f"{STREET_NAMES[0]}.png", root / "masks" / "lonely_mask.png")
    (root / "images" / "corrupt.png").write_bytes(b"this is not a png")
    shutil.copy(root / "masks" / f"{STREET_NAMES[0]}.png", root / "masks" / "corrupt.png")
    whole = (root / "images" / f"{STREET_NAMES[1]}.png").read_bytes()
    (root / "images" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    shutil.copy(root / "masks" / f"{STREET_NAMES[1]}.png", root / "masks" / "truncated.png")
    return root
