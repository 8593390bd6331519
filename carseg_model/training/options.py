"""The options of a training run: the command line, the `TrainingOptions` dataclass, and ``run_config.json``.

A new run's options come from the command line (`build_parser`); `RunConfig` records them in
the run folder with the seed the run uses and the (redacted) command, so ``--resume`` reads
the same `TrainingOptions` back; options added to carseg since then take their defaults.
No TensorFlow here: ``train.py --help`` and ``carseg train --help`` stay fast.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from carseg_model.config import DECODER_BLOCKS, INPUT_SHAPES
from carseg_model.datasets import KNOWN_LICENSES, DatasetSource, dataset_sources
from carseg_model.defaults import BATCH_SIZE
from carseg_model.training.redaction import redacted_command
from carseg_model.training.scene_options import SCENE_LIST_OPTIONS, SceneOptions, add_scene_arguments

RUN_CONFIG = "run_config.json"
CPU_REPLICAS = 2
"""Replicas of ``--strategy mirrored`` on a machine without GPUs (logical CPU devices)."""
STRATEGIES = ("default", "mirrored", "multiworker")
LOSSES = ("dice", "dice_bce")
LR_SCHEDULES = ("plateau", "cosine")
COSINE_FLOOR = 0.05
"""``--lr-schedule cosine`` ends a phase at this share of its learning rate."""
DEFAULT_INPUT_SIZE = "256"
"""The input size of a new network (``--init-from`` keeps the model's unless ``--input-size`` is given)."""
AUGMENTATIONS = ("flip", "scale", "color", "copy_paste")
"""The training augmentations, in pipeline order (see `carseg_model.training.augment`)."""


@dataclass(frozen=True)
class Augmentations:
    """Which training augmentations are on."""

    flip: bool = True
    scale: bool = True
    color: bool = True
    copy_paste: bool = True

    @classmethod
    def parse(cls, names: str | Iterable[str]) -> Augmentations:
        """From a comma list such as ``"flip,scale"`` (empty: none)."""
        if isinstance(names, str):
            names = [name.strip() for name in names.split(",") if name.strip()]
        unknown = sorted(set(names) - set(AUGMENTATIONS))
        if unknown:
            raise ValueError(f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)}")
        return cls(**{name: name in names for name in AUGMENTATIONS})

    @property
    def names(self) -> list[str]:
        """The augmentations that are on, in pipeline order."""
        return [name for name in AUGMENTATIONS if getattr(self, name)]


@dataclass(frozen=True)
class TrainingOptions(SceneOptions):
    """Everything a training run is asked to do; field names are the command-line options' (see `build_parser`).

    Lists are tuples; the ``--data`` family pair up by position (see `sources`). The scene
    recipe's options are `SceneOptions`'.
    """

    data: tuple[str, ...] = ()
    car_values: tuple[str, ...] = ()
    data_license: tuple[str, ...] = ()
    val_data: tuple[str, ...] = ()
    val_car_values: tuple[str, ...] = ()
    val_data_license: tuple[str, ...] = ()
    val_fraction: float = 0.2
    skip_bad: bool = False
    data_every: tuple[int, ...] = ()
    output: str | None = None
    seed: int | None = None
    strategy: str = "default"
    epochs: int = 15
    batch_size: int = BATCH_SIZE
    learning_rate: float = 1e-3
    lr_schedule: str = "plateau"
    finetune_learning_rate: float | None = None
    train_encoder_batchnorm: bool = False
    lr_patience: int = 2
    init_from: str | None = None
    input_size: str | None = None
    input_shape: str | None = None
    decoder_block: str = "transpose"
    encoder_weights: str = "imagenet"
    freeze_encoder_epochs: int = 0
    loss: str = "dice"
    augment: str = ",".join(AUGMENTATIONS)
    no_augment: bool = False
    patience: int = 5
    model_name: str = "carseg-unet-mobilenetv2"
    push_to_hub: str | None = None
    private: bool = False

    def __post_init__(self) -> None:
        for name in _LIST_OPTIONS:  # argparse and JSON give lists or None
            object.__setattr__(self, name, tuple(getattr(self, name) or ()))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingOptions:
        """From ``vars(namespace)`` or a ``run_config.json``: unknown keys are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in known})

    def check(self) -> None:
        """Raise `ValueError` naming the option that cannot work (the ``--data`` lists are paired by `sources`)."""
        if not self.output or not self.data:
            raise ValueError("--output and --data are required (unless --resume)")
        if self.strategy == "multiworker" and self.seed is None:
            raise ValueError(
                "--strategy multiworker needs --seed N, the same on every worker (so they split the data alike)"
            )
        for name, minimum in (
            ("epochs", 1),
            ("batch_size", 1),
            ("patience", 1),
            ("lr_patience", 1),
            ("freeze_encoder_epochs", 0),
        ):
            if getattr(self, name) < minimum:
                raise ValueError(f"--{name.replace('_', '-')} must be at least {minimum}")
        if self.learning_rate <= 0 or (self.finetune_learning_rate is not None and self.finetune_learning_rate <= 0):
            raise ValueError("--learning-rate and --finetune-learning-rate must be positive")
        if not self.val_data and not 0 < self.val_fraction < 1:
            raise ValueError(f"--val-fraction must be between 0 and 1 (or pass --val-data); got {self.val_fraction}")
        if (
            not self.init_from
            and self.encoder_start not in ("imagenet", None)
            and not Path(self.encoder_start).is_file()
        ):
            raise ValueError(
                f"--encoder-weights {self.encoder_weights}: no such file; pass imagenet, none or "
                "the path of a MobileNetV2 no-top .h5 weights file"
            )
        parse_input_size(self.input_size or DEFAULT_INPUT_SIZE)
        if self.crop:
            parse_input_size(self.crop, "--crop")
        if self.data_every and (len(self.data_every) != len(self.data) or min(self.data_every) < 1):
            raise ValueError(f"give one --data-every of 1 or more per --data ({len(self.data)}), or none")
        Augmentations.parse(self.augment)
        self.check_scenes()

    def sources(self) -> tuple[list[DatasetSource], list[DatasetSource]]:
        """The training and the separate validation datasets (``--data``, ``--val-data``) with their car values and licences."""
        return (
            dataset_sources(self.data, self.car_values, self.data_license),
            dataset_sources(self.val_data, self.val_car_values, self.val_data_license, option="--val-data"),
        )

    @property
    def augmentations(self) -> Augmentations:
        return Augmentations.parse("" if self.no_augment else self.augment)

    @property
    def encoder_start(self) -> str | None:
        """``CarSegConfig.encoder_weights`` of a new network: ``"imagenet"``, ``None`` (random) or a file."""
        return None if self.encoder_weights.lower() == "none" else self.encoder_weights

    @property
    def network_input_size(self) -> tuple[int, int]:
        return parse_input_size(self.input_size or DEFAULT_INPUT_SIZE)

    def data_every_by_dataset(self) -> dict[str, int]:
        """``--data-every`` by dataset name (`DatasetSource.name`), for the datasets that are thinned."""
        return {source.name: every for source, every in zip(self.sources()[0], self.data_every) if every > 1}


_LIST_OPTIONS = (
    "data",
    "car_values",
    "data_license",
    "val_data",
    "val_car_values",
    "val_data_license",
    "data_every",
    *SCENE_LIST_OPTIONS,
)


@dataclass(frozen=True)
class RunConfig:
    """What ``run_config.json`` holds: the options, the seed the run uses and the command that started it.

    ``folder`` is the run folder (``options.output``, or the folder of ``--resume``); ``resumed``
    says whether the options were read back from it. Neither is written to the file.
    """

    options: TrainingOptions
    seed: int
    command: str
    folder: Path = field(compare=False)
    resumed: bool = field(default=False, compare=False)

    def to_json(self) -> str:
        return (
            json.dumps({"arguments": asdict(self.options), "seed": self.seed, "command": self.command}, indent=2) + "\n"
        )

    @classmethod
    def load(cls, folder: str | os.PathLike) -> RunConfig:
        """Read a run folder's ``run_config.json`` (as written by any carseg version) to resume the run."""
        folder = Path(folder)
        path = folder / RUN_CONFIG
        if not path.is_file():
            raise ValueError(f"{path} does not exist: {folder} is not a run folder written by train.py")
        stored = json.loads(path.read_text(encoding="utf-8"))
        arguments = stored["arguments"]
        if "input_shape" not in arguments and arguments.get("init_from"):  # before --input-shape, --init-from
            arguments = {**arguments, "input_size": None}  # kept the model's input size whatever --input-size said
        options = replace(TrainingOptions.from_dict(arguments), output=str(folder))
        return cls(options, stored["seed"], stored["command"], folder, resumed=True)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except for options without one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default in (None, False) else super()._get_help_string(action)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """The command line of ``train.py`` and ``carseg train``; defaults are `TrainingOptions`'."""
    default = TrainingOptions()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train a carseg car segmentation model (U-Net + MobileNetV2) on photo/mask folders.",
        formatter_class=HelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="dataset folder with train/ + train_masks/ (Kaggle Carvana) or images/ + masks/; "
        "repeat to combine datasets",
    )
    data.add_argument(
        "--car-values",
        action="append",
        metavar="VALUES",
        help="mask values that mean car in the matching --data (by order), e.g. 8 or 7,8; "
        "'any' or omitted: any non-zero value",
    )
    data.add_argument(
        "--data-license",
        action="append",
        metavar="TEXT",
        help="licence of the matching --data, shown in the model card (default: known for the "
        f"shared folders {', '.join(KNOWN_LICENSES)}, else 'unknown')",
    )
    data.add_argument(
        "--val-data",
        action="append",
        metavar="PATH",
        help="separate validation dataset folder(s); then all of --data is used for training "
        "and --val-fraction is ignored",
    )
    data.add_argument("--val-car-values", action="append", metavar="VALUES", help="like --car-values, for --val-data")
    data.add_argument("--val-data-license", action="append", metavar="TEXT", help="like --data-license, for --val-data")
    data.add_argument(
        "--val-fraction",
        type=float,
        default=default.val_fraction,
        help="share of each dataset's groups (a Carvana car, a block of CamVid frames, a Roboflow "
        "source photo) held out for validation",
    )
    data.add_argument(
        "--skip-bad",
        action="store_true",
        help="leave out unpaired or unreadable files (logged) instead of stopping with a list of them",
    )
    data.add_argument(
        "--data-every",
        action="append",
        type=int,
        metavar="N",
        help="train on every Nth photo of the matching --data (by order; 1 = all), e.g. 2 to halve a large "
        "dataset with machine-made labels; its validation photos are all kept",
    )

    run = parser.add_argument_group("run")
    run.add_argument("--output", metavar="DIR", help="new run folder (required unless --resume)")
    run.add_argument(
        "--resume",
        metavar="DIR",
        help="continue an interrupted run from its last checkpoint, with its original arguments "
        f"(from DIR/{RUN_CONFIG}); takes no other options",
    )
    run.add_argument(
        "--seed",
        type=int,
        help="make the run repeatable: same split, initial weights, augmentation and batch order, "
        "and deterministic TensorFlow ops. Without it a seed is drawn and recorded in "
        f"{RUN_CONFIG} (so --resume keeps the split), but ops are not made deterministic",
    )
    run.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default=default.strategy,
        help="tf.distribute strategy: mirrored = all GPUs of this machine (on a machine without "
        f"GPUs: {CPU_REPLICAS} logical CPU devices, to exercise the code path); multiworker = "
        "MultiWorkerMirroredStrategy configured by TF_CONFIG (run the same command, with --seed, "
        "on every worker; only the chief writes the run folder, which all workers must be able to read "
        "to --resume)",
    )

    model = parser.add_argument_group("model and training")
    model.add_argument("--epochs", type=int, default=default.epochs, help="total number of epochs")
    model.add_argument(
        "--batch-size", type=int, default=default.batch_size, help="global batch size (split over replicas)"
    )
    model.add_argument("--learning-rate", type=float, default=default.learning_rate, help="Adam learning rate")
    model.add_argument(
        "--lr-schedule",
        choices=LR_SCHEDULES,
        default=default.lr_schedule,
        help="plateau: halve the learning rate after --lr-patience epochs without a lower validation loss; "
        f"cosine: decay it step by step to {COSINE_FLOOR:g} times itself over each training phase",
    )
    model.add_argument(
        "--finetune-learning-rate",
        type=float,
        help="Adam learning rate once the encoder trains (default: --learning-rate); lower it "
        "when fine-tuning after --freeze-encoder-epochs",
    )
    model.add_argument(
        "--train-encoder-batchnorm",
        action="store_true",
        help="let the encoder's BatchNorm layers update their statistics while fine-tuning "
        "(default: they keep the ImageNet statistics, the Keras transfer-learning advice, "
        "which keeps small-batch fine-tuning stable)",
    )
    model.add_argument(
        "--lr-patience",
        type=int,
        default=default.lr_patience,
        help="halve the learning rate after this many epochs without a lower validation loss (--lr-schedule plateau)",
    )
    model.add_argument(
        "--init-from",
        metavar="MODEL",
        help="start from a trained carseg model (folder or Hub repo id) instead of ImageNet: "
        "fine-tune it on your data; its architecture and preprocessing are kept (so --decoder-block "
        "and --encoder-weights do not apply), and its input size and shape unless given",
    )
    model.add_argument(
        "--input-size",
        metavar="N|HxW",
        help=f"network input size, multiples of 32: 256 or e.g. 256x384 (height x width); with --input-shape "
        f"keep_aspect, the pixel count photos are resized to (default: {DEFAULT_INPUT_SIZE}, or the "
        "--init-from model's)",
    )
    model.add_argument(
        "--input-shape",
        choices=INPUT_SHAPES,
        help="how predict resizes a photo for the network: stretch it to the input size, or keep its aspect "
        "ratio at about the input size's pixel count (saved in the model's config; default: stretch, or the "
        "--init-from model's)",
    )
    model.add_argument(
        "--decoder-block",
        choices=DECODER_BLOCKS,
        default=default.decoder_block,
        help="decoder upsampling block: the seed's Conv2DTranspose block, or the lighter "
        "depthwise-separable one (~1/8 of the decoder's compute)",
    )
    model.add_argument(
        "--encoder-weights",
        default=default.encoder_weights,
        metavar="imagenet|none|PATH",
        help="MobileNetV2 encoder start: ImageNet weights, random, or a no-top .h5 file",
    )
    model.add_argument(
        "--freeze-encoder-epochs",
        type=int,
        default=default.freeze_encoder_epochs,
        help="train only the decoder for this many epochs, then fine-tune the whole network (with a fresh Adam)",
    )
    model.add_argument("--loss", choices=LOSSES, default=default.loss, help="Dice loss, or Dice + binary cross-entropy")
    model.add_argument(
        "--augment",
        default=default.augment,
        metavar="LIST",
        help=f"training augmentations, comma list of {', '.join(AUGMENTATIONS)}",
    )
    model.add_argument("--no-augment", action="store_true", help="no augmentation at all")
    model.add_argument(
        "--patience",
        type=int,
        default=default.patience,
        help="stop after this many epochs without a lower validation loss; the best epoch's weights are kept",
    )

    add_scene_arguments(parser, default)

    publish = parser.add_argument_group("publishing")
    publish.add_argument("--model-name", default=default.model_name, help="model name in the model card")
    publish.add_argument(
        "--push-to-hub",
        metavar="REPO_ID",
        help="upload DIR/model to this Hugging Face Hub repo (token from HF_TOKEN or "
        "`hf auth login`, endpoint from HF_ENDPOINT)",
    )
    publish.add_argument("--private", action="store_true", help="create the Hub repo as private")
    return parser


def parse_run(argv: Sequence[str], prog: str | None = None) -> RunConfig:
    """The run the command line asks for: a new one (options checked, seed drawn unless ``--seed``), or the
    run of ``--resume DIR`` read back from its ``run_config.json``. Bad options exit with status 2.
    """
    parser = build_parser(prog)
    namespace = parser.parse_args(argv)
    try:
        if namespace.resume:
            others = [token for token in argv if token.startswith("--") and token.split("=")[0] != "--resume"]
            if others:
                raise ValueError(
                    f"--resume takes no other options (got {' '.join(others)}); "
                    f"the run's options are read from {Path(namespace.resume) / RUN_CONFIG}"
                )
            return RunConfig.load(namespace.resume)
        options = TrainingOptions.from_dict(vars(namespace))
        options.check()
        folder = Path(options.output)
        if (folder / RUN_CONFIG).exists():
            raise ValueError(
                f"{folder} already holds a run; continue it with --resume {folder}, or choose a new --output"
            )
    except ValueError as error:
        parser.error(str(error))
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**31)
    return RunConfig(options, seed, redacted_command(argv, prog), folder)


def parse_input_size(text: str, option: str = "--input-size") -> tuple[int, int]:
    """``"256"`` -> ``(256, 256)``; ``"256x384"`` -> ``(256, 384)``, checked to be multiples of 32
    (a `ValueError` names ``option``)."""
    try:
        size = tuple(int(value) for value in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or any(value <= 0 or value % 32 for value in size):
        raise ValueError(f"{option} must be N or HxW with multiples of 32 (e.g. 256 or 256x384); got {text!r}")
    return size
