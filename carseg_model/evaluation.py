"""Score predicted masks against ground truth at each photo's original resolution."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from carseg_model.datasets import Sample, load_mask
from carseg_model.image_io import load_image
from carseg_model.model import CarSegModel


def mask_scores(truth: np.ndarray, prediction: np.ndarray) -> tuple[float, float]:
    """Dice and IoU of two boolean masks; both empty counts as a perfect 1.0."""
    intersection = np.logical_and(truth, prediction).sum()
    total = truth.sum() + prediction.sum()
    if total == 0:
        return 1.0, 1.0
    return float(2 * intersection / total), float(intersection / (total - intersection))


def evaluate(model: CarSegModel, samples: Sequence[Sample], batch_size: int = 16) -> list[dict[str, Any]]:
    """Per-photo Dice and IoU of ``model.predict_batch`` (what users get) against the full-size masks."""
    scores = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        results = model.predict_batch([sample.image_path for sample in chunk], batch_size=batch_size)
        scores += [_score(sample, result.mask) for sample, result in zip(chunk, results)]
    return scores


def evaluate_segmenter(segment: Callable[[np.ndarray], np.ndarray], samples: Sequence[Sample]) -> list[dict[str, Any]]:
    """Like `evaluate`, for any ``segment(rgb photo) -> bool mask`` (e.g. a DeepLabV3 peer)."""
    return [_score(sample, segment(load_image(sample.image_path, max_pixels=2**40))) for sample in samples]


def _score(sample: Sample, prediction: np.ndarray) -> dict[str, Any]:
    dice, iou = mask_scores(load_mask(sample), prediction)
    return {"image": str(sample.image_path), "dataset": sample.dataset, "dice": dice, "iou": iou}


def summarize(scores: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean Dice / IoU and image count per dataset, and ``"overall"`` over all photos."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for score in scores:
        groups[score["dataset"]].append(score)
    groups["overall"] = list(scores)
    return {
        name: {
            "images": len(group),
            "dice": float(np.mean([s["dice"] for s in group])),
            "iou": float(np.mean([s["iou"] for s in group])),
        }
        for name, group in groups.items()
    }
