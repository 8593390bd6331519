"""Keras callbacks of a training run: checkpoints and early stopping that survive a kill, epoch timing, sample predictions."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from matplotlib.figure import Figure

from carseg_model.config import CarSegConfig
from carseg_model.datasets import SampleCache
from carseg_model.files import atomic_write
from carseg_model.preprocessing import scale_pixels
from carseg_model.training.run_folder import best_weights_path, checkpoint_path, read_training_log

SAMPLE_PHOTOS = 4


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

    At the start of each `distributed_fit` (a resume, or the switch from frozen to fine-tuned encoder) the
    best loss, best epoch and patience count are replayed from the CSV log and the best weights
    read back. Best weights are restored by `restore_best_weights_into` once all phases are done,
    not at the end of each `distributed_fit`.
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
        self.best_weights = None
        if self.best is not None:
            with np.load(best_weights_path(self.folder, self.best_epoch)) as saved:
                self.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.load_state()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        if self.best_epoch == epoch:
            _save_arrays(best_weights_path(self.folder, epoch), self.best_weights)
        checkpoint = checkpoint_path(self.folder, epoch + 1)
        with atomic_write(checkpoint, fsync=True) as temporary:
            self.model.save_weights(temporary)
        keep = {checkpoint, best_weights_path(self.folder, self.best_epoch)}
        for path in [*self.folder.glob("epoch_*.weights.h5"), *self.folder.glob("best_epoch_*.npz")]:
            if path not in keep:
                path.unlink()

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")

    def restore_best_weights_into(self, network: keras.Model) -> None:
        """Put the best epoch's weights into ``network`` (after the last `distributed_fit`)."""
        if self.best_weights is not None:
            print(f"Restoring the weights of the best epoch, {self.best_epoch + 1} (val_loss {self.best:.4f})")
            network.set_weights(self.best_weights)


def _save_arrays(path: Path, arrays: Sequence[np.ndarray]) -> None:
    with atomic_write(path, fsync=True) as temporary, open(temporary, "wb") as file:
        np.savez(file, *arrays)


class SamplePredictions(keras.callbacks.Callback):
    """After each epoch, save ``samples/epoch_NNN.png``: photo | ground truth | prediction of fixed validation photos."""

    def __init__(self, cache: SampleCache, config: CarSegConfig, folder: Path) -> None:
        super().__init__()
        picks = np.unique(np.linspace(0, len(cache) - 1, min(SAMPLE_PHOTOS, len(cache))).round().astype(int))
        self.photos = cache.images[picks]
        self.truths = cache.masks[picks]
        self.inputs = scale_pixels(self.photos.astype(np.float32), config)
        self.names = [cache.samples[i].image_path.name for i in picks]
        self.threshold = config.threshold
        self.folder = folder

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        predictions = self.model(self.inputs, training=False).numpy()[..., 0] > self.threshold
        figure = Figure(figsize=(9, 3 * len(self.photos)))
        axes = figure.subplots(len(self.photos), 3, squeeze=False)
        for row, (photo, truth, prediction, name) in enumerate(zip(self.photos, self.truths, predictions, self.names)):
            for axis, image, title in zip(
                axes[row], (photo, truth, prediction), (name, "ground truth", f"prediction, epoch {epoch + 1}")
            ):
                axis.imshow(image, **({} if image.ndim == 3 else {"cmap": "gray", "vmin": 0, "vmax": 1}))
                axis.set_title(title, fontsize=8)
                axis.axis("off")
        figure.tight_layout()
        self.folder.mkdir(parents=True, exist_ok=True)
        figure.savefig(self.folder / f"epoch_{epoch + 1:03d}.png", dpi=80)
