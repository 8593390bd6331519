"""``train.py`` and ``carseg train``: from dataset folders to a trained, evaluated and published model.

    python train.py --data data/roboflow_car_seg --car-values 8 --output runs/roboflow
    python train.py --resume runs/roboflow            # after an interruption

`main` reads top to bottom: the run's options, the distribution strategy, the data (found,
split by group, decoded; with ``--scenes`` also the car-free photos and the teachers' targets),
the network, training (resumable after every epoch), evaluation of every validation photo at
its original resolution (and of the held-out car-free photos), then the run folder's outputs
and the model folder (see `carseg_model.training.run_folder`). In a multi-worker run the other
workers train with the chief, in a temporary folder, and end when training ends; the chief
evaluates and writes the run folder.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import keras
import tensorflow as tf

from carseg_model.config import CarSegConfig
from carseg_model.datasets import Sample, SampleCache, count_by_dataset, every_nth, find_split, load_cache
from carseg_model.evaluation import car_free_samples, evaluate, score_table
from carseg_model.model import CarSegModel
from carseg_model.training.distribution import is_chief, make_strategy, wait_for_all_workers, working_folder
from carseg_model.training.loop import build_network, train
from carseg_model.training.options import TrainingOptions, parse_input_size, parse_run
from carseg_model.training.pipeline import TrainingFeed, cache_feed, scene_feed
from carseg_model.training.publish import TrainedRun, publish
from carseg_model.training.run_folder import claimed
from carseg_model.training.scene_data import SceneData, prepare_scenes
from carseg_model.training.scenes import SceneSampler

EXIT_OK, EXIT_USAGE = 0, 2


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run training as the command line ``argv`` (default ``sys.argv[1:]``) says; return the exit status.

    Options, data or a start model that cannot be used end the run with one ``error:`` line on
    stderr and status 2 (bad options: argparse's usage message, status 2). ``prog`` names the
    command in messages and in the recorded command (default ``train.py``).
    """
    run = parse_run(sys.argv[1:] if argv is None else list(argv), prog)
    options = run.options
    try:
        train_sources, val_sources = options.sources()
        strategy = make_strategy(options.strategy)
        replicas = strategy.num_replicas_in_sync
        if options.batch_size < replicas:
            raise ValueError(
                f"--batch-size {options.batch_size} leaves some of the {replicas} replicas without photos; "
                f"pass --batch-size {replicas} or more"
            )
        folder = working_folder(run, strategy)
        keras.utils.set_random_seed(run.seed)
        if options.seed is not None:
            tf.config.experimental.enable_op_determinism()
        base = CarSegModel.from_pretrained(options.init_from) if options.init_from else None
        config = model_config(options, base)
        split = find_split(train_sources, val_sources, options.val_fraction, run.seed, options.skip_bad)
        train_samples = every_nth(split.train, options.data_every_by_dataset())
        feed, train_data = training_feed(options, train_samples, config, run.seed, folder, replicas)
        data = (train_data, load_cache(split.val, config, options.skip_bad))
        for name, photos in zip(("training", "validation"), data):
            counts = photos.photo_counts() if isinstance(photos, SceneData) else count_by_dataset(photos.samples)
            listed = ", ".join(f"{dataset} {count}" for dataset, count in sorted(counts.items()))
            print(f"{name}: {sum(counts.values())} photos ({listed})")
        print(f"{replicas} replica(s), global batch size {options.batch_size}")
        network = build_network(config, base, strategy)
    except (ValueError, OSError, RuntimeError) as error:  # bad data, start model or encoder weights
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE

    with claimed(run, folder):  # run_config.json: --resume continues from here
        stopper = train(network, strategy, options, feed, data[1], config, folder)
    if not is_chief(strategy):
        print(f"Training done; waiting for the chief to evaluate the model and write {run.folder}")
        wait_for_all_workers(strategy)
        return EXIT_OK

    scenes = train_data if isinstance(train_data, SceneData) else None
    car_free = car_free_samples(scenes.val_negatives) if scenes else []  # held out of --negatives
    scores = evaluate(CarSegModel(config, network), [*data[1].samples, *car_free], options.batch_size)
    print("\n" + score_table(scores))
    trained = TrainedRun(
        run=run,
        config=config,
        network=network,
        sources=[*train_sources, *val_sources],
        data=data,
        split=split.description,
        best_epoch=stopper.best_epoch,
        replicas=f"{replicas} ({options.strategy} strategy)",
        base_card=base.config.card if base is not None else None,
        negatives=scenes.card_rows(options.negatives_license) if scenes else [],
    )
    publish(trained, scores)
    wait_for_all_workers(strategy)  # the other workers end with the chief
    return EXIT_OK


def model_config(options: TrainingOptions, base: CarSegModel | None) -> CarSegConfig:
    """The config of the model to train: ``base``'s (``--init-from``; its card is not carried over), or a new one;
    ``--input-size`` and ``--input-shape`` apply to both when given."""
    if base is not None:
        config = replace(base.config, card={})
    else:
        config = CarSegConfig(decoder_block=options.decoder_block, encoder_weights=options.encoder_start)
    if options.input_size or base is None:
        config = replace(config, input_size=options.network_input_size)
    return replace(config, input_shape=options.input_shape) if options.input_shape else config


def training_feed(
    options: TrainingOptions, samples: list[Sample], config: CarSegConfig, seed: int, folder: Path, replicas: int
) -> tuple[TrainingFeed, SampleCache | SceneData]:
    """The training batches for ``replicas`` replicas and the photos they come from: decoded at the input size and
    augmented, or ``--scenes`` (crops of ``--crop``, car-free photos and teachers' targets; `prepare_scenes`)."""
    if not options.scenes:
        cache = load_cache(samples, config, options.skip_bad)
        return cache_feed(cache, config, options.batch_size, options.augmentations, seed, replicas), cache
    crop = parse_input_size(options.crop, "--crop") if options.crop else config.input_size
    if config.input_shape == "stretch" and crop != config.input_size:
        raise ValueError(
            f"--crop {options.crop}: a stretch model only sees its input size {config.input_size[0]}x"
            f"{config.input_size[1]}; pass --input-shape keep_aspect (or no --crop)"
        )
    scenes = prepare_scenes(options, samples, folder, seed, config.max_pixels)
    return scene_feed(SceneSampler(scenes.photos, crop, seed), config, options.batch_size), scenes
