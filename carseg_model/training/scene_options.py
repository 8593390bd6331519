"""The options of the scene recipe (``--scenes``): multi-scale crops, car-free photos (``--negatives``) and teachers.

`SceneOptions` is the part of `carseg_model.training.options.TrainingOptions` that these
options fill (a run folder written before they existed resumes with them off), and
`add_scene_arguments` their group of the command line. No TensorFlow here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from carseg_model.teachers import TEACHER_FILES
from carseg_model.training.scenes import TEACHER_WEIGHT


@dataclass(frozen=True)
class SceneOptions:
    """``--scenes``, ``--crop``, ``--negatives`` (+ ``--negatives-license``), ``--val-negatives-fraction``,
    ``--teachers`` and ``--teacher-weight`` (field names are the options')."""

    scenes: bool = False
    crop: str | None = None
    negatives: tuple[str, ...] = ()
    negatives_license: tuple[str, ...] = ()
    val_negatives_fraction: float = 0.15
    teachers: str | None = None
    teacher_weight: float = TEACHER_WEIGHT

    def check_scenes(self) -> None:
        """Raise `ValueError` naming the scene option that cannot work (``--crop`` is parsed by the caller)."""
        needs_scenes = [
            option
            for option, given in (("--crop", self.crop), ("--negatives", self.negatives), ("--teachers", self.teachers))
            if given
        ]
        if needs_scenes and not self.scenes:
            raise ValueError(f"{', '.join(needs_scenes)}: only with the scene pipeline; add --scenes")
        if self.negatives_license and len(self.negatives_license) != len(self.negatives):
            raise ValueError(
                f"give one --negatives-license per --negatives ({len(self.negatives)}), or none; "
                f"got {len(self.negatives_license)}"
            )
        if not 0.0 <= self.val_negatives_fraction < 1.0:
            raise ValueError(f"--val-negatives-fraction must be in [0, 1); got {self.val_negatives_fraction}")
        if not 0.0 <= self.teacher_weight <= 1.0:
            raise ValueError(f"--teacher-weight must be in [0, 1]; got {self.teacher_weight}")
        for folder in self.negatives:
            if not Path(folder).is_dir():
                raise ValueError(f"--negatives {folder}: no such folder")
        if self.teachers:
            files = [name for name, _ in TEACHER_FILES.values()]
            missing = [name for name in files if not (Path(self.teachers) / name).is_file()]
            if missing:
                raise ValueError(f"--teachers {self.teachers}: {', '.join(missing)} missing (see ../shared/teachers)")


SCENE_LIST_OPTIONS = ("negatives", "negatives_license")


def add_scene_arguments(parser: argparse.ArgumentParser, default: SceneOptions) -> None:
    """The command line's group of scene options; defaults are ``default``'s."""
    scenes = parser.add_argument_group(
        "scenes, car-free photos and teachers",
        "teach what a car is at every size: train on multi-scale crops with pasted small cars and "
        "pasted people/animals, car-free photos, and soft targets from two DeepLabV3 teachers",
    )
    scenes.add_argument(
        "--scenes",
        action="store_true",
        help="train on multi-scale scenes: each photo zoomed log-uniformly around the crop's pixel count with "
        "aspect jitter, cropped (mirrored at the borders), small cars and non-car objects pasted in, "
        "flipped and colour-jittered (replaces --augment); use with --input-shape keep_aspect",
    )
    scenes.add_argument(
        "--crop",
        metavar="HxW",
        help="training crop of --scenes, multiples of 32 (default: the input size); a stretch model needs "
        "its input size",
    )
    scenes.add_argument(
        "--negatives",
        action="append",
        metavar="DIR",
        help="folder of photos that teach what is not a car (repeatable): images/ (or the photos themselves), "
        "optional manifest.csv (file, licence, cars_visible yes/no/unknown, objects, ...) and optional "
        "masks/ (255 = labelled non-car), masks_classes/ + CLASSES.txt (people, bicycles and animals "
        "are pasted next to cars), masks_car/ (255 = car). Without a manifest every photo is car-free",
    )
    scenes.add_argument(
        "--negatives-license",
        action="append",
        metavar="TEXT",
        help="licence of the matching --negatives, shown in the model card (default: the manifest's licences)",
    )
    scenes.add_argument(
        "--val-negatives-fraction",
        type=float,
        metavar="SHARE",
        default=default.val_negatives_fraction,
        help="share of the --negatives photos (all folders together, seeded) held out of training and scored "
        "after it (share of pixels marked as car)",
    )
    scenes.add_argument(
        "--teachers",
        metavar="DIR",
        help="folder with the two DeepLabV3 .tflite teachers (Pascal VOC, Cityscapes): distil their soft car "
        "probabilities, mixed into the masks' targets and alone on car-free photos (computed once, cached "
        "in the run folder's teacher_cache.npz)",
    )
    scenes.add_argument(
        "--teacher-weight",
        type=float,
        metavar="SHARE",
        default=default.teacher_weight,
        help="share of the teachers' probability in the target of a photo with a mask",
    )
