"""`result.main_car()` on photos with several cars: how well it keeps the subject, and what it costs on one-car photos.

    python bench/bench_main_car.py [--data ../shared/data/roboflow_car_seg] [--photos 60] [--model FOLDER]

Composites: a held-out photo (the release run's validation split) whose ground-truth mask holds one car (one connected piece) is the subject;
one or two cars cut out of other photos (with their true masks), scaled to 20-55 % of the
subject's size, are pasted into the corners farthest from it, as large as they can be while staying
`CLEARANCE` away from the subject (cars that touch are one piece of the mask; `main_car` keeps them together). The subject's truth is its own mask
minus what the pasted cars cover. Rows: Dice of ``main_car().mask`` and of the plain mask against
the subject's truth, on the composites (target: main car >= 0.95) and on the one-car photos as
they are (target: main car within 0.005 of plain).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from carseg_model import DEFAULT_MODEL, CarSegModel  # noqa: E402
from carseg_model.datasets import Sample, find_split, load_mask  # noqa: E402
from carseg_model.evaluation import mask_scores  # noqa: E402
from carseg_model.image_io import load_image  # noqa: E402
from carseg_model.training.options import RunConfig  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CLEARANCE = 0.04
"""Pasted cars keep at least this share of the photo's longer side away from the subject (touching cars are one piece)."""
RUN = REPO / "bench" / "release_scenes_run"


def held_out_samples(run: Path, dataset: str) -> list[Sample]:
    """The validation photos of ``dataset`` in a training run (the same seeded split as training made)."""
    config = RunConfig.load(run)
    options = config.options
    split = find_split(*options.sources(), options.val_fraction, config.seed, options.skip_bad)
    return [sample for sample in split.val if sample.dataset == dataset]


def one_car_photos(samples: list[Sample], count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(photo, truth)`` pairs whose truth mask is one car (its largest piece holds >= 98 % of it)."""
    pairs = []
    for sample in samples:
        truth = load_mask(sample)
        pieces, labels, stats, _ = cv2.connectedComponentsWithStats(truth.view(np.uint8))
        if pieces < 2 or truth.mean() < 0.05:
            continue
        if stats[1:, cv2.CC_STAT_AREA].max() >= 0.98 * truth.sum():
            pairs.append((load_image(sample.image_path, 10**8), truth))
        if len(pairs) == count:
            break
    return pairs


def paste_cars(
    photo: np.ndarray, truth: np.ndarray, donors: list[tuple[np.ndarray, np.ndarray]], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The photo with the donors' cars pasted into the corners farthest from its car; the subject's truth."""
    composite, subject = photo.copy(), truth.copy()
    height, width = truth.shape
    left, top, box_width, box_height = cv2.boundingRect(truth.view(np.uint8))
    centre = np.array([left + box_width / 2, top + box_height / 2])
    corners = sorted(
        [(0, 0), (width, 0), (0, height), (width, height)], key=lambda corner: -np.hypot(*(np.array(corner) - centre))
    )
    keep_clear = (
        cv2.dilate(truth.view(np.uint8), np.ones((2 * round(CLEARANCE * max(height, width)) + 1,) * 2, np.uint8)) > 0
    )
    for (donor_photo, donor_truth), corner in zip(donors, corners):
        x, y, w, h = cv2.boundingRect(donor_truth.view(np.uint8))
        for share in np.linspace(0.55, 0.2, 8):  # the largest size at which the car stays clear of the subject
            scale = rng.uniform(0.9, 1.0) * share * max(box_width, box_height) / max(w, h)
            new_w, new_h = min(width, max(8, round(w * scale))), min(height, max(8, round(h * scale)))
            car_mask = cv2.resize(donor_truth[y : y + h, x : x + w].view(np.uint8), (new_w, new_h)) > 0
            paste_x = 0 if corner[0] == 0 else width - new_w
            paste_y = 0 if corner[1] == 0 else height - new_h
            region = (slice(paste_y, paste_y + new_h), slice(paste_x, paste_x + new_w))
            if not (keep_clear[region] & car_mask).any():
                car = cv2.resize(donor_photo[y : y + h, x : x + w], (new_w, new_h), interpolation=cv2.INTER_AREA)
                composite[region][car_mask] = car[car_mask]
                subject[region][car_mask] = False
                break
    return composite, subject


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=RUN, help="training run whose held-out photos to use")
    parser.add_argument("--dataset", default="roboflow_car_seg", help="which of the run's datasets")
    parser.add_argument("--photos", type=int, default=60, help="one-car photos to use")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pairs = one_car_photos(held_out_samples(args.run, args.dataset), args.photos)
    model = CarSegModel.from_pretrained(args.model)
    rows: dict[str, list[tuple[float, float]]] = {"composites (2-3 cars)": [], "one-car photos": []}
    for index, (photo, truth) in enumerate(pairs):
        donors = [pairs[(index + offset) % len(pairs)] for offset in range(1, 1 + rng.integers(1, 3))]
        composite, subject = paste_cars(photo, truth, donors, rng)
        for label, image, expected in (("composites (2-3 cars)", composite, subject), ("one-car photos", photo, truth)):
            result = model.predict(image)
            rows[label].append(
                (mask_scores(expected, result.main_car().mask)[0], mask_scores(expected, result.mask)[0])
            )
    print(f"{len(pairs)} held-out one-car photos of {args.dataset}\n")
    print("| photos | main_car() Dice | plain mask Dice | difference |\n|---|---:|---:|---:|")
    for label, scores in rows.items():
        kept, plain = np.mean([s[0] for s in scores]), np.mean([s[1] for s in scores])
        print(f"| {label} | {kept:.4f} | {plain:.4f} | {kept - plain:+.4f} |")


if __name__ == "__main__":
    main()
