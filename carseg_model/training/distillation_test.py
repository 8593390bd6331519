"""Teachers' targets: cached once per photo, combined per kind of photo (with stand-in teachers)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from carseg_model.training.distillation import TeacherTargets, car_data_teacher
from tests.support.tiny_negatives import RednessTeacher


def photo(path: Path, red: bool) -> Path:
    image = np.full((40, 60, 3), 90, np.uint8)
    if red:
        image[:, :30] = (230, 20, 20)
    cv2.imwrite(str(path), image[..., ::-1])
    return path


def load(path: Path) -> np.ndarray:
    return cv2.imread(str(path))[..., ::-1]


def test_the_cache_fills_once_and_says_how_far_it_is(tmp_path: Path) -> None:
    photos = [photo(tmp_path / f"{i}.png", red=i % 2 == 0) for i in range(3)]
    teachers = [RednessTeacher(0.0), RednessTeacher(-2.0)]
    lines: list[str] = []
    TeacherTargets(tmp_path / "cache.npz", teachers).fill(photos, load, lines.append)
    assert [t.calls for t in teachers] == [3, 3] and lines[0].startswith("teachers: 3 photo(s) to label")
    assert lines[-1].startswith("teachers: 3/3 photos")

    again = [RednessTeacher(0.0), RednessTeacher(-2.0)]
    lines.clear()
    TeacherTargets(tmp_path / "cache.npz", again).fill(photos, load, lines.append)  # a resumed run
    assert [t.calls for t in again] == [0, 0] and lines == []


def test_probabilities_per_teacher_and_combined(tmp_path: Path) -> None:
    red = photo(tmp_path / "red.png", red=True)
    targets = TeacherTargets(tmp_path / "cache.npz", [RednessTeacher(-1.0), RednessTeacher(-3.0)])
    targets.fill([red], load, lambda line: None)
    voc, cityscapes = (targets.probability(red, (40, 60), how) for how in ("voc", "cityscapes"))
    assert voc.shape == (40, 60) and voc.dtype == np.float32
    assert voc[20, 5] > 0.9 and voc[20, 55] < 0.5 and (cityscapes <= voc).all() and cityscapes[20, 55] < voc[20, 55]
    np.testing.assert_allclose(targets.probability(red, (40, 60), "mean"), (voc + cityscapes) / 2, rtol=1e-6)
    np.testing.assert_array_equal(targets.probability(red, (40, 60), "min"), cityscapes)
    with pytest.raises(ValueError, match="teacher combination"):
        targets.probability(red, (40, 60), "max")


def test_each_shared_car_dataset_has_its_teacher() -> None:
    assert car_data_teacher("camvid_cars") == "cityscapes" and car_data_teacher("roboflow_car_seg") == "voc"
    assert car_data_teacher("my_cars") == "mean"
