"""``carseg predict --engine ray``: the local engine's outputs, made by a pool of Ray actors (one machine or a cluster).

The driver plans the jobs as the local engine does (`carseg_model.cli.storage.plan_jobs`: what each photo still
needs), and Ray Data streams them through `PhotoSegmenter` actors that each load the model once, read their
photos and write the outputs through the same `save_outputs`. Reading happens inside the actors: a separate read
stage would wait forever for CPUs that the actors (each holding its share of the cores) never give back.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carseg_model.cli.errors import EXIT_FAILED, EXIT_OK, RunError, UsageError
from carseg_model.cli.output import progress, rate, report

if TYPE_CHECKING:
    import numpy as np
    import pyarrow.fs as pafs

    from carseg_model.cli.storage import Plan

READERS = 8
"""Photos an actor fetches at once (remote filesystems answer slowly, not heavily)."""


@dataclass(frozen=True)
class ActorShape:
    """How many model copies (actors) run, and what each one asks Ray for."""

    concurrency: int
    threads: int
    gpus: float


def run(args: argparse.Namespace) -> int:
    """Segment the photos into their outputs under ``--out`` on a Ray cluster (``--address``; default: a local one)."""
    from carseg_model.cli.storage import plan_jobs

    ray = import_ray()
    plan = plan_jobs(args)
    todo = [index for index, job in enumerate(plan.jobs) if job.outputs]
    skipped = len(plan.jobs) - len(todo)
    print(f"{len(plan.jobs)} photo(s): {len(todo)} to do, {skipped} already done (skipped)")
    if not todo:
        return EXIT_OK
    started = connect(ray, args.address)
    try:
        shape = actor_shape(args, node_cpus(ray), ray.cluster_resources().get("GPU", 0.0))
        print(
            f"Ray: {shape.concurrency} actor(s), {shape.threads} thread(s)"
            + (f" and {shape.gpus:g} GPU" if shape.gpus else "")
            + " each"
        )
        failed, start = 0, time.perf_counter()
        with progress(len(todo), "images") as bar:
            for name, problem in segment_on_ray(ray, plan, todo, args, shape):
                if problem:
                    report(f"skipped {name}: {problem}")
                    failed += 1
                bar.update(1)
    finally:
        if started:
            ray.shutdown()
    done, seconds = len(todo) - failed, time.perf_counter() - start
    print(
        f"done: {done} photo(s) in {seconds:.1f} s ({rate(done, seconds):.1f} images/s), "
        f"{skipped} already done (skipped), {failed} failed" + (" (listed above)" if failed else "")
    )
    return EXIT_FAILED if failed else EXIT_OK


def import_ray() -> Any:
    """The ``ray`` module, or a `UsageError` saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (the Data library comes with the "data" extra)
    except ImportError as error:
        raise UsageError(f"--engine ray needs Ray Data ({error}): pip install 'carseg[ray]'") from None
    return ray


def connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` (default: start a local one) unless this process already has; return
    True if this call did (the caller shuts it down)."""
    if address not in (None, "auto", "local"):
        check_reachable(address)
    ray.data.DataContext.get_current().enable_progress_bars = False  # carseg shows its own
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, logging_level=logging.ERROR)
    except ConnectionError as error:
        raise UsageError(
            f"no Ray cluster at --address {address} ({error}); start one with `ray start --head`, or leave out --address"
        ) from error
    return True


def check_reachable(address: str) -> None:
    """Refuse at once an ``--address`` (``HOST:PORT`` or ``ray://HOST:PORT``) that nothing answers on
    (Ray itself would retry for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(
            f"--address {address}: expected auto, HOST:PORT (`ray start --head` prints it) or ray://HOST:PORT"
        )
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise UsageError(
            f"cannot reach a Ray cluster at --address {address} ({error}); start it with `ray start --head` "
            "or pass its head node's address"
        ) from error


def node_cpus(ray: Any) -> list[int]:
    """The CPUs of each live node of the cluster that has any."""
    nodes = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
    return [int(cpus) for cpus in nodes if cpus >= 1]


def actor_shape(args: argparse.Namespace, node_cpus: list[int], cluster_gpus: float) -> ActorShape:
    """Actors and their resources: ``--concurrency`` (default: one per GPU, else one per node), each with
    ``--threads`` (default: the cluster's CPUs shared out, so that the runtimes' thread pools do not fight
    over cores) and a GPU share when the cluster has GPUs and the runtime can use them (not TFLite)."""
    gpus = cluster_gpus if args.backend != "tflite" and not str(args.model or "").endswith(".tflite") else 0.0
    concurrency = args.concurrency or (int(gpus) if gpus >= 1 else len(node_cpus))
    threads = args.threads or max(1, min(max(node_cpus), sum(node_cpus) // concurrency))
    if threads > max(node_cpus):
        raise UsageError(f"--threads {threads}: no node of the Ray cluster has that many CPUs (most: {max(node_cpus)})")
    return ActorShape(concurrency, threads, min(1.0, gpus / concurrency))


def segment_on_ray(
    ray: Any, plan: Plan, todo: list[int], args: argparse.Namespace, shape: ActorShape
) -> Iterator[tuple[str, str]]:
    """Run the jobs ``todo`` (indices into ``plan.jobs``) through the actors; yield ``(name, problem)`` per
    photo as it finishes (``problem`` is empty for a photo whose outputs were written)."""
    rows = [
        {
            "name": plan.names[index],
            "photo": str(plan.jobs[index].photo),
            **{kind: str(plan.jobs[index].outputs.get(kind, "")) for kind in args.save},
        }
        for index in todo
    ]
    actor_args = argparse.Namespace(**{**vars(args), "threads": shape.threads})
    results = ray.data.from_items(rows).map_batches(
        PhotoSegmenter,
        fn_constructor_kwargs={"args": actor_args, "source": plan.source, "target": plan.target},
        batch_size=args.batch_size,
        compute=ray.data.ActorPoolStrategy(size=shape.concurrency),
        num_cpus=shape.threads,
        num_gpus=shape.gpus or None,
    )
    try:
        for batch in results.iter_batches(batch_size=None, batch_format="numpy"):
            yield from zip(batch["name"].tolist(), batch["problem"].tolist())
    except ray.exceptions.RayError as error:
        raise stopped(ray, error) from error


def stopped(ray: Any, error: BaseException) -> Exception:
    """The command's error for a Ray job that stopped: a `UsageError` if an actor could not load the model
    (bad ``--model`` / ``--backend``), else a `RunError`; both with the actor's own last line, not Ray's traceback."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ray.exceptions.RayActorError) and cause.actor_init_failed:
            return UsageError(last_line(cause))
        cause = cause.__cause__
    return RunError(f"the Ray job stopped: {last_line(error)}")


def last_line(error: BaseException) -> str:
    """The last line of a (remote) traceback, without the exception's type: ``ValueError: x`` -> ``x``."""
    lines = [line for line in str(error).splitlines() if line.strip()] or [repr(error)]
    return re.sub(r"^[\w.]+: ", "", lines[-1].strip())


class PhotoSegmenter:
    """A Ray Data actor: loads the model once (the command's ``--model`` and runtime options), then segments
    batches of jobs and writes their outputs."""

    def __init__(self, args: argparse.Namespace, source: pafs.FileSystem, target: pafs.FileSystem) -> None:
        from carseg_model.cli.models import load_runtime_model
        from carseg_model.cli.quiet import quiet_tensorflow

        quiet_tensorflow()
        os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")  # actors sharing a GPU take only what they use
        self._model = load_runtime_model(args)
        self._args, self._source, self._target = args, source, target
        self._readers = ThreadPoolExecutor(READERS)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[str]]:
        from carseg_model.cli.predict import photo_problem
        from carseg_model.cli.storage import write_outputs
        from carseg_model.errors import PhotoError

        photos = list(self._readers.map(self._read, batch["photo"].tolist()))
        readable = [photo for photo in photos if not isinstance(photo, PhotoError)]
        results = iter(self._model.predict_batch(readable, batch_size=self._args.batch_size, errors="return"))
        problems = []
        for index, photo in enumerate(photos):
            result = photo if isinstance(photo, PhotoError) else next(results)
            if isinstance(result, PhotoError):
                problems.append(photo_problem(result.error))
                continue
            outputs = {kind: str(batch[kind][index]) for kind in self._args.save if batch[kind][index]}
            write_outputs(result, outputs, self._target, self._args)
            problems.append("")
        return {"name": batch["name"].tolist(), "problem": problems}

    def _read(self, path: str) -> Any:  # str | bytes | PhotoError
        from carseg_model.cli.storage import read_photo
        from carseg_model.errors import PhotoError

        try:
            return read_photo(self._source, path)
        except OSError as error:
            return PhotoError(path, error)
