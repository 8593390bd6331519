"""Which process writes the run folder (two real workers: tests/test_train_multiworker.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import tensorflow as tf

from carseg_model.training.distribution import is_chief, wait_for_all_workers, working_folder
from carseg_model.training.options import RunConfig, TrainingOptions

CLUSTER = tf.train.ClusterSpec({"worker": ["127.0.0.1:1", "127.0.0.1:2"]})


def worker(index: int) -> SimpleNamespace:
    """Stands in for a `MultiWorkerMirroredStrategy` of worker ``index`` (only its cluster resolver is read)."""
    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(CLUSTER, task_type="worker", task_id=index)
    return SimpleNamespace(cluster_resolver=resolver)


def test_worker_0_is_the_chief_and_writes_the_run_folder(tmp_path: Path) -> None:
    run = RunConfig(TrainingOptions(), 7, "train.py", tmp_path / "run")
    assert is_chief(tf.distribute.get_strategy()) and is_chief(worker(0)) and not is_chief(worker(1))
    assert working_folder(run, worker(0)) == run.folder
    folder = working_folder(run, worker(1))
    assert folder != run.folder and folder.is_dir() and not any(folder.iterdir())
    wait_for_all_workers(tf.distribute.get_strategy())  # alone: returns at once


def test_a_resuming_worker_starts_from_a_copy_of_the_run_folder(tmp_path: Path) -> None:
    run = replace(RunConfig(TrainingOptions(), 7, "train.py", tmp_path / "run"), resumed=True)
    (run.folder / "checkpoints").mkdir(parents=True)
    (run.folder / "checkpoints" / "epoch_001.weights.h5").write_text("weights")
    folder = working_folder(run, worker(1))
    assert (folder / "checkpoints" / "epoch_001.weights.h5").read_text() == "weights"
