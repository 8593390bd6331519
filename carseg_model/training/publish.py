"""The outputs of a finished run: ``metrics.json``, ``training_curves.png``, the model folder with its card, the Hub.

`publish` writes them from a `TrainedRun` and the per-photo validation scores
(`carseg_model.evaluation.evaluate`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import keras
from matplotlib.figure import Figure

from carseg_model.card import metric_rows, model_license
from carseg_model.config import CarSegConfig
from carseg_model.datasets import DatasetSource, SampleCache, count_by_dataset
from carseg_model.evaluation import OVERALL, summarize
from carseg_model.files import atomic_write
from carseg_model.model import CarSegModel
from carseg_model.training.options import COSINE_FLOOR, RunConfig
from carseg_model.training.run_folder import CURVES, METRICS, MODEL, TRAINING_LOG, read_training_log

SCENES_FACT = (
    "scenes (--scenes): {crop} crops of each photo zoomed log-uniformly around the crop's pixel count with aspect "
    "jitter, mirrored at the borders; small cars and people, bicycles or animals pasted in; flip, colour jitter"
)
DISTILLATION_FACT = (
    "soft targets from the DeepLabV3 Pascal VOC and Cityscapes teachers: {weight:g} of the target of photos with "
    "a mask, all of it on car-free photos (their labelled non-car pixels 0)"
)


@dataclass(frozen=True)
class TrainedRun:
    """A finished training run: what publishing needs to know about it."""

    run: RunConfig
    config: CarSegConfig
    network: keras.Model
    sources: list[DatasetSource]
    data: tuple[SampleCache, SampleCache]
    """The training and validation photos, as decoded."""
    split: str
    """How the validation photos were chosen (`carseg_model.datasets.Split.description`)."""
    best_epoch: int
    """0-based."""
    replicas: str
    base_card: Mapping[str, Any] | None
    """The card of the ``--init-from`` model, if any."""
    negatives: Sequence[Mapping[str, Any]] = ()
    """Model-card dataset rows of the ``--negatives`` folders (`SceneData.card_rows`)."""


def publish(trained: TrainedRun, scores: Sequence[dict[str, Any]]) -> CarSegModel:
    """Write ``metrics.json``, the training curves and ``model/`` (card filled in) into the run folder, and push
    the model if asked (``--push-to-hub``). Returns the saved model.
    """
    options, folder = trained.run.options, trained.run.folder
    summary = summarize(scores)
    log = read_training_log(folder / TRAINING_LOG)
    metrics = {
        "summary": summary,
        "threshold": trained.config.threshold,
        "split": trained.split,
        "epochs": len(log),
        "best_epoch": trained.best_epoch + 1,
        "images": list(scores),
    }
    with atomic_write(folder / METRICS) as temporary:
        temporary.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    plot_training_curves(log, folder / CURVES)

    card = model_card_facts(trained, summary, log)
    published = replace(
        trained.config, card=card, encoder_weights=published_encoder_weights(trained.config.encoder_weights)
    )
    model = CarSegModel(published, trained.network)
    model.save_pretrained(folder / MODEL)
    print(f"\nSaved the model to {folder / MODEL}")
    if options.push_to_hub:
        url = model.push_to_hub(
            options.push_to_hub,
            private=options.private or None,
            commit_message=f"carseg train.py: mean Dice {summary[OVERALL]['dice']:.4f}",
        )
        print(f"Pushed to {url}")
    return model


def plot_training_curves(log: Sequence[Mapping[str, float]], path: Path) -> None:
    """Loss and Dice per epoch, training and validation."""
    epochs = [row["epoch"] + 1 for row in log]
    figure = Figure(figsize=(10, 4))
    for axis, metric, title in zip(figure.subplots(1, 2), ("loss", "dice_coef"), ("Loss", "Dice")):
        axis.plot(epochs, [row[metric] for row in log], "o-", label="train")
        axis.plot(epochs, [row[f"val_{metric}"] for row in log], "o-", label="validation")
        axis.set(title=title, xlabel="epoch")
        axis.legend()
    figure.tight_layout()
    with atomic_write(path) as temporary:
        figure.savefig(temporary, dpi=100)


def model_card_facts(
    trained: TrainedRun, summary: Mapping[str, Mapping[str, float]], log: Sequence[Mapping[str, float]]
) -> dict[str, Any]:
    """The facts rendered into the model card (`CarSegConfig.card`; see `carseg_model.card`)."""
    options, config = trained.run.options, trained.config
    train_counts, val_counts = (count_by_dataset(cache.samples) for cache in trained.data)
    data_licenses = [source.license for source in trained.sources] + [row["license"] for row in trained.negatives]
    license, notes = model_license(data_licenses, trained.base_card)
    height, width = config.input_size
    initial_weights = (
        f"the carseg model {options.init_from}"
        if options.init_from
        else f"encoder: {published_encoder_weights(config.encoder_weights)}"
    )
    card = {
        "model_name": options.model_name,
        "license": license,
        "datasets": [
            {
                "name": source.name,
                "train_images": train_counts.get(source.name, 0),
                "val_images": val_counts.get(source.name, 0),
                "car_values": ", ".join(map(str, source.car_values)) if source.car_values else "any non-zero",
                "license": source.license,
            }
            for source in trained.sources
        ]
        + [dict(row) for row in trained.negatives],
        "training": {
            "command": trained.run.command,
            "epochs": len(log),
            "best epoch": trained.best_epoch + 1,
            "input size": f"{height}x{width}"
            + (", aspect ratio kept (about as many pixels)" if config.input_shape == "keep_aspect" else ""),
            "batch size": options.batch_size,
            "optimizer": (
                f"Adam, learning rate {options.learning_rate}"
                + (
                    f", {options.finetune_learning_rate} once the encoder trains"
                    if options.finetune_learning_rate is not None
                    else ""
                )
                + (
                    f", halved after {options.lr_patience} epochs without a lower validation loss"
                    if options.lr_schedule == "plateau"
                    else f", cosine decay to {COSINE_FLOOR:g} of it over each phase"
                )
            ),
            "encoder BatchNorm while fine-tuning": (
                "updated" if options.train_encoder_batchnorm else "frozen (ImageNet statistics)"
            ),
            "loss": options.loss,
            "initial weights": initial_weights,
            "encoder frozen for": f"{min(options.freeze_encoder_epochs, options.epochs)} epoch(s)",
            "augmentations": (
                SCENES_FACT.format(crop=options.crop or f"{height}x{width}")
                if options.scenes
                else ", ".join(options.augmentations.names) or "none"
            ),
            "early stopping patience": options.patience,
            "seed": trained.run.seed,
            "replicas": trained.replicas,
            "training time": f"{sum(row.get('seconds', 0.0) for row in log) / 60:.1f} min",
        },
        "evaluation_method": (
            f"Measured on {trained.split}. Each validation photo is segmented at its original resolution with "
            f"`CarSegModel.predict_batch` (the network output is resized bilinearly to the photo and cut at "
            f"{config.threshold}), and compared with its full-size ground-truth mask; the tables give the mean "
            "Dice and IoU over the photos (a photo without a car and without a predicted car counts 1.0)."
        ),
        "metrics": metric_rows(summary),
        "license_notes": notes
        + [f"{source.name}: {source.license}." for source in trained.sources]
        + [f"{row['name']}: {row['license']}." for row in trained.negatives],
    }
    if options.teachers:
        card["training"]["distillation"] = DISTILLATION_FACT.format(weight=options.teacher_weight)
    for name, every in options.data_every_by_dataset().items():
        card["training"][f"{name} training photos"] = f"1 in {every} (--data-every {every})"
    if options.init_from:
        card["initialised_from"] = initial_weights
    if options.push_to_hub:
        card["repo_id"] = options.push_to_hub
    return card


def published_encoder_weights(weights: str | None) -> str | None:
    """How the encoder started, without a local path: Keras's ImageNet weights file counts as "imagenet"."""
    if weights in (None, "imagenet"):
        return weights
    name = Path(weights).name
    return "imagenet" if name.startswith("mobilenet_v2_weights_tf_dim_ordering_tf_kernels") else name
