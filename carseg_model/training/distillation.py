"""Soft car targets from the two DeepLabV3 teachers (``--teachers DIR``), computed once per photo and cached.

The teachers' car log-odds (`carseg_model.teachers.TeacherCache`) live in the run folder's
``teacher_cache.npz``, filled on first use (a resumed run reads them back). A photo's target
takes the probability of the teacher that knows its kind of photo (`CAR_DATA_TEACHERS`), or
both teachers combined: their ``mean``, or their ``min`` for photos judged car-free (a pixel
counts as car only where both teachers agree). No TensorFlow here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from carseg_model.teachers import DeepLabV3Teacher, TeacherCache, upsample_log_odds

TEACHER_NAMES = ("voc", "cityscapes")
"""The teachers, in `TeacherCache` order (`carseg_model.teachers.TEACHER_FILES` names)."""
COMBINATIONS = (*TEACHER_NAMES, "mean", "min")
TEACHER_CACHE = "teacher_cache.npz"
CAR_DATA_TEACHERS = {"roboflow_car_seg": "voc", "camvid_cars": "cityscapes", "dsmlr_carparts": "voc"}
"""The teacher of each shared car dataset (by folder name): the one that knows its kind of photo.
Other datasets take the ``mean`` of both."""
PROGRESS_EVERY = 100
"""Photos between progress lines (and cache saves) while the cache fills."""


def car_data_teacher(dataset: str) -> str:
    """How the teachers' probabilities of a car dataset's photos are combined (see `CAR_DATA_TEACHERS`)."""
    return CAR_DATA_TEACHERS.get(dataset, "mean")


class TeacherTargets:
    """Car probabilities of both teachers for any photo, from a `TeacherCache` file.

    ``teachers`` are the teacher objects in `TEACHER_NAMES` order (anything with ``car_log_odds``);
    `from_folder` loads the two DeepLabV3 ``.tflite`` files.
    """

    def __init__(self, cache_file: str | os.PathLike, teachers: Sequence[object]) -> None:
        self.cache = TeacherCache(cache_file, teachers)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, cache_file: str | os.PathLike) -> TeacherTargets:
        return cls(cache_file, [DeepLabV3Teacher.named(name, folder) for name in TEACHER_NAMES])

    def fill(
        self, paths: Sequence[Path], load: Callable[[Path], np.ndarray], log: Callable[[str], None] = print
    ) -> None:
        """Run the teachers on every photo of ``paths`` not yet cached (``load`` decodes one), saying how far they are."""
        missing = [path for path in paths if path not in self.cache]
        if not missing:
            return
        log(f"teachers: {len(missing)} photo(s) to label, cached in {self.cache.file}")
        started = time.monotonic()
        for start in range(0, len(missing), PROGRESS_EVERY):
            self.cache.fill(missing[start : start + PROGRESS_EVERY], load)  # saves after each chunk
            done = min(start + PROGRESS_EVERY, len(missing))
            log(f"teachers: {done}/{len(missing)} photos ({time.monotonic() - started:.0f} s)")

    def probability(self, path: Path, size: tuple[int, int], how: str) -> np.ndarray:
        """Float32 car probability ``(height, width)`` of a cached photo: one teacher's, or both combined (`COMBINATIONS`)."""
        if how not in COMBINATIONS:
            raise ValueError(f"teacher combination must be one of {COMBINATIONS}; got {how!r}")
        voc, cityscapes = (upsample_log_odds(log_odds, size) for log_odds in self.cache[path])
        if how == "voc":
            return voc
        if how == "cityscapes":
            return cityscapes
        return (voc + cityscapes) / 2 if how == "mean" else np.minimum(voc, cityscapes)
