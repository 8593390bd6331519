"""Train a carseg car segmentation model (U-Net + MobileNetV2) on photo/mask folders.

Example:

    python train.py --data data/roboflow_car_seg --car-values 8 --output runs/roboflow
    python train.py --resume runs/roboflow            # after an interruption

The run folder (``--output``) ends up holding:

    run_config.json          the arguments, so --resume can continue the same run
    training_log.csv         loss, Dice and IoU per epoch (train and validation)
    checkpoints/             the last epoch's model + optimizer state, the best epoch's weights
    samples/epoch_NNN.png    validation photo | ground truth | prediction, after each epoch
    metrics.json             Dice / IoU per validation photo at its original resolution, and means
    training_curves.png      loss and Dice per epoch
    model/                   the trained model (`CarSegModel.from_pretrained("<run>/model")`)

Training follows the seed notebook: Dice loss, Adam, validation every epoch, early stopping
that restores the best epoch's weights. Data loading and augmentation live in
`carseg_model.datasets`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # hide TensorFlow's start-up INFO lines

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from carseg_model import CarSegConfig, CarSegModel, datasets  # noqa: E402
from carseg_model.config import DECODER_BLOCKS  # noqa: E402
from carseg_model.datasets import Augmentations, DatasetError, DatasetSource, SampleCache  # noqa: E402
from carseg_model.evaluation import evaluate, summarize  # noqa: E402
from carseg_model.losses import dice_coef, dice_loss, iou_coef  # noqa: E402
from carseg_model.segmenter import ENCODER_NAME, build_unet  # noqa: E402

RUN_CONFIG = "run_config.json"
TRAINING_LOG = "training_log.csv"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
SAMPLE_PHOTOS = 4
CPU_REPLICAS = 2
"""Replicas of ``--strategy mirrored`` on a machine without GPUs (logical CPU devices)."""

KNOWN_LICENSES = {
    "roboflow_car_seg": "CC BY 4.0",
    "camvid_cars": "CC BY-NC 4.0 (non-commercial)",
    "dsmlr_carparts": "research use with citation (Pasupa et al. 2021)",
    "carvana_thumbs": "Kaggle competition data (research use)",
}
"""Licences of the dataset folders shipped in the project's shared data, by folder name."""


# =============================================================================================
# Command line
# =============================================================================================
class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except for options without one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help if action.default in (None, False) else super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", action="append", metavar="PATH",
                      help="dataset folder with train/ + train_masks/ (Kaggle Carvana) or images/ + masks/; "
                           "repeat to combine datasets")
    data.add_argument("--car-values", action="append", metavar="VALUES",
                      help="mask values that mean car in the matching --data (by order), e.g. 8 or 7,8; "
                           "'any' or omitted: any non-zero value")
    data.add_argument("--data-license", action="append", metavar="TEXT",
                      help="licence of the matching --data, shown in the model card (default: known for the "
                           f"shared folders {', '.join(KNOWN_LICENSES)}, else 'unknown')")
    data.add_argument("--val-data", action="append", metavar="PATH",
                      help="separate validation dataset folder(s); then all of --data is used for training "
                           "and --val-fraction is ignored")
    data.add_argument("--val-car-values", action="append", metavar="VALUES", help="like --car-values, for --val-data")
    data.add_argument("--val-data-license", action="append", metavar="TEXT", help="like --data-license, for --val-data")
    data.add_argument("--val-fraction", type=float, default=0.2,
                      help="share of each dataset's groups (a Carvana car, a block of CamVid frames, a Roboflow "
                           "source photo) held out for validation")
    data.add_argument("--skip-bad", action="store_true",
                      help="leave out unpaired or unreadable files (logged) instead of stopping with a list of them")

    run = parser.add_argument_group("run")
    run.add_argument("--output", metavar="DIR", help="new run folder (required unless --resume)")
    run.add_argument("--resume", metavar="DIR",
                     help="continue an interrupted run from its last checkpoint, with its original arguments "
                          "(from DIR/run_config.json); takes no other options")
    run.add_argument("--seed", type=int,
                     help="make the run repeatable: same split, initial weights, augmentation and batch order, "
                          "and deterministic TensorFlow ops. Without it a seed is drawn and recorded in "
                          "run_config.json (so --resume keeps the split), but ops are not made deterministic")
    run.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                     help="tf.distribute strategy: mirrored = all GPUs of this machine (on a machine without "
                          f"GPUs: {CPU_REPLICAS} logical CPU devices, to exercise the code path); multiworker = "
                          "MultiWorkerMirroredStrategy configured by TF_CONFIG (run the same command on every "
                          "worker; only the chief writes the run folder, which all workers must be able to read)")

    model = parser.add_argument_group("model and training")
    model.add_argument("--epochs", type=int, default=15, help="total number of epochs")
    model.add_argument("--batch-size", type=int, default=16, help="global batch size (split over replicas)")
    model.add_argument("--learning-rate", type=float, default=1e-3, help="Adam learning rate")
    model.add_argument("--finetune-learning-rate", type=float, default=None,
                       help="Adam learning rate once the encoder trains (default: --learning-rate); lower it "
                            "when fine-tuning after --freeze-encoder-epochs")
    model.add_argument("--train-encoder-batchnorm", action="store_true",
                       help="let the encoder's BatchNorm layers update their statistics while fine-tuning "
                            "(default: they keep the ImageNet statistics, the Keras transfer-learning advice, "
                            "which keeps small-batch fine-tuning stable)")
    model.add_argument("--lr-patience", type=int, default=2,
                       help="halve the learning rate after this many epochs without a lower validation loss")
    model.add_argument("--init-from", metavar="MODEL",
                       help="start from a trained carseg model (folder or Hub repo id) instead of ImageNet: "
                            "fine-tune it on your data; its architecture, input size and preprocessing are "
                            "kept, so --input-size, --decoder-block and --encoder-weights do not apply")
    model.add_argument("--input-size", default="256", metavar="N|HxW",
                       help="network input size, multiples of 32: 256 or e.g. 256x384 (height x width)")
    model.add_argument("--decoder-block", choices=DECODER_BLOCKS, default="transpose",
                       help="decoder upsampling block: the seed's Conv2DTranspose block, or the lighter "
                            "depthwise-separable one (~1/8 of the decoder's compute)")
    model.add_argument("--encoder-weights", default="imagenet", metavar="imagenet|none|PATH",
                       help="MobileNetV2 encoder start: ImageNet weights, random, or a no-top .h5 file")
    model.add_argument("--freeze-encoder-epochs", type=int, default=0,
                       help="train only the decoder for this many epochs, then fine-tune the whole network "
                            "(with a fresh Adam)")
    model.add_argument("--loss", choices=("dice", "dice_bce"), default="dice",
                       help="Dice loss, or Dice + binary cross-entropy")
    model.add_argument("--augment", default=",".join(datasets.AUGMENTATIONS), metavar="LIST",
                       help=f"training augmentations, comma list of {', '.join(datasets.AUGMENTATIONS)}")
    model.add_argument("--no-augment", action="store_true", help="no augmentation at all")
    model.add_argument("--patience", type=int, default=5,
                       help="stop after this many epochs without a lower validation loss; the best epoch's "
                            "weights are kept")

    publish = parser.add_argument_group("publishing")
    publish.add_argument("--model-name", default="carseg-unet-mobilenetv2", help="model name in the model card")
    publish.add_argument("--push-to-hub", metavar="REPO_ID",
                         help="upload DIR/model to this Hugging Face Hub repo (token from HF_TOKEN or "
                              "`hf auth login`, endpoint from HF_ENDPOINT)")
    publish.add_argument("--private", action="store_true", help="create the Hub repo as private")
    return parser


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse and check the command line (not yet the dataset folders)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.resume:
        others = [token for token in argv if token.startswith("--") and token.split("=")[0] != "--resume"]
        if others:
            parser.error(f"--resume takes no other options (got {' '.join(others)}); "
                         f"the run's options are read from {Path(args.resume) / RUN_CONFIG}")
        return args
    if not args.output or not args.data:
        parser.error("--output and --data are required (unless --resume)")
    for name, minimum in (("epochs", 1), ("batch_size", 1), ("patience", 1), ("lr_patience", 1),
                          ("freeze_encoder_epochs", 0)):
        if getattr(args, name) < minimum:
            parser.error(f"--{name.replace('_', '-')} must be at least {minimum}")
    if args.learning_rate <= 0 or (args.finetune_learning_rate is not None and args.finetune_learning_rate <= 0):
        parser.error("--learning-rate and --finetune-learning-rate must be positive")
    if not args.val_data and not 0 < args.val_fraction < 1:
        parser.error(f"--val-fraction must be between 0 and 1 (or pass --val-data); got {args.val_fraction}")
    try:
        dataset_sources(args.data, args.car_values, args.data_license, "--data")
        dataset_sources(args.val_data, args.val_car_values, args.val_data_license, "--val-data")
        input_size(args.input_size)
        augmentations(args)
    except ValueError as error:
        parser.error(str(error))
    return args


def dataset_sources(
    paths: Sequence[str] | None, car_values: Sequence[str] | None, licenses: Sequence[str] | None, flag: str
) -> list[DatasetSource]:
    """Pair dataset folders with their car values and licences (given in the same order, or not at all)."""
    paths = paths or []
    for values, name in ((car_values, "car-values"), (licenses, "license")):
        if values and len(values) != len(paths):
            raise ValueError(f"give one {flag.replace('data', name)} per {flag} ({len(paths)}), "
                             f"or none; got {len(values)}")
    sources = []
    for index, path in enumerate(paths):
        root = Path(path)
        license = licenses[index] if licenses else KNOWN_LICENSES.get(root.resolve().name, "unknown")
        values = datasets.parse_car_values(car_values[index] if car_values else None)
        sources.append(DatasetSource(root, values, license))
    return sources


def input_size(text: str) -> tuple[int, int]:
    """``"256"`` -> ``(256, 256)``; ``"256x384"`` -> ``(256, 384)``, checked to be multiples of 32."""
    try:
        size = tuple(int(value) for value in text.lower().split("x"))
    except ValueError:
        size = ()
    if len(size) == 1:
        size = size * 2
    if len(size) != 2 or any(value <= 0 or value % 32 for value in size):
        raise ValueError(f"--input-size must be N or HxW with multiples of 32 (e.g. 256 or 256x384); got {text!r}")
    return size


def augmentations(args: argparse.Namespace) -> Augmentations:
    return Augmentations.parse("" if args.no_augment else args.augment)


def encoder_weights(text: str) -> str | None:
    return None if text.lower() == "none" else text


def published_encoder_weights(weights: str | None) -> str | None:
    """How the encoder started, without a local path: Keras's ImageNet weights file counts as "imagenet"."""
    if weights in (None, "imagenet"):
        return weights
    name = Path(weights).name
    return "imagenet" if name.startswith("mobilenet_v2_weights_tf_dim_ordering_tf_kernels") else name


# =============================================================================================
# Run folder, secrets in the command line
# =============================================================================================
_SECRET_OPTION = re.compile(r"--?[\w-]*(token|password|secret|api-?key)[\w-]*", re.IGNORECASE)
_HF_TOKEN = re.compile(r"hf_[A-Za-z0-9]{6,}")


def redacted_command(argv: Sequence[str]) -> str:
    """The command line with the values of token-like options and anything token-shaped replaced by ***."""
    secrets = [value for value in (os.environ.get("HF_TOKEN"),) if value]
    words, hide_next = [], False
    for word in argv:
        name, equals, _ = word.partition("=")
        if hide_next:
            word, hide_next = "***", False
        elif _SECRET_OPTION.fullmatch(name):
            word, hide_next = (f"{name}=***", False) if equals else (word, True)
        for secret in secrets:
            word = word.replace(secret, "***")
        words.append(_HF_TOKEN.sub("hf_***", word))
    return shlex.join(["python", Path(sys.argv[0]).name, *words])


def start_run(argv: Sequence[str]) -> tuple[argparse.Namespace, dict[str, Any], Path]:
    """Parse the command line; write ``run_config.json`` for a new run, or read it for ``--resume``.

    Returns ``(args, run config, run folder)``.
    """
    args = parse_args(argv)
    if args.resume:
        run_dir = Path(args.resume)
        path = run_dir / RUN_CONFIG
        if not path.is_file():
            sys.exit(f"error: {path} does not exist; --resume needs a run folder written by train.py")
        run_config = json.loads(path.read_text(encoding="utf-8"))
        defaults = vars(build_parser().parse_args([]))  # options added since the run started
        return argparse.Namespace(**{**defaults, **run_config["arguments"]}), run_config, run_dir
    run_dir = Path(args.output)
    if (run_dir / RUN_CONFIG).exists():
        sys.exit(f"error: {run_dir} already holds a run; continue it with --resume {run_dir}, "
                 "or choose a new --output")
    run_dir.mkdir(parents=True, exist_ok=True)
    run_config = {
        "arguments": {**vars(args), "resume": None},
        "seed": args.seed if args.seed is not None else random.SystemRandom().randrange(2**31),
        "command": redacted_command(argv),
    }
    atomic_write(run_dir / RUN_CONFIG, lambda tmp: tmp.write_text(json.dumps(run_config, indent=2) + "\n"))
    return args, run_config, run_dir


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file in the same folder, then rename it into place,
    so a reader (or a resume after a crash) sees the old file or the new one, never half of one.
    """
    tmp = path.with_name(f".tmp-{path.name}")
    write(tmp)
    with open(tmp, "rb+") as file:
        os.fsync(file.fileno())
    os.replace(tmp, path)


# =============================================================================================
# Distribution
# =============================================================================================
def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy; must run before TensorFlow creates any tensor."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if tf.config.list_physical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * CPU_REPLICAS)
    return tf.distribute.MirroredStrategy([device.name for device in tf.config.list_logical_devices("CPU")])


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker run."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "chief" or (not has_chief and resolver.task_type == "worker" and resolver.task_id == 0)


# =============================================================================================
# Data
# =============================================================================================
def load_data(args: argparse.Namespace, config: CarSegConfig, seed: int) -> tuple[SampleCache, SampleCache, str]:
    """Find, split and decode the datasets. Returns ``(train, validation, how the split was made)``."""
    train, val, split = split_samples(args, seed)
    return (datasets.load_cache(train, config, args.skip_bad), datasets.load_cache(val, config, args.skip_bad), split)


def split_samples(
    args: argparse.Namespace, seed: int
) -> tuple[list[datasets.Sample], list[datasets.Sample], str]:
    """The training and validation photos of a run. Returns ``(train, validation, how the split was made)``."""
    train = find_all(dataset_sources(args.data, args.car_values, args.data_license, "--data"), args.skip_bad)
    if args.val_data:
        val = find_all(dataset_sources(args.val_data, args.val_car_values, args.val_data_license, "--val-data"),
                       args.skip_bad)
        split = "the separate validation dataset(s) " + ", ".join(sorted({s.dataset for s in val}))
    else:
        train, val = datasets.split_by_group(train, args.val_fraction, seed)
        split = (f"a validation split of {args.val_fraction:.0%} of each dataset's groups (seed {seed}); a group is "
                 "a Carvana car, a 10 s block of a CamVid sequence or a Roboflow source photo, so no car or scene "
                 "is in both splits")
    for samples, name in ((train, "training"), (val, "validation")):
        if not samples:
            raise DatasetError(f"the {name} set is empty: the data has too few groups to split; "
                               "add data or pass --val-data")
    return train, val, split


def find_all(sources: Sequence[DatasetSource], skip_bad: bool) -> list[datasets.Sample]:
    return [sample for source in sources for sample in datasets.find_samples(source, skip_bad)[0]]


def count_by_dataset(cache: SampleCache) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for sample in cache.samples:
        counts[sample.dataset] += 1
    return counts


# =============================================================================================
# Model, loss and the two training phases
# =============================================================================================
def dice_bce_loss(y_true: Any, y_pred: Any) -> Any:
    """Dice loss plus binary cross-entropy (steadier gradients while the masks are still poor)."""
    return dice_loss(y_true, y_pred) + keras.ops.mean(keras.losses.binary_crossentropy(y_true, y_pred))


LOSSES = {"dice": dice_loss, "dice_bce": dice_bce_loss}


@dataclass(frozen=True)
class Phase:
    """Epochs ``first_epoch .. end_epoch - 1`` trained with the encoder frozen or not."""

    first_epoch: int
    end_epoch: int
    train_encoder: bool


def training_phases(epochs: int, freeze_encoder_epochs: int) -> list[Phase]:
    """Decoder only for the first ``freeze_encoder_epochs`` epochs, then the whole network."""
    switch = min(freeze_encoder_epochs, epochs)
    phases = [Phase(0, switch, False), Phase(switch, epochs, True)]
    return [phase for phase in phases if phase.end_epoch > phase.first_epoch]


def phase_of(phases: Sequence[Phase], epoch: int) -> Phase:
    return next(phase for phase in phases if phase.first_epoch <= epoch < phase.end_epoch)


def compile_for(network: keras.Model, phase: Phase, args: argparse.Namespace) -> None:
    """Freeze or unfreeze the encoder and compile with a fresh Adam (a change of trainable weights needs one).

    While the encoder trains, its BatchNorm layers stay frozen (inference mode, ImageNet
    statistics) unless ``--train-encoder-batchnorm``.
    """
    encoder = network.get_layer(ENCODER_NAME)
    encoder.trainable = phase.train_encoder
    if phase.train_encoder and not args.train_encoder_batchnorm:
        for layer in encoder.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    learning_rate = args.learning_rate
    if phase.train_encoder and args.finetune_learning_rate is not None:
        learning_rate = args.finetune_learning_rate
    network.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=LOSSES[args.loss],
        metrics=[dice_coef, iou_coef],
    )


# =============================================================================================
# Callbacks: checkpoints that survive a kill, and sample predictions
# =============================================================================================
def checkpoint_path(folder: Path, epochs_done: int) -> Path:
    return folder / f"epoch_{epochs_done:03d}.weights.h5"


def best_weights_path(folder: Path, epoch: int) -> Path:
    return folder / f"best_epoch_{epoch + 1:03d}.npz"


def latest_checkpoint(folder: Path) -> tuple[int, Path | None]:
    """``(epochs done, checkpoint file)`` of the newest complete checkpoint, or ``(0, None)``."""
    done = sorted(int(match[1]) for path in folder.glob("epoch_*.weights.h5")
                  if (match := re.fullmatch(r"epoch_(\d+)\.weights\.h5", path.name)))
    return (done[-1], checkpoint_path(folder, done[-1])) if done else (0, None)


def read_training_log(path: Path) -> list[dict[str, float]]:
    """Rows of the CSV log as numbers, ordered by epoch."""
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as file:
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]
    return sorted(rows, key=lambda row: row["epoch"])


def truncate_training_log(path: Path, epochs_done: int) -> None:
    """Drop rows of epochs after the checkpoint (logged, then killed before the checkpoint was written)."""
    if not path.is_file():
        return
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    kept = rows[:1] + [row for row in rows[1:] if int(float(row[0])) < epochs_done]

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", encoding="utf-8") as file:
            csv.writer(file).writerows(kept)  # the excel dialect, as CSVLogger writes

    atomic_write(path, write)


class EpochTimer(keras.callbacks.Callback):
    """Adds ``seconds`` (wall time of the epoch, validation included) to the epoch's logs."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["seconds"] = round(time.perf_counter() - self.start, 2)


class CheckpointedEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras early stopping on the validation loss whose state survives restarts, plus the run's checkpoints.

    After each epoch it commits, in this order, each file written atomically:

    1. ``best_epoch_NNN.npz``, the model weights of a new best epoch;
    2. ``epoch_NNN.weights.h5``, the model and optimizer state (the commit point of the epoch),
       then deletes older checkpoints and best-weight files.

    At the start of each ``fit`` (a resume, or the switch from frozen to fine-tuned encoder) the
    best loss, best epoch and patience count are replayed from the CSV log and the best weights
    read back. Best weights are restored by `restore_best_weights` once all phases are done, not
    at the end of each ``fit``.
    """

    def __init__(self, folder: Path, training_log: Path, patience: int) -> None:
        super().__init__(monitor="val_loss", patience=patience, restore_best_weights=True, verbose=1)
        self.folder = folder
        self.training_log = training_log

    def load_state(self) -> None:
        """Replay Keras' early-stopping rule over the logged validation losses."""
        self.best, self.best_epoch, self.wait, self.stopped_epoch = None, 0, 0, 0
        for epoch, row in enumerate(read_training_log(self.training_log)):
            self.wait += 1
            if self.best is None or row["val_loss"] < self.best:
                self.best, self.best_epoch, self.wait = row["val_loss"], epoch, 0
            elif self.wait >= self.patience and epoch > 0:
                self.stopped_epoch = epoch
        path = best_weights_path(self.folder, self.best_epoch)
        self.best_weights = None
        if self.best is not None:
            with np.load(path) as saved:
                self.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.load_state()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.best_epoch == epoch:
            atomic_write(best_weights_path(self.folder, epoch), lambda tmp: _save_arrays(tmp, self.best_weights))
        checkpoint = checkpoint_path(self.folder, epoch + 1)
        atomic_write(checkpoint, lambda tmp: self.model.save_weights(tmp))
        keep = {checkpoint, best_weights_path(self.folder, self.best_epoch)}
        for path in [*self.folder.glob("epoch_*.weights.h5"), *self.folder.glob("best_epoch_*.npz")]:
            if path not in keep:
                path.unlink()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")

    def restore_best_weights_into(self, network: keras.Model) -> None:
        if self.best_weights is not None:
            print(f"Restoring the weights of the best epoch, {self.best_epoch + 1} (val_loss {self.best:.4f})")
            network.set_weights(self.best_weights)


def _save_arrays(path: Path, arrays: Sequence[np.ndarray]) -> None:
    with open(path, "wb") as file:
        np.savez(file, *arrays)


class SamplePredictions(keras.callbacks.Callback):
    """After each epoch, save ``samples/epoch_NNN.png``: photo | ground truth | prediction of fixed validation photos."""

    def __init__(self, cache: SampleCache, config: CarSegConfig, folder: Path) -> None:
        super().__init__()
        picks = np.unique(np.linspace(0, len(cache) - 1, min(SAMPLE_PHOTOS, len(cache))).round().astype(int))
        self.photos = cache.images[picks]
        self.truths = cache.masks[picks]
        self.inputs = self.photos.astype(np.float32) * np.float32(config.input_scale) + np.float32(config.input_offset)
        self.names = [cache.samples[i].image_path.name for i in picks]
        self.threshold = config.threshold
        self.folder = folder

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        predictions = self.model(self.inputs, training=False).numpy()[..., 0] > self.threshold
        figure, axes = plt.subplots(len(self.photos), 3, figsize=(9, 3 * len(self.photos)), squeeze=False)
        for row, (photo, truth, prediction, name) in enumerate(zip(self.photos, self.truths, predictions, self.names)):
            for axis, image, title in zip(axes[row], (photo, truth, prediction),
                                          (name, "ground truth", f"prediction, epoch {epoch + 1}")):
                axis.imshow(image, **({} if image.ndim == 3 else {"cmap": "gray", "vmin": 0, "vmax": 1}))
                axis.set_title(title, fontsize=8)
                axis.axis("off")
        figure.tight_layout()
        self.folder.mkdir(parents=True, exist_ok=True)
        figure.savefig(self.folder / f"epoch_{epoch + 1:03d}.png", dpi=80)
        plt.close(figure)


# =============================================================================================
# Training
# =============================================================================================
def train(
    network: keras.Model,
    strategy: tf.distribute.Strategy,
    args: argparse.Namespace,
    train_cache: SampleCache,
    val_cache: SampleCache,
    config: CarSegConfig,
    seed: int,
    run_dir: Path,
) -> CheckpointedEarlyStopping:
    """Fit phase by phase from the last checkpoint (if any) up to ``args.epochs`` or early stopping,
    then put the best epoch's weights into ``network``.
    """
    checkpoints, training_log = run_dir / CHECKPOINTS, run_dir / TRAINING_LOG
    epochs_done, checkpoint = latest_checkpoint(checkpoints)
    truncate_training_log(training_log, epochs_done)
    phases = training_phases(args.epochs, args.freeze_encoder_epochs)
    stopper = CheckpointedEarlyStopping(checkpoints, training_log, args.patience)
    stopper.load_state()
    compiled: Phase | None = None
    if checkpoint:
        print(f"Resuming after epoch {epochs_done} from {checkpoint}")
        compiled = phase_of(phases, epochs_done - 1)
        with strategy.scope():
            compile_for(network, compiled, args)
            network.optimizer.build(network.trainable_variables)
        network.load_weights(checkpoint)

    callbacks = [
        EpochTimer(),
        keras.callbacks.CSVLogger(str(training_log), append=True),
        SamplePredictions(val_cache, config, run_dir / SAMPLES),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=args.lr_patience, verbose=1),
        stopper,  # last: its checkpoint commits the epoch once everything else is written
    ]
    validation = datasets.evaluation_dataset(val_cache, config, args.batch_size)
    for phase in phases:
        if phase.end_epoch <= epochs_done or stopper.stopped_epoch:
            continue
        if phase != compiled:
            with strategy.scope():
                compile_for(network, phase, args)
            compiled = phase
        first_epoch = max(phase.first_epoch, epochs_done)
        print(f"Epochs {first_epoch + 1}-{phase.end_epoch}: training "
              f"{'the whole network' if phase.train_encoder else 'the decoder (encoder frozen)'}")
        network.fit(
            datasets.training_dataset(train_cache, config, args.batch_size, augmentations(args), seed,
                                      first_epoch, phase.end_epoch),
            steps_per_epoch=datasets.steps_per_epoch(train_cache, args.batch_size),
            initial_epoch=first_epoch,
            epochs=phase.end_epoch,
            validation_data=validation,
            callbacks=callbacks,
            shuffle=False,  # the dataset is already shuffled, per epoch and seeded
        )
    stopper.load_state()
    stopper.restore_best_weights_into(network)
    return stopper


# =============================================================================================
# Evaluation at each photo's original resolution
# =============================================================================================
# =============================================================================================
# Outputs: metrics.json, training curves, model card
# =============================================================================================
def plot_training_curves(log: Sequence[dict[str, float]], path: Path) -> None:
    epochs = [row["epoch"] + 1 for row in log]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric, title in zip(axes, ("loss", "dice_coef"), ("Loss", "Dice")):
        axis.plot(epochs, [row[metric] for row in log], "o-", label="train")
        axis.plot(epochs, [row[f"val_{metric}"] for row in log], "o-", label="validation")
        axis.set(title=title, xlabel="epoch")
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def hub_license(licenses: Sequence[str]) -> tuple[str, list[str]]:
    """The Hub licence id of the model and the licence notes for the card, from the data licences."""
    notes = []
    if any("nc" in license.lower().replace("-", " ").split() or "non-commercial" in license.lower()
           for license in licenses):
        notes.append("Trained on data under a non-commercial licence (CC BY-NC 4.0), so the model is released "
                     "under CC BY-NC 4.0: no commercial use.")
        return "cc-by-nc-4.0", notes
    if any(license == "unknown" or "research" in license.lower() for license in licenses):
        notes.append("Some training data has no open licence (see the table above): check its terms before "
                     "using or sharing this model.")
        return "other", notes
    return "apache-2.0", notes


def model_card(
    args: argparse.Namespace,
    config: CarSegConfig,
    run_config: dict[str, Any],
    train_cache: SampleCache,
    val_cache: SampleCache,
    split: str,
    summary: dict[str, dict[str, float]],
    log: Sequence[dict[str, float]],
    stopper: CheckpointedEarlyStopping,
    strategy: tf.distribute.Strategy,
) -> dict[str, Any]:
    """The facts rendered into the model card (`CarSegConfig.card`)."""
    sources = (dataset_sources(args.data, args.car_values, args.data_license, "--data")
               + dataset_sources(args.val_data, args.val_car_values, args.val_data_license, "--val-data"))
    train_counts, val_counts = count_by_dataset(train_cache), count_by_dataset(val_cache)
    data = [{
        "name": source.name,
        "train_images": train_counts.get(source.name, 0),
        "val_images": val_counts.get(source.name, 0),
        "car_values": ", ".join(map(str, source.car_values)) if source.car_values else "any non-zero",
        "license": source.license,
    } for source in sources]
    license, notes = hub_license([source.license for source in sources])
    notes += [f"{source.name}: {source.license}." for source in sources]
    height, width = config.input_size
    card = {
        "model_name": args.model_name,
        "license": license,
        "datasets": data,
        "training": {
            "command": run_config["command"],
            "epochs": len(log),
            "best epoch": stopper.best_epoch + 1,
            "input size": f"{height}x{width}",
            "batch size": args.batch_size,
            "optimizer": (f"Adam, learning rate {args.learning_rate}"
                          + (f", {args.finetune_learning_rate} once the encoder trains"
                             if args.finetune_learning_rate is not None else "")
                          + f", halved after {args.lr_patience} epochs without a lower validation loss"),
            "encoder BatchNorm while fine-tuning": "updated" if args.train_encoder_batchnorm else "frozen (ImageNet statistics)",
            "loss": args.loss,
            "initial weights": (f"the carseg model {args.init_from}" if args.init_from
                                else f"encoder: {published_encoder_weights(config.encoder_weights)}"),
            "encoder frozen for": f"{min(args.freeze_encoder_epochs, args.epochs)} epoch(s)",
            "augmentations": ", ".join(augmentations(args).names) or "none",
            "early stopping patience": args.patience,
            "seed": run_config["seed"],
            "replicas": f"{strategy.num_replicas_in_sync} ({args.strategy} strategy)",
            "training time": f"{sum(row.get('seconds', 0.0) for row in log) / 60:.1f} min",
        },
        "evaluation_method": (
            f"Measured on {split}. Each validation photo is segmented at its original resolution with "
            f"`CarSegModel.predict_batch` (the network output is resized bilinearly to the photo and cut at "
            f"{config.threshold}), and compared with its full-size ground-truth mask; the tables give the mean "
            "Dice and IoU over the photos (a photo without a car and without a predicted car counts 1.0)."
        ),
        "metrics": [
            {"dataset": name, "split": "validation", "images": values["images"], "dice": values["dice"],
             "iou": values["iou"]}
            for name, values in summary.items() if name != "overall"
        ],
        "license_notes": notes,
    }
    if args.push_to_hub:
        card["repo_id"] = args.push_to_hub
    return card


def print_summary(summary: dict[str, dict[str, float]]) -> None:
    print(f"\n{'dataset':<28} {'images':>7} {'Dice':>8} {'IoU':>8}")
    for name, values in summary.items():
        print(f"{name:<28} {values['images']:>7} {values['dice']:>8.4f} {values['iou']:>8.4f}")


# =============================================================================================
# Main
# =============================================================================================
def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    args, run_config, run_dir = start_run(argv)
    strategy = make_strategy(args.strategy)
    if not is_chief(strategy):  # every worker must write checkpoints, but only the chief's count
        run_dir = Path(shutil.copytree(run_dir, Path(tempfile.mkdtemp(prefix="carseg-worker-")) / "run"))
    seed = run_config["seed"]
    keras.utils.set_random_seed(seed)
    if args.seed is not None:
        tf.config.experimental.enable_op_determinism()

    base = CarSegModel.from_pretrained(args.init_from) if args.init_from else None
    if base is not None:
        config = replace(base.config, card={})
    else:
        config = CarSegConfig(input_size=input_size(args.input_size), decoder_block=args.decoder_block,
                              encoder_weights=encoder_weights(args.encoder_weights))
    try:
        train_cache, val_cache, split = load_data(args, config, seed)
    except DatasetError as error:
        sys.exit(f"error: {error}")
    for name, cache in (("training", train_cache), ("validation", val_cache)):
        counts = ", ".join(f"{dataset} {count}" for dataset, count in sorted(count_by_dataset(cache).items()))
        print(f"{name}: {len(cache)} photos ({counts})")
    print(f"{strategy.num_replicas_in_sync} replica(s), global batch size {args.batch_size}")

    with strategy.scope():
        network = build_unet(config, pretrained_encoder=base is None)
    if base is not None:
        network.set_weights(base.network.get_weights())
    stopper = train(network, strategy, args, train_cache, val_cache, config, seed, run_dir)

    model = CarSegModel(config, network)
    scores = evaluate(model, val_cache.samples, args.batch_size)
    summary = summarize(scores)
    log = read_training_log(run_dir / TRAINING_LOG)
    metrics = {"summary": summary, "threshold": config.threshold, "split": split,
               "epochs": len(log), "best_epoch": stopper.best_epoch + 1, "images": scores}
    atomic_write(run_dir / "metrics.json", lambda tmp: tmp.write_text(json.dumps(metrics, indent=2) + "\n"))
    plot_training_curves(log, run_dir / "training_curves.png")
    card = model_card(args, config, run_config, train_cache, val_cache, split, summary, log, stopper, strategy)
    published = replace(config, card=card, encoder_weights=published_encoder_weights(config.encoder_weights))
    model = CarSegModel(published, network)
    model.save_pretrained(run_dir / "model")
    print_summary(summary)
    print(f"\nSaved the model to {run_dir / 'model'}")
    if args.push_to_hub and is_chief(strategy):
        url = model.push_to_hub(args.push_to_hub, private=args.private or None,
                                commit_message=f"carseg train.py: mean Dice {summary['overall']['dice']:.4f}")
        print(f"Pushed to {url}")


if __name__ == "__main__":
    main()
