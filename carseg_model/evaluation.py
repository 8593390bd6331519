"""Score predicted masks against ground truth at each photo's original resolution, and tabulate the scores.

Besides Dice and IoU, every photo gets the DAVIS boundary F-measure (`boundary_f`), the share of
its pixels that are car (``car_share``) and the share the model marked (``marked_share``), so the
summaries can show the two failures that mean Dice hides: small cars that are missed, and car-free
photos (people, animals, bicycles) that are marked as car. Car-free photos (`car_free_samples`)
are scored against an all-background truth.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from carseg_model.chunks import batched
from carseg_model.config import CarSegConfig
from carseg_model.datasets import Sample, load_mask
from carseg_model.defaults import BATCH_SIZE
from carseg_model.image_io import load_image

if TYPE_CHECKING:
    from carseg_model.model import CarSegModel
    from carseg_model.training.negatives import NegativePhoto

OVERALL = "overall"
"""The `summarize` / `score_table` row over all photos."""
BOUNDARY_TOLERANCE = 0.008
"""DAVIS boundary tolerance: a contour pixel counts as matched within this share of the image diagonal."""
SMALL_CAR_SHARE = 0.05
"""The small-car slice: photos whose cars cover more than 0 and less than this share of the pixels."""
MARKED_LIMIT = 0.05
"""Car-free photos with more than this share of their pixels marked as car are counted (the target: none)."""


def mask_scores(truth: np.ndarray, prediction: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of two boolean masks; both empty counts as a perfect 1.0."""
    intersection = np.logical_and(truth, prediction).sum()
    total = truth.sum() + prediction.sum()
    if total == 0:
        return 1.0, 1.0
    return float(2 * intersection / total), float(intersection / (total - intersection))


def boundary_f(truth: np.ndarray, prediction: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """The DAVIS boundary F-measure of two bool masks of one size, at that size.

    Contours are the masks' one-pixel inner boundaries (the frame's edge is not a contour); a
    contour pixel of one mask is matched when the other's contour lies within ``tolerance`` of the
    image diagonal (at least one pixel). F is the harmonic mean of the matched shares of the
    predicted contour (precision) and of the true contour (recall). Both without contour: 1.0;
    one without: 0.0.
    """
    if truth.shape != prediction.shape:
        raise ValueError(f"the masks differ in size: {truth.shape} and {prediction.shape}")
    truth_edge, predicted_edge = _contour(truth), _contour(prediction)
    truth_count, predicted_count = int(truth_edge.sum()), int(predicted_edge.sum())
    if truth_count == 0 and predicted_count == 0:
        return 1.0
    if truth_count == 0 or predicted_count == 0:
        return 0.0
    radius = max(1.0, math.ceil(tolerance * math.hypot(*truth.shape[:2])))
    precision = _matched(predicted_edge, truth_edge, radius) / predicted_count
    recall = _matched(truth_edge, predicted_edge, radius) / truth_count
    return 0.0 if precision + recall == 0 else float(2 * precision * recall / (precision + recall))


def _contour(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it; beyond the frame counts as inside (edge replicated)."""
    mask = np.ascontiguousarray(mask, dtype=bool).view(np.uint8)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    return mask > cv2.erode(mask, cross, borderType=cv2.BORDER_REPLICATE)


def _matched(edge: np.ndarray, other: np.ndarray, radius: float) -> int:
    """How many pixels of ``edge`` lie within ``radius`` (Euclidean) of a pixel of ``other``."""
    distance = cv2.distanceTransform((~other).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return int((distance[edge] <= radius).sum())


# ---------------------------------------------------------------------------- scoring
UNREFINED = ("dice", "boundary_f")
"""Scores also given for the unrefined mask when the model refines edges (``<key>_unrefined``)."""


def evaluate(model: CarSegModel, samples: Sequence[Sample], batch_size: int = BATCH_SIZE) -> list[dict[str, Any]]:
    """Per-photo scores of ``model.predict_batch`` (what users get) against the full-size masks.

    Each score is ``{"image": path, "dataset": name, "dice", "iou", "boundary_f", "car_share",
    "marked_share": float}``; with ``refine_edges`` also ``dice_unrefined`` and ``boundary_f_unrefined``
    (the same network output upsampled without refinement).
    """
    scores = []
    for chunk in batched(samples, batch_size):
        results = model.predict_batch([sample.image_path for sample in chunk], batch_size=batch_size)
        for sample, result in zip(chunk, results):
            score = _score(sample, result.mask)
            if result.refine_edges:  # the same network output without edge refinement, for comparison
                plain = _score(sample, replace(result, refine_edges=False).mask)
                score.update({f"{key}_unrefined": plain[key] for key in UNREFINED})
            scores.append(score)
    return scores


def evaluate_segmenter(segment: Callable[[np.ndarray], np.ndarray], samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Like `evaluate`, for any ``segment(rgb photo) -> bool mask`` (e.g. a DeepLabV3 peer)."""
    return [_score(sample, segment(load_image(sample.image_path, CarSegConfig.max_pixels))) for sample in samples]


def _score(sample: Sample, prediction: np.ndarray) -> dict[str, Any]:
    """The scores of one predicted mask against the sample's truth (all background for a car-free sample)."""
    truth = np.zeros(prediction.shape, bool) if sample.mask_path is None else load_mask(sample)
    dice, iou = mask_scores(truth, prediction)
    return {
        "image": str(sample.image_path),
        "dataset": sample.dataset,
        "dice": dice,
        "iou": iou,
        "boundary_f": boundary_f(truth, prediction),
        "car_share": float(truth.mean()),
        "marked_share": float(np.mean(prediction)),
    }


# ---------------------------------------------------------------------------- car-free photos
def car_free_sample(photo: str | Path, dataset: str) -> Sample:
    """A photo whose truth is all background (no mask file: it is scored against an empty mask)."""
    return Sample(Path(photo), None, dataset, None)


def car_free_samples(photos: Iterable[NegativePhoto]) -> list[Sample]:
    """The photos of a negatives folder (`carseg_model.training.negatives.find_negatives`) whose manifest
    says no car is visible, as samples named after their folder."""
    return [car_free_sample(photo.path, photo.source) for photo in photos if photo.cars_visible == "no"]


# ---------------------------------------------------------------------------- summaries
def summarize(scores: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`summarize_group` per dataset (in order of appearance), and `OVERALL` over all photos."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for one in scores:
        groups[one["dataset"]].append(one)
    groups[OVERALL] = list(scores)
    return {name: summarize_group(group) for name, group in groups.items()}


def summarize_group(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over a group of per-photo scores (``None`` where the group has no photo of that kind).

    ``images``, ``dice``, ``iou``: all photos. ``boundary_f``: photos that show a car.
    ``dice_unrefined`` / ``boundary_f_unrefined``: the same without edge refinement (if scored).
    ``small_car_images`` / ``small_car_dice``: the small-car slice (cars cover more than 0 and
    under `SMALL_CAR_SHARE` of the pixels). ``car_free_images``, ``marked_mean``,
    ``marked_worst``, ``marked_over_limit``: car-free photos (truth all background), the share of
    their pixels marked as car (mean and largest) and how many are marked above `MARKED_LIMIT`.
    """
    with_car = [s for s in scores if s["car_share"] > 0]
    small = [s for s in with_car if s["car_share"] < SMALL_CAR_SHARE]
    marked = [s["marked_share"] for s in scores if s["car_share"] == 0]
    return {
        "images": len(scores),
        "dice": _mean(s["dice"] for s in scores),
        "iou": _mean(s["iou"] for s in scores),
        "boundary_f": _mean(s["boundary_f"] for s in with_car),
        "dice_unrefined": _mean(s["dice_unrefined"] for s in scores if "dice_unrefined" in s),
        "boundary_f_unrefined": _mean(s["boundary_f_unrefined"] for s in with_car if "boundary_f_unrefined" in s),
        "small_car_images": len(small),
        "small_car_dice": _mean(s["dice"] for s in small),
        "car_free_images": len(marked),
        "marked_mean": _mean(marked),
        "marked_worst": max(marked, default=None),
        "marked_over_limit": sum(share > MARKED_LIMIT for share in marked) if marked else None,
    }


def _mean(values: Any) -> float | None:
    values = list(values)
    return float(np.mean(values)) if values else None


COLUMNS = (
    ("photos", "images", "{:d}"),
    ("mean Dice", "dice", "{:.4f}"),
    ("mean IoU", "iou", "{:.4f}"),
    ("boundary F", "boundary_f", "{:.4f}"),
    ("Dice unrefined", "dice_unrefined", "{:.4f}"),
    ("bF unrefined", "boundary_f_unrefined", "{:.4f}"),
    ("small cars", "small_car_images", "{:d}"),
    ("small Dice", "small_car_dice", "{:.4f}"),
    ("car-free", "car_free_images", "{:d}"),
    ("marked mean", "marked_mean", "{:.2%}"),
    ("marked worst", "marked_worst", "{:.2%}"),
    (f"over {MARKED_LIMIT:.0%}", "marked_over_limit", "{:d}"),
)
"""`score_table` columns after the dataset name: heading, `summarize_group` key, format."""


def score_table(scores: Sequence[dict[str, Any]]) -> str:
    """The score table of `evaluate`'s scores: one row per dataset, then overall; the columns of `COLUMNS`.

    A dash where a dataset has no photo of the kind (no small cars, no car-free photo); the
    unrefined columns only when the model refines edges.
    """
    summaries = summarize(scores)
    columns = [
        (heading, key, form)
        for heading, key, form in COLUMNS
        if not key.endswith("_unrefined") or any(summary[key] is not None for summary in summaries.values())
    ]
    lines = [f"{'dataset':<28}" + "".join(f" {heading:>{_width(heading)}}" for heading, _, _ in columns)]
    for name, summary in summaries.items():
        cells = ("-" if summary[key] is None else form.format(summary[key]) for _, key, form in columns)
        lines.append(f"{name:<28}" + "".join(f" {cell:>{_width(h)}}" for cell, (h, _, _) in zip(cells, columns)))
    return "\n".join(lines)


def _width(heading: str) -> int:
    return max(len(heading), 7)
