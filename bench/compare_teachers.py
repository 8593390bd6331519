"""Compare a carseg model with the DeepLabV3 peers on a training run's held-out photos, in one run.

    python bench/compare_teachers.py --run runs/release                 # the run's own model
    python bench/compare_teachers.py --run runs/release --model carseg_model/pretrained/carseg-unet-mobilenetv2
    python bench/compare_teachers.py --run runs/release --negatives ../shared/data/negatives/* \\
        --val-negatives-fraction 0.15 --seed 7                          # car-free photos held out as in training
    python bench/compare_teachers.py --run runs/release --update-card   # also put the table in the model card

The validation photos are the run's (same datasets, same seeded group split as train.py); the
car-free photos are the ``--negatives`` photos that training held out (all folders together, the
same seeded `carseg_model.training.negatives.split_negatives`), those whose manifest says no car
is visible, and far-car copies of the validation photos pasted into them (`carseg_model.far_cars`:
the small-car slice). Every model is scored the same way (`carseg_model.evaluation`): a mask at each photo's
original resolution, then per photo Dice, the DAVIS boundary F and the share of pixels marked as
car. The peers get the photo stretch-resized to 513x513 (their input) and their class map resized
back (nearest); car is class 7 for Pascal VOC and 13 for Cityscapes. bench/README.md explains the
table's rows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from carseg_model import CarSegModel
from carseg_model.cli.options import scales
from carseg_model.datasets import DatasetError, Sample, find_split
from carseg_model.evaluation import (
    MARKED_LIMIT,
    SMALL_CAR_SHARE,
    car_free_samples,
    evaluate,
    evaluate_segmenter,
    summarize,
    summarize_group,
)
from carseg_model.far_cars import SHRINK as FAR_SHRINK
from carseg_model.far_cars import far_car_samples
from carseg_model.teachers import TEACHER_FILES, DeepLabV3Teacher
from carseg_model.training.negatives import DISTRACTOR_NAMES, NegativePhoto, find_negatives, split_negatives
from carseg_model.training.options import RunConfig

REPO = Path(__file__).resolve().parent.parent
TEACHERS = REPO.parent / "shared" / "teachers"
PEERS = {"DeepLabV3 Pascal VOC (int8)": "voc", "DeepLabV3 Cityscapes (int8)": "cityscapes"}
"""Column name -> `carseg_model.teachers.TEACHER_FILES` name."""
CARSEG = "carseg (this model)"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder written by train.py or carseg train")
    parser.add_argument("--model", help="carseg model folder or repo id (default: the run's model/)")
    parser.add_argument("--teachers", type=Path, default=TEACHERS, help="folder of the DeepLabV3 .tflite files")
    parser.add_argument(
        "--negatives",
        nargs="+",
        action="extend",
        metavar="DIR",
        help="negatives folders as given to training (default: the run's --negatives)",
    )
    parser.add_argument(
        "--val-negatives-fraction",
        type=float,
        help="share of the negatives held out of training (default: the run's, 0.15 unless set)",
    )
    parser.add_argument("--seed", type=int, help="seed of the negatives split (default: the run's seed)")
    parser.add_argument("--update-card", action="store_true", help="write the table into the model's card")
    parser.add_argument(
        "--test-time-flip",
        action="store_true",
        help="also score the model with test-time flip (mirrored photo averaged in)",
    )
    parser.add_argument(
        "--test-time-scales",
        type=scales,
        metavar="S,S,...",
        help="also score the model run at these input scales, averaged (e.g. 1,1.25: config.test_time_scales)",
    )
    return parser.parse_args(argv)


def held_out_negatives(
    folders: Sequence[str | Path], fraction: float, seed: int, skip_bad: bool = False
) -> list[NegativePhoto]:
    """The photos of the negatives folders that a training run with ``fraction`` and ``seed`` held out
    (as `carseg_model.training.scene_data.prepare_scenes` splits them)."""
    photos = [photo for folder in folders for photo in find_negatives(folder, skip_bad)]
    return split_negatives(photos, fraction, seed)[1]


@dataclass(frozen=True)
class Held:
    """What every model is scored on: the validation photos and the held-out car-free photos."""

    val: list[Sample]
    car_free: list[Sample]
    distractors: frozenset[str]
    """Image paths of the car-free photos whose manifest names a person, bicycle or animal."""
    far: list[Sample] = field(default_factory=list)
    """Far-car copies of the validation photos (`carseg_model.far_cars`): the small-car slice."""

    @property
    def samples(self) -> list[Sample]:
        return self.val + self.far + self.car_free


def held_out_photos(val: list[Sample], negatives: Sequence[NegativePhoto]) -> Held:
    """The validation photos, and the held-out negatives that show no car (`car_free_samples`)."""
    with_distractors = [photo for photo in negatives if DISTRACTOR_NAMES.intersection(photo.objects)]
    distractors = frozenset(str(sample.image_path) for sample in car_free_samples(with_distractors))
    return Held(val, car_free_samples(negatives), distractors)


@dataclass(frozen=True)
class Row:
    """One row of the table: a figure of every model, the better one highest (or lowest)."""

    label: str
    photos: int
    values: dict[str, Any]
    form: str = "{:.4f}"
    higher_is_better: bool = True


def comparison_rows(scores: dict[str, list[dict[str, Any]]], held: Held) -> list[Row]:
    """Mean Dice and boundary F per validation domain and its far copies (carseg's also without edge
    refinement), the small-car slice, boundary F overall and the car-free photos' marked shares."""
    val_paths = {str(sample.image_path) for sample in held.val}
    with_car = val_paths | {str(sample.image_path) for sample in held.far}
    groups = {
        name: {
            **summarize([s for s in model_scores if s["image"] in with_car]),
            "overall": summarize_group([s for s in model_scores if s["image"] in val_paths]),
            "small cars": summarize_group([s for s in model_scores if s["image"] in with_car]),
            "car-free": summarize_group([s for s in model_scores if s["image"] not in with_car]),
            "distractors": summarize_group([s for s in model_scores if s["image"] in held.distractors]),
        }
        for name, model_scores in scores.items()
    }
    first = next(iter(groups.values()))

    def row(label: str, group: str, key: str, photos: int | None = None, **how: Any) -> Row:
        values = {name: summary[group][key] for name, summary in groups.items()}
        return Row(label, first[group]["images"] if photos is None else photos, values, **how)

    overall = first["overall"]
    domains = dict.fromkeys(sample.dataset for sample in held.val + held.far)
    rows = [row(f"{domain}: mean Dice", domain, "dice") for domain in domains]
    rows += [row(f"{domain}: boundary F", domain, "boundary_f") for domain in domains]
    rows += [row(f"{domain}: Dice, edges not refined", domain, "dice_unrefined") for domain in domains]
    rows += [row(f"{domain}: boundary F, edges not refined", domain, "boundary_f_unrefined") for domain in domains]
    rows += [
        row("all validation photos: mean Dice", "overall", "dice"),
        row(
            f"small cars (under {SMALL_CAR_SHARE:.0%} of the photo, far copies included): mean Dice",
            "small cars",
            "small_car_dice",
            first["small cars"]["small_car_images"],
        ),
        row("boundary F (photos with cars)", "overall", "boundary_f", overall["images"] - overall["car_free_images"]),
    ]
    for group, what in (
        ("distractors", "car-free with people/animals/bicycles"),
        ("car-free", "car-free, all held out"),
    ):
        if first[group]["images"]:
            rows += [
                row(f"{what}: marked share, mean", group, "marked_mean", form="{:.2%}", higher_is_better=False),
                row(f"{what}: marked share, worst", group, "marked_worst", form="{:.2%}", higher_is_better=False),
                row(
                    f"{what}: photos over {MARKED_LIMIT:.0%}",
                    group,
                    "marked_over_limit",
                    form="{:d}",
                    higher_is_better=False,
                ),
            ]
    return rows


def markdown_table(rows: Sequence[Row], seconds: dict[str, float]) -> str:
    """The rows (best value in bold) and seconds per photo, one column per model."""
    names = list(seconds)
    lines = ["| | Photos | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for row in rows:
        given = [value for value in row.values.values() if value is not None]
        best = (max if row.higher_is_better else min)(given, default=None)
        cells = [
            "–"
            if value is None
            else (f"**{row.form.format(value)}**" if value == best and len(names) > 1 else row.form.format(value))
            for value in (row.values[name] for name in names)
        ]
        lines.append(f"| {row.label} | {row.photos} | " + " | ".join(cells) + " |")
    lines.append("| seconds per photo (this machine) | | " + " | ".join(f"{seconds[n]:.3f}" for n in names) + " |")
    return "\n".join(lines)


def timed(score: Callable[[list[Sample]], list[dict[str, Any]]], samples: list[Sample]) -> tuple[list[dict], float]:
    """``score(samples)`` and the seconds it took per photo."""
    start = time.perf_counter()
    scores = score(samples)
    return scores, (time.perf_counter() - start) / len(samples)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.update_card and args.model and not Path(args.model).is_dir():
        sys.exit("error: --update-card rewrites a model folder; --model must be a local folder")
    try:
        run = RunConfig.load(args.run)  # the run's data and split, exactly as training made them
        options = run.options
        split = find_split(*options.sources(), options.val_fraction, run.seed, options.skip_bad)
        fraction = (
            options.val_negatives_fraction if args.val_negatives_fraction is None else args.val_negatives_fraction
        )
        seed = run.seed if args.seed is None else args.seed
        negatives = held_out_negatives(args.negatives or options.negatives, fraction, seed, options.skip_bad)
    except (ValueError, DatasetError) as error:
        sys.exit(f"error: {error}")
    held = held_out_photos(split.val, negatives)
    model_source = args.model or str(args.run / "model")
    model = CarSegModel.from_pretrained(model_source)
    with tempfile.TemporaryDirectory(prefix="carseg_far_cars_") as far_folder:  # the far copies live while scored
        if held.car_free:
            backgrounds = [sample.image_path for sample in held.car_free]
            held = replace(held, far=far_car_samples(held.val, backgrounds, far_folder, seed))
        print(
            f"{len(held.val)} validation photos: {split.description}\n{len(held.car_free)} held-out car-free photos "
            f"({len(held.distractors)} with people/animals/bicycles) of {len(negatives)} held-out negatives\n"
            f"{len(held.far)} far-car copies of the validation photos (1/{FAR_SHRINK} size, pasted into those photos)"
        )

        models: dict[str, Callable[[list[Sample]], list[dict[str, Any]]]] = {
            CARSEG: lambda samples: evaluate(model, samples)
        }
        if args.test_time_flip:
            flipping = CarSegModel(replace(model.config, test_time_flip=True), model.network)
            models["carseg + test-time flip"] = lambda samples: evaluate(flipping, samples)
        if args.test_time_scales:
            try:
                scaling = CarSegModel(model.config.replace(test_time_scales=args.test_time_scales), model.network)
            except ValueError as error:
                sys.exit(f"error: {error}")
            label = ", ".join(f"{scale:g}" for scale in args.test_time_scales)
            models[f"carseg + test-time scales {label}"] = lambda samples: evaluate(scaling, samples)
        for name, teacher in PEERS.items():
            if not (args.teachers / TEACHER_FILES[teacher][0]).is_file():
                print(f"skipping {name}: {args.teachers / TEACHER_FILES[teacher][0]} not found")
                continue
            peer = DeepLabV3Teacher.named(teacher, args.teachers)
            models[name] = lambda samples, peer=peer: evaluate_segmenter(peer.car_mask, samples)

        evaluate(model, held.val[:2])  # warm-up: trace the compiled call before timing
        scores, seconds = {}, {}
        for name, score in models.items():
            scores[name], seconds[name] = timed(score, held.samples)
    table = markdown_table(comparison_rows(scores, held), seconds)
    print(f"\nHeld-out photos at original resolution ({model_source}):\n\n{table}")
    if args.update_card:
        text = (
            f"Measured by `python bench/compare_teachers.py --run {args.run}"
            + (f" --model {args.model}" if args.model else "")
            + "` on the validation photos above "
            f"({split.description}), {len(held.far)} far-car copies of them (1/{FAR_SHRINK} size, pasted into the car-free "
            f"photos) and {len(held.car_free)} car-free photos held out of training: per-photo "
            f"Dice, DAVIS boundary F and share of pixels marked as car at original resolution; best in bold.\n\n{table}"
        )
        card = {**model.config.card, "comparison": text}
        CarSegModel(replace(model.config, card=card), model.network).save_pretrained(model_source)
        print(f"\nUpdated the model card in {model_source}/README.md")


if __name__ == "__main__":
    main()
