"""The tf.distribute strategy of ``--strategy``, and which process of a multi-worker run writes the run folder."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from carseg_model.training.options import CPU_REPLICAS


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The strategy ``default``, ``mirrored`` or ``multiworker``; must run before TensorFlow creates any tensor.

    ``mirrored`` uses every GPU, or `CPU_REPLICAS` logical CPU devices on a machine without GPUs.
    """
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


def working_folder(run_folder: Path, strategy: tf.distribute.Strategy) -> Path:
    """Where this process writes the run: the run folder for the chief, a private copy for other workers
    (every worker must write checkpoints, but only the chief's count).
    """
    if is_chief(strategy):
        return run_folder
    copy = Path(tempfile.mkdtemp(prefix="carseg-worker-")) / "run"
    return Path(shutil.copytree(run_folder, copy)) if run_folder.is_dir() else copy
