"""Scores and the score table, with a stand-in model (no network)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from carseg_model.datasets import Sample
from carseg_model.evaluation import (
    boundary_f,
    car_free_samples,
    evaluate,
    evaluate_segmenter,
    mask_scores,
    score_table,
    summarize,
)


def test_mask_scores() -> None:
    truth = np.array([[1, 1, 0, 0]], bool)
    assert mask_scores(truth, truth) == (1.0, 1.0)
    assert mask_scores(truth, np.array([[0, 1, 1, 0]], bool)) == pytest.approx((0.5, 1 / 3))
    assert mask_scores(~truth & truth, ~truth & truth) == (1.0, 1.0)  # no car, none predicted


def samples(tmp_path: Path) -> list[Sample]:
    """Three 4x2 photos whose masks mark the left half as car: two in dataset "a", one in "b"."""
    mask = np.zeros((2, 4), np.uint8)
    mask[:, :2] = 1
    made = []
    for index, dataset in enumerate("aab"):
        photo, labels = tmp_path / f"{index}.png", tmp_path / f"{index}_mask.png"
        Image.fromarray(np.zeros((2, 4, 3), np.uint8)).save(photo)
        Image.fromarray(mask).save(labels)
        made.append(Sample(photo, labels, dataset, None))
    return made


class LeftHalfModel:
    """Predicts the left half, then (from the third photo on) nothing; records its batch sizes."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def predict_batch(self, paths: list[Path], batch_size: int) -> list[SimpleNamespace]:
        self.batches.append(len(paths))
        start = sum(self.batches) - len(paths)
        masks = [np.zeros((2, 4), bool) for _ in paths]
        for offset, mask in enumerate(masks):
            mask[:, :2] = start + offset < 2
        return [SimpleNamespace(mask=mask, refine_edges=False) for mask in masks]


def test_evaluate_in_batches(tmp_path: Path) -> None:
    model = LeftHalfModel()
    scores = evaluate(model, samples(tmp_path), batch_size=2)
    assert model.batches == [2, 1]
    assert [(score["dataset"], score["dice"]) for score in scores] == [("a", 1.0), ("a", 1.0), ("b", 0.0)]
    assert scores[0]["image"] == str(tmp_path / "0.png")


def test_evaluate_any_segmenter(tmp_path: Path) -> None:
    scores = evaluate_segmenter(lambda photo: np.ones(photo.shape[:2], bool), samples(tmp_path))
    assert [score["dice"] for score in scores] == pytest.approx([2 / 3] * 3)


def box(shape: tuple[int, int], top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[top : top + size, left : left + size] = True
    return mask


def test_boundary_f_matches_contours_within_the_tolerance_of_the_diagonal() -> None:
    truth = box((200, 300), 50, 60, 80)  # diagonal 360.6: tolerance 0.008 -> 3 pixels
    assert boundary_f(truth, truth) == 1.0
    assert boundary_f(truth, box((200, 300), 53, 60, 80)) == 1.0  # 3 pixels off: within the tolerance
    shifted = boundary_f(truth, box((200, 300), 60, 70, 80))  # 10 pixels off: only crossing edges match
    assert 0.0 < shifted < 0.2
    assert boundary_f(truth, box((200, 300), 60, 70, 80), tolerance=0.04) == 1.0  # 15 pixels: all match
    assert boundary_f(truth, np.zeros_like(truth)) == 0.0 and boundary_f(np.zeros_like(truth), truth) == 0.0
    assert boundary_f(np.zeros_like(truth), np.zeros_like(truth)) == 1.0


def test_boundary_f_ignores_the_frame_edge() -> None:
    """A car cut off by the frame has no contour along the frame; a full-frame mask has none at all."""
    truth = np.zeros((100, 100), bool)
    truth[:, :50] = True
    prediction = np.zeros((100, 100), bool)
    prediction[:, :50] = True
    prediction[0, 50:] = True  # a one-pixel sliver along the top edge: its contour is its bottom row
    assert boundary_f(truth, truth) == 1.0
    assert boundary_f(np.ones((40, 60), bool), np.ones((40, 60), bool)) == 1.0
    assert boundary_f(truth, prediction) < 1.0
    with pytest.raises(ValueError, match="differ in size"):
        boundary_f(truth, truth[:50])


def score(dataset: str, dice: float, car_share: float, marked_share: float, boundary: float = 1.0) -> dict:
    return {
        "dataset": dataset,
        "dice": dice,
        "iou": dice / (2 - dice),
        "boundary_f": boundary,
        "car_share": car_share,
        "marked_share": marked_share,
    }


def test_summary_and_score_table() -> None:
    scores = [
        score("a", 1.0, 0.30, 0.30, boundary=0.9),
        score("a", 0.5, 0.02, 0.01, boundary=0.5),  # a small car
        score("b", 0.0, 0.00, 0.10, boundary=0.0),  # car-free, marked 10 %
        score("b", 1.0, 0.00, 0.00, boundary=1.0),  # car-free, clean
    ]
    summary = summarize(scores)
    assert list(summary) == ["a", "b", "overall"]
    assert summary["a"] == pytest.approx(
        {
            "images": 2,
            "dice": 0.75,
            "iou": (1 + 1 / 3) / 2,
            "boundary_f": 0.7,
            "dice_unrefined": None,
            "boundary_f_unrefined": None,
            "small_car_images": 1,
            "small_car_dice": 0.5,
            "car_free_images": 0,
            "marked_mean": None,
            "marked_worst": None,
            "marked_over_limit": None,
        }
    )
    assert summary["b"]["boundary_f"] is None  # only photos that show a car have a contour to score
    assert (summary["b"]["marked_mean"], summary["b"]["marked_worst"], summary["b"]["marked_over_limit"]) == (
        pytest.approx(0.05),
        0.10,
        1,
    )
    assert summary["overall"]["images"] == 4 and summary["overall"]["small_car_images"] == 1
    assert score_table(scores).splitlines() == [
        "dataset                       photos mean Dice mean IoU boundary F small cars small Dice car-free "
        "marked mean marked worst over 5%",
        "a                                  2    0.7500   0.6667     0.7000          1     0.5000        0 "
        "          -            -       -",
        "b                                  2    0.5000   0.5000          -          0          -        2 "
        "      5.00%       10.00%       1",
        "overall                            4    0.6250   0.5833     0.7000          1     0.5000        2 "
        "      5.00%       10.00%       1",
    ]


def test_car_free_samples_are_scored_against_an_empty_mask(tmp_path: Path) -> None:
    for name in ("walker", "cyclist"):
        Image.fromarray(np.full((6, 8, 3), 90, np.uint8)).save(tmp_path / f"{name}.jpg")
    photos = [
        SimpleNamespace(path=tmp_path / "walker.jpg", source="people", cars_visible="no"),
        SimpleNamespace(path=tmp_path / "street.jpg", source="people", cars_visible="yes"),
        SimpleNamespace(path=tmp_path / "cyclist.jpg", source="people", cars_visible="no"),
    ]
    samples = car_free_samples(photos)
    assert [(s.image_path.name, s.dataset, s.mask_path) for s in samples] == [
        ("walker.jpg", "people", None),
        ("cyclist.jpg", "people", None),
    ]
    scores = evaluate_segmenter(lambda photo: np.eye(*photo.shape[:2], dtype=bool), samples)
    assert [(s["dice"], s["car_share"], s["marked_share"], s["boundary_f"]) for s in scores] == [
        (0.0, 0.0, pytest.approx(6 / 48), 0.0)
    ] * 2
