"""``carseg evaluate``: Dice / IoU, boundary F, small cars and car-free photos per dataset, and a CSV of every
photo's scores."""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carseg_model.chunks import batched
from carseg_model.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from carseg_model.cli.models import load_runtime_model
from carseg_model.cli.options import add_runtime_options, car_values, new_command
from carseg_model.cli.output import progress, report
from carseg_model.files import atomic_write

if TYPE_CHECKING:
    from carseg_model import CarSegModel
    from carseg_model.datasets import DatasetSource, Sample


def add_parser(commands: Any) -> None:
    """Register ``carseg evaluate``."""
    parser = new_command(
        commands,
        "evaluate",
        "Score the model against ground-truth masks (Dice, IoU, boundary F, car-free photos).",
        "Reads the same layouts as train.py (Kaggle Carvana train/ + train_masks/, or\n"
        "images/ + masks/) and folders of car-free photos (--negatives), prints per\n"
        "dataset the mean Dice / IoU, the DAVIS boundary F, the mean Dice of photos\n"
        "whose cars cover under 5 % of the pixels (with --far-cars, also of the\n"
        "photos shrunk and pasted into car-free ones), and on car-free photos the share\n"
        "of pixels marked as car (mean, worst, how many above 5 %), and writes every\n"
        "photo's scores to a CSV file.\n\n"
        "  carseg evaluate --data ../shared/data/roboflow_car_seg --car-values 8 \\\n"
        "      --negatives ../shared/data/negatives/oxford_pet_subset",
    )
    parser.add_argument("--data", action="append", metavar="DIR", help="dataset folder; repeat to score several")
    parser.add_argument(
        "--negatives",
        action="append",
        metavar="DIR",
        help="folder of car-free photos, every pixel background: images/ (or the photos themselves), or "
        "the rows of its manifest.csv (file, cars_visible) marked 'no'; repeat to score several",
    )
    parser.add_argument(
        "--car-values",
        action="append",
        type=car_values,
        metavar="VALUES",
        help="mask values that mean car in the matching --data (by order), e.g. 8 or 7,8; "
        "'any' or omitted: any non-zero value",
    )
    parser.add_argument(
        "--far-cars",
        action="store_true",
        help="also score far-car copies: every --data photo shrunk to 1/4 of its sides and pasted into a "
        "--negatives photo (a small-car slice where the data has no small cars)",
    )
    parser.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out unpaired or unreadable files (reported; exit code 1) instead of stopping",
    )
    parser.add_argument(
        "--csv", default="evaluation.csv", metavar="FILE", help="per-photo scores to write (replaced if it exists)"
    )
    add_runtime_options(parser, overlay=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the score table, write the per-photo CSV; exit code 1 if any file was left out."""
    from carseg_model.evaluation import score_table
    from carseg_model.far_cars import far_car_samples

    if not args.data and not args.negatives:
        raise UsageError("give at least one --data or --negatives folder")
    samples, bad_files = find_dataset_samples(sources(args.data or [], args.car_values), args.skip_bad)
    car_free = find_car_free_samples(args.negatives or [], args.skip_bad)
    if args.far_cars and not (samples and car_free):
        raise UsageError("--far-cars pastes the --data photos into car-free photos: give --data and --negatives")
    model = load_runtime_model(args)
    with tempfile.TemporaryDirectory(prefix="carseg_far_cars_") as far_folder:
        if args.far_cars:
            samples += far_car_samples(samples, [sample.image_path for sample in car_free], far_folder)
        scores, failed = score_samples(model, samples + car_free, args.batch_size)
    if not scores:
        print("no photo could be scored", file=sys.stderr)
        return EXIT_FAILED
    print(f"\n{score_table(scores)}\n")
    write_scores_csv(scores, Path(args.csv).expanduser())
    problems = bad_files + failed
    print(
        f"scored {len(scores)} photo(s); {problems} problem(s) skipped"
        + (" (listed above)" if problems else "")
        + f"; per-photo scores in {args.csv}"
    )
    return EXIT_FAILED if problems else EXIT_OK


def sources(folders: Sequence[str], values: Sequence[tuple[int, ...] | None] | None) -> list[DatasetSource]:
    """The ``--data`` folders paired with their ``--car-values`` (`carseg_model.datasets.dataset_sources`)."""
    from carseg_model.datasets import dataset_sources

    try:
        return dataset_sources(folders, values)
    except ValueError as error:
        raise UsageError(str(error)) from error


def find_dataset_samples(sources: Sequence[DatasetSource], skip_bad: bool) -> tuple[list[Sample], int]:
    """All photo/mask pairs of the datasets, and how many bad files were left out (with ``skip_bad``)."""
    from carseg_model.datasets import DatasetError, find_samples

    samples, bad_files = [], 0
    for source in sources:
        try:
            found, problems = find_samples(source, skip_bad)
        except DatasetError as error:
            raise UsageError(str(error)) from error
        samples += found
        bad_files += len(problems)
    return samples, bad_files


def find_car_free_samples(folders: Sequence[str], skip_bad: bool) -> list[Sample]:
    """The photos of the ``--negatives`` folders that no manifest row marks as showing a car."""
    from carseg_model.datasets import DatasetError
    from carseg_model.evaluation import car_free_samples
    from carseg_model.training.negatives import find_negatives

    samples = []
    for folder in folders:
        try:
            found = car_free_samples(find_negatives(Path(folder).expanduser(), skip_bad))
        except DatasetError as error:
            raise UsageError(str(error)) from error
        if not found:
            raise UsageError(f"--negatives {folder}: its manifest.csv marks no photo cars_visible 'no'")
        samples += found
    return samples


def score_samples(model: CarSegModel, samples: Sequence[Sample], batch_size: int) -> tuple[list[dict], int]:
    """Per-photo scores (`carseg_model.evaluation.evaluate`) batch by batch, skipping photos that fail."""
    from carseg_model.evaluation import evaluate

    scores, failed = [], 0
    with progress(len(samples), "images") as bar:
        for chunk in batched(samples, batch_size):
            try:
                scores += evaluate(model, chunk, batch_size)
            except (ValueError, OSError):  # a photo or mask that does not decode: score the others one by one
                for sample in chunk:
                    try:
                        scores += evaluate(model, [sample], 1)
                    except (ValueError, OSError) as error:
                        report(f"skipped {sample.image_path}: {error}")
                        failed += 1
            bar.update(len(chunk))
    return scores, failed


CSV_NUMBERS = ("dice", "iou", "boundary_f", "car_share", "marked_share", "dice_unrefined", "boundary_f_unrefined")


def write_scores_csv(scores: Sequence[dict], path: Path) -> None:
    """One row per photo: image, dataset and the `CSV_NUMBERS` (written atomically)."""
    with atomic_write(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["image", "dataset", *CSV_NUMBERS])
        writer.writeheader()
        writer.writerows(
            {**score, **{key: f"{score[key]:.6f}" if key in score else "" for key in CSV_NUMBERS}} for score in scores
        )
