"""The run folder: run_config.json claimed for the duration of training, checkpoints, the training log."""

from __future__ import annotations

from pathlib import Path

import pytest

from carseg_model.training.options import RUN_CONFIG, RunConfig, TrainingOptions
from carseg_model.training.run_folder import (
    CHECKPOINTS,
    checkpoint_path,
    claimed,
    latest_checkpoint,
    read_training_log,
    truncate_training_log,
)


def run_config(folder: Path, resumed: bool = False) -> RunConfig:
    return RunConfig(TrainingOptions(data=("d",), output=str(folder)), 7, "python train.py", folder, resumed)


def test_a_run_that_fails_before_its_first_checkpoint_takes_its_run_config_back(tmp_path: Path) -> None:
    run = run_config(tmp_path / "run")
    with pytest.raises(RuntimeError), claimed(run, run.folder):
        assert RunConfig.load(run.folder) == run  # written when training starts
        raise RuntimeError("out of memory in epoch 1")
    assert not (run.folder / RUN_CONFIG).exists()


def test_a_run_with_a_checkpoint_keeps_its_run_config(tmp_path: Path) -> None:
    run = run_config(tmp_path / "run")
    with pytest.raises(KeyboardInterrupt), claimed(run, run.folder):
        checkpoint_path(run.folder / CHECKPOINTS, 1).parent.mkdir()
        checkpoint_path(run.folder / CHECKPOINTS, 1).write_bytes(b"weights")
        raise KeyboardInterrupt
    assert (run.folder / RUN_CONFIG).is_file()

    with pytest.raises(RuntimeError), claimed(RunConfig.load(run.folder), run.folder):
        (run.folder / CHECKPOINTS / "epoch_001.weights.h5").unlink()
        raise RuntimeError("a resumed run never removes its run_config.json")
    assert (run.folder / RUN_CONFIG).is_file()


def test_latest_checkpoint(tmp_path: Path) -> None:
    assert latest_checkpoint(tmp_path) == (0, None)
    for name in ("epoch_002.weights.h5", "epoch_010.weights.h5", ".epoch_011.tmp.weights.h5", "best_epoch_002.npz"):
        (tmp_path / name).write_bytes(b"")
    assert latest_checkpoint(tmp_path) == (10, tmp_path / "epoch_010.weights.h5")


def test_training_log_is_cut_back_to_the_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "training_log.csv"
    assert read_training_log(log) == []
    truncate_training_log(log, 1)  # no log yet: nothing to do
    log.write_text("epoch,loss,val_loss\r\n1,0.4,0.5\r\n0,0.6,0.7\r\n2,0.3,0.2\r\n")
    assert [row["epoch"] for row in read_training_log(log)] == [0, 1, 2]
    truncate_training_log(log, 2)
    assert read_training_log(log) == [
        {"epoch": 0, "loss": 0.6, "val_loss": 0.7},
        {"epoch": 1, "loss": 0.4, "val_loss": 0.5},
    ]
    assert log.read_bytes().startswith(b"epoch,loss,val_loss\r\n")  # the excel dialect, as CSVLogger writes
