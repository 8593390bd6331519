"""Sweep the mask's post-processing on training photos: boundary F and Dice per domain.

    python bench/tune_refinement.py --run bench/release_scenes_run --photos 25

The guided filter (`carseg_model.refinement`) has a radius (``RADIUS_PER_STEP`` network-output
pixels) and a regularisation (``GUIDE_EPSILON``); the refined alpha is then cut at the config's
``threshold``. This runs the network once per photo, then scores the mask refined with each pair
(and unrefined), and the default refinement cut at each of ``--thresholds``, against the full-size
truth; for the thresholds also the share of pixels marked as car on the run's training car-free
photos (up to ``--photos`` of them). It uses up to ``--photos`` photos per dataset from the run's
TRAINING split (a seeded sample), so the validation photos the model card reports play no part in
the choice.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from carseg_model import CarSegModel, refinement
from carseg_model.datasets import DatasetError, Sample, find_split, load_mask
from carseg_model.evaluation import boundary_f, car_free_samples, mask_scores
from carseg_model.training.negatives import find_negatives, split_negatives
from carseg_model.training.options import RunConfig

RADII = (1.0, 2.0, 3.0, 4.0)
EPSILONS = (1e-3, 3e-3, 1e-2, 3e-2)
THRESHOLDS = "0.3,0.35,0.4,0.45,0.5,0.55,0.6"


@contextlib.contextmanager
def refinement_settings(radius_per_step: float, epsilon: float) -> Iterator[None]:
    """`carseg_model.refinement`'s two settings changed while the block runs, then restored."""
    saved = refinement.RADIUS_PER_STEP, refinement.GUIDE_EPSILON
    refinement.RADIUS_PER_STEP, refinement.GUIDE_EPSILON = radius_per_step, epsilon
    try:
        yield
    finally:
        refinement.RADIUS_PER_STEP, refinement.GUIDE_EPSILON = saved


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="a training run folder (its data and split)")
    parser.add_argument("--model", help="model folder (default: the bundled model)")
    parser.add_argument("--photos", type=int, default=40, help="training photos per dataset")
    parser.add_argument(
        "--thresholds",
        default=THRESHOLDS,
        help=f"comma-separated thresholds to cut the refined alpha at ({THRESHOLDS})",
    )
    args = parser.parse_args(argv)
    try:
        thresholds = [float(value) for value in args.thresholds.split(",")]
        run = RunConfig.load(args.run)
        options = run.options
        split = find_split(*options.sources(), options.val_fraction, run.seed, options.skip_bad)
        negatives = [photo for folder in options.negatives for photo in find_negatives(folder, options.skip_bad)]
        car_free = car_free_samples(split_negatives(negatives, options.val_negatives_fraction, run.seed)[0])
    except (ValueError, DatasetError) as error:
        sys.exit(f"error: {error}")
    by_dataset = defaultdict(list)
    for sample in split.train:
        by_dataset[sample.dataset].append(sample)
    rng = random.Random(0)
    samples = [
        sample
        for group in by_dataset.values()
        for sample in rng.sample(group, min(args.photos, len(group)))
        if sample.mask_path is not None
    ]
    car_free = rng.sample(car_free, min(args.photos, len(car_free)))
    model = CarSegModel.from_pretrained(args.model) if args.model else CarSegModel.from_pretrained()
    settings = [None] + [(radius, epsilon) for radius in RADII for epsilon in EPSILONS]
    scores = defaultdict(lambda: defaultdict(list))  # setting -> dataset -> [(boundary F, Dice)]
    for index, sample in enumerate(samples):
        result = model.predict(sample.image_path)
        truth = load_mask(sample)
        for setting in settings:
            if setting is None:
                mask = replace(result, refine_edges=False, _cache={}).mask
            else:
                with refinement_settings(*setting):
                    mask = replace(result, _cache={}).mask
            scores[setting][sample.dataset].append((boundary_f(truth, mask), mask_scores(truth, mask)[0]))
        for threshold in thresholds:
            mask = result.with_threshold(threshold).mask
            scores[threshold][sample.dataset].append((boundary_f(truth, mask), mask_scores(truth, mask)[0]))
        print(f"{index + 1}/{len(samples)}", end="\r", file=sys.stderr)
    marked = marked_shares(model, car_free, thresholds)
    datasets = sorted(by_dataset)
    print(f"{len(samples)} training photos; radius in network-output pixels, epsilon on [0, 1] brightness\n")
    print("| radius | epsilon | " + " | ".join(f"{d} bF | {d} Dice" for d in datasets) + " |")
    print("|---|---|" + "---|---|" * len(datasets))
    for setting in settings:
        label = "not refined | –" if setting is None else f"{setting[0]:g} | {setting[1]:g}"
        print(f"| {label} | " + " | ".join(mean_cells(scores[setting], datasets)) + " |")
    print(
        f"\nThe default refinement cut at each threshold (the model's: {model.config.threshold:g}); "
        f"{len(car_free)} training car-free photos\n"
    )
    print(
        "| threshold | "
        + " | ".join(f"{d} bF | {d} Dice" for d in datasets)
        + " | car-free: marked share, mean / worst |"
    )
    print("|---|" + "---|---|" * len(datasets) + "---|")
    for threshold in thresholds:
        shares = marked[threshold]
        free = f"{statistics.mean(shares):.2%} / {max(shares):.2%}" if shares else "–"
        print(f"| {threshold:g} | " + " | ".join(mean_cells(scores[threshold], datasets)) + f" | {free} |")


def mean_cells(scores: dict[str, list[tuple[float, float]]], datasets: Sequence[str]) -> list[str]:
    """Table cells: the mean boundary F and Dice of each dataset's photos."""
    return [f"{statistics.mean(v[which] for v in scores[dataset]):.4f}" for dataset in datasets for which in (0, 1)]


def marked_shares(model: CarSegModel, photos: Sequence[Sample], thresholds: Sequence[float]) -> dict[float, list]:
    """``{threshold: [share of each photo's pixels marked as car]}`` for car-free photos."""
    shares = defaultdict(list)
    for sample in photos:
        result = model.predict(sample.image_path)
        for threshold in thresholds:
            shares[threshold].append(float(result.with_threshold(threshold).mask.mean()))
    return shares


if __name__ == "__main__":
    main()
