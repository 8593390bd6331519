"""The run folder (``--output``): its files, the training log and the checkpoints a resume starts from.

    run_config.json          the options, so --resume can continue the same run (`RunConfig`)
    training_log.csv         loss, Dice and IoU per epoch (train and validation)
    checkpoints/             the last epoch's model + optimizer state, the best epoch's weights
    samples/epoch_NNN.png    validation photo | ground truth | prediction, after each epoch
    metrics.json             Dice / IoU per validation photo at its original resolution, and means
    training_curves.png      loss and Dice per epoch
    model/                   the trained model (`CarSegModel.from_pretrained("<run>/model")`)

No TensorFlow here.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from carseg_model.files import atomic_write
from carseg_model.training.options import RUN_CONFIG, RunConfig

TRAINING_LOG = "training_log.csv"
CHECKPOINTS = "checkpoints"
SAMPLES = "samples"
METRICS = "metrics.json"
CURVES = "training_curves.png"
MODEL = "model"


@contextmanager
def claimed(run: RunConfig, folder: Path) -> Iterator[None]:
    """Mark ``folder`` as holding ``run`` (write ``run_config.json``) while the block trains.

    If a new run fails before its first checkpoint, the file is removed again: nothing is lost,
    and the same command can simply be run again (instead of being refused as an existing run).
    """
    if not run.resumed:
        with atomic_write(folder / RUN_CONFIG, fsync=True) as temporary:
            temporary.write_text(run.to_json(), encoding="utf-8")
    try:
        yield
    except BaseException:
        if not run.resumed and latest_checkpoint(folder / CHECKPOINTS)[1] is None:
            (folder / RUN_CONFIG).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- checkpoints
def checkpoint_path(folder: Path, epochs_done: int) -> Path:
    """The model + optimizer checkpoint written after ``epochs_done`` epochs."""
    return folder / f"epoch_{epochs_done:03d}.weights.h5"


def best_weights_path(folder: Path, epoch: int) -> Path:
    """The model weights of the best epoch (0-based ``epoch``)."""
    return folder / f"best_epoch_{epoch + 1:03d}.npz"


def latest_checkpoint(folder: Path) -> tuple[int, Path | None]:
    """``(epochs done, checkpoint file)`` of the newest complete checkpoint, or ``(0, None)``."""
    done = sorted(
        int(match[1])
        for path in folder.glob("epoch_*.weights.h5")
        if (match := re.fullmatch(r"epoch_(\d+)\.weights\.h5", path.name))
    )
    return (done[-1], checkpoint_path(folder, done[-1])) if done else (0, None)


# ---------------------------------------------------------------------------- training log
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
    with atomic_write(path, fsync=True) as temporary, open(temporary, "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(kept)  # the excel dialect, as CSVLogger writes
