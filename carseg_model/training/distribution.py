"""The tf.distribute strategy of ``--strategy``; which process of a multi-worker run writes the run folder, and
the workers' last meeting."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from carseg_model.training.options import CPU_REPLICAS, RunConfig


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


def working_folder(run: RunConfig, strategy: tf.distribute.Strategy) -> Path:
    """Where this process writes the run: the run folder for the chief; for other workers a temporary folder
    (their checkpoints and logs only keep their own bookkeeping), deleted when the process exits. A resumed
    run's temporary folder starts as a copy of the run folder: its checkpoint and log.
    """
    if is_chief(strategy):
        return run.folder
    folder = Path(tempfile.mkdtemp(prefix="carseg-worker-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    if run.resumed:
        shutil.copytree(run.folder, folder, dirs_exist_ok=True)
    return folder


def wait_for_all_workers(strategy: tf.distribute.Strategy) -> None:
    """Block until every worker of a multi-worker run calls this too, so that they end together (a worker that
    exits while the chief still works is reported by the chief as crashed)."""

    @tf.function
    def meet() -> tf.Tensor:
        return strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)

    meet()
