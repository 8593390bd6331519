"""Early stopping that survives restarts: its state is replayed from the training log and the best weights file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from carseg_model.training.callbacks import CheckpointedEarlyStopping, EpochTimer
from carseg_model.training.run_folder import best_weights_path


def stopper_after(tmp_path: Path, val_losses: list[float], patience: int) -> CheckpointedEarlyStopping:
    log = tmp_path / "training_log.csv"
    log.write_text("epoch,val_loss\n" + "".join(f"{epoch},{loss}\n" for epoch, loss in enumerate(val_losses)))
    best = int(np.argmin(val_losses))
    with open(best_weights_path(tmp_path, best), "wb") as file:
        np.savez(file, np.full(2, best), np.zeros(3))
    stopper = CheckpointedEarlyStopping(tmp_path, log, patience)
    stopper.load_state()
    return stopper


def test_state_is_replayed_from_the_log(tmp_path: Path) -> None:
    stopper = stopper_after(tmp_path, [0.9, 0.5, 0.6, 0.7], patience=3)
    assert (stopper.best, stopper.best_epoch, stopper.wait, stopper.stopped_epoch) == (0.5, 1, 2, 0)
    assert [weights.tolist() for weights in stopper.best_weights] == [[1, 1], [0, 0, 0]]


def test_a_run_that_had_stopped_stays_stopped(tmp_path: Path) -> None:
    stopper = stopper_after(tmp_path, [0.9, 0.5, 0.6, 0.7], patience=2)
    assert stopper.stopped_epoch == 3 and stopper.best_epoch == 1


def test_no_log_no_state(tmp_path: Path) -> None:
    stopper = CheckpointedEarlyStopping(tmp_path, tmp_path / "training_log.csv", patience=2)
    stopper.load_state()
    assert stopper.best is None and stopper.best_weights is None and stopper.stopped_epoch == 0


def test_epoch_timer_adds_seconds() -> None:
    timer, logs = EpochTimer(), {}
    timer.on_epoch_begin(0)
    timer.on_epoch_end(0, logs)
    assert 0 <= logs["seconds"] < 5
