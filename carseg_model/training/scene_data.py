"""The training photos of the scene recipe (``--scenes``): car photos and car-free photos with soft targets.

`prepare_scenes` finds the ``--negatives`` photos and holds some out, fills the teachers'
cache when ``--teachers`` is given, and decodes every training photo into a `ScenePhoto`
(at most `WORKING_LONG_SIDE` long) for `carseg_model.training.scenes.SceneSampler`.
The held-out car-free photos are scored after training (`carseg_model.evaluation.car_free_samples`).
No TensorFlow here.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from carseg_model.datasets import DatasetError, Sample, count_by_dataset, load_mask, report_problems
from carseg_model.image_io import load_image
from carseg_model.training.distillation import TEACHER_CACHE, TeacherTargets, car_data_teacher
from carseg_model.training.negatives import NegativePhoto, find_negatives, folder_license, load_labels, split_negatives
from carseg_model.training.options import TrainingOptions
from carseg_model.training.scenes import ScenePhoto, fit_long_side, largest_object, soft_target

Item = TypeVar("Item")


@dataclass(frozen=True)
class SceneData:
    """The photos a scene run trains on (``photos``: car photos first, then car-free ones) and the held-out car-free photos."""

    samples: list[Sample]
    negatives: list[NegativePhoto]
    val_negatives: list[NegativePhoto]
    photos: list[ScenePhoto]

    def photo_counts(self) -> dict[str, int]:
        """Training photos per dataset and negatives folder."""
        return {**count_by_dataset(self.samples), **Counter(photo.source for photo in self.negatives)}

    def card_rows(self, licenses: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Model-card dataset rows of the negatives folders (``licenses``: ``--negatives-license``, by folder order)."""
        folders = list(dict.fromkeys(photo.folder for photo in [*self.negatives, *self.val_negatives]))
        rows = []
        for index, folder in enumerate(folders):
            train = [photo for photo in self.negatives if photo.folder == folder]
            val = [photo for photo in self.val_negatives if photo.folder == folder]
            rows.append(
                {
                    "name": folder.resolve().name,
                    "train_images": len(train),
                    "val_images": len(val),
                    "car_values": "none: car-free photos (masks_car/ where cars are labelled)",
                    "license": licenses[index] if index < len(licenses) else folder_license(train + val),
                }
            )
        return rows


def prepare_scenes(
    options: TrainingOptions,
    samples: Sequence[Sample],
    run_folder: Path,
    seed: int,
    max_pixels: int,
    log: Callable[[str], None] = print,
) -> SceneData:
    """Everything ``--scenes`` trains on: the car ``samples`` and the ``--negatives`` photos not held out."""
    found = [photo for folder in options.negatives for photo in find_negatives(folder, options.skip_bad)]
    negatives, val_negatives = split_negatives(found, options.val_negatives_fraction, seed)
    teachers = None
    if options.teachers:
        run_folder.mkdir(parents=True, exist_ok=True)
        teachers = TeacherTargets.from_folder(options.teachers, run_folder / TEACHER_CACHE)
        paths = [sample.image_path for sample in samples] + [photo.path for photo in negatives]
        teachers.fill(paths, lambda path: load_image(path, max_pixels), log)
    else:
        sure = [p for p in negatives if p.cars_visible == "no" or p.label_file("masks_car") is not None]
        if len(sure) < len(negatives):
            log(
                f"left out {len(negatives) - len(sure)} car-free photo(s) that may show cars (cars_visible "
                "yes/unknown, no car mask); --teachers would label them"
            )
        negatives = sure
    weight = options.teacher_weight
    samples, photos = _decode_all(lambda s: car_scene_photo(s, teachers, weight, max_pixels), samples, options)
    negatives, negative_photos = _decode_all(
        lambda p: negative_scene_photo(p, teachers, weight, max_pixels), negatives, options
    )
    photos += negative_photos
    distractors = sum(photo.cutout is not None and not photo.has_car for photo in photos)
    log(
        f"scenes: {len(negatives)} car-free photos ({distractors} with a person, bicycle or animal to paste), "
        f"{len(val_negatives)} held out for validation; teachers' targets: {'yes' if teachers else 'no'}"
    )
    return SceneData(samples, negatives, val_negatives, photos)


def car_scene_photo(
    sample: Sample, teachers: TeacherTargets | None, teacher_weight: float, max_pixels: int
) -> ScenePhoto:
    """A car photo and its target: the mask, mixed with its dataset's teacher (`car_data_teacher`) if any."""
    image = load_image(sample.image_path, max_pixels)
    truth = load_mask(sample)
    _check_size(sample.image_path, image, truth)
    image = fit_long_side(image)
    size = image.shape[:2]
    truth = cv2.resize(truth.astype(np.float32), size[::-1], interpolation=cv2.INTER_AREA) >= 0.5
    teacher = teachers.probability(sample.image_path, size, car_data_teacher(sample.dataset)) if teachers else None
    return ScenePhoto(image, soft_target(truth, teacher, None, teacher_weight), largest_object(truth), True)


def negative_scene_photo(
    photo: NegativePhoto, teachers: TeacherTargets | None, teacher_weight: float, max_pixels: int
) -> ScenePhoto:
    """A car-free photo and its target: the teachers (``min`` of both where judged car-free, else ``mean``),
    or 0, mixed with its car mask if any; labelled non-car pixels are 0."""
    image = load_image(photo.path, max_pixels)
    labels = load_labels(photo)
    for mask in (labels.car, labels.not_car, labels.cutout):
        _check_size(photo.path, image, mask)
    image = fit_long_side(image)
    size = image.shape[:2]
    car, not_car, cutout = (_resize_mask(mask, size) for mask in (labels.car, labels.not_car, labels.cutout))
    if teachers:
        teacher = teachers.probability(photo.path, size, "min" if photo.cars_visible == "no" else "mean")
    else:
        teacher = None if car is not None else np.zeros(size, np.float32)
    return ScenePhoto(image, soft_target(car, teacher, not_car, teacher_weight), cutout, car is not None)


def _check_size(path: Path, image: np.ndarray, mask: np.ndarray | None) -> None:
    if mask is not None and mask.shape != image.shape[:2]:
        raise DatasetError(
            f"{path} is {image.shape[1]}x{image.shape[0]} but its mask is {mask.shape[1]}x{mask.shape[0]}"
        )


def _resize_mask(mask: np.ndarray | None, size: tuple[int, int]) -> np.ndarray | None:
    if mask is None or mask.shape == size:
        return mask
    return cv2.resize(mask.astype(np.uint8), size[::-1], interpolation=cv2.INTER_NEAREST) > 0


def _decode_all(
    decode: Callable[[Item], ScenePhoto], items: Sequence[Item], options: TrainingOptions
) -> tuple[list[Item], list[ScenePhoto]]:
    """``decode`` every item in parallel threads: ``(the items decoded, their photos)``; failures raise one
    `DatasetError` (``--skip-bad``: logged, left out)."""

    def attempt(item: Item) -> ScenePhoto | str:
        try:
            return decode(item)
        except (OSError, ValueError) as error:
            return f"{getattr(item, 'image_path', getattr(item, 'path', item))}: {error}"

    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        outcomes = list(pool.map(attempt, items))
    report_problems([o for o in outcomes if isinstance(o, str)], "the scene photos", options.skip_bad)
    decoded = [(item, outcome) for item, outcome in zip(items, outcomes) if not isinstance(outcome, str)]
    return [item for item, _ in decoded], [photo for _, photo in decoded]
