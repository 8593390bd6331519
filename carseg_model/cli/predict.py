"""``carseg predict``: segment photos into mask / cut-out / overlay files, resumably."""

from __future__ import annotations

import argparse
import glob
import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carseg_model.chunks import batched
from carseg_model.cli.errors import EXIT_FAILED, EXIT_OK, UsageError
from carseg_model.cli.models import load_runtime_model
from carseg_model.cli.options import add_runtime_options, background, margin, new_command, output_kinds, positive_int
from carseg_model.cli.output import OUTPUT_SUFFIXES, OutputStyle, progress, rate, report, save_output
from carseg_model.defaults import BATCH_SIZE
from carseg_model.image_io import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from tqdm import tqdm

    from carseg_model import CarSegModel, SegmentationResult


def add_parser(commands: Any) -> None:
    """Register ``carseg predict``."""
    parser = new_command(
        commands,
        "predict",
        "Segment photos: files, folders (recursively) and globs.",
        "Writes PHOTO_mask.png (0/255), PHOTO_cutout.png (RGBA) and/or PHOTO_overlay.jpg under\n"
        "--out, mirroring each input folder's tree (photos/sub/x.jpg -> OUT/sub/x_mask.png; a\n"
        "file argument goes straight into OUT). Outputs that exist are skipped, so running the\n"
        "same command again resumes an interrupted job. Unreadable photos are reported and\n"
        "skipped; the exit code is then 1.\n\n"
        "  carseg predict photos/ --out masks/ --save mask,cutout,overlay\n"
        "  carseg predict one.jpg two.png --out out/ --threshold 0.6\n"
        "  carseg predict 'photos/**/*.png' --out masks/\n"
        "  carseg predict s3://bucket/photos --out s3://bucket/masks --engine ray --address auto",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="photo file, folder (searched recursively) or quoted glob ('**' recurses)",
    )
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument(
        "--save",
        type=output_kinds,
        default=("mask",),
        metavar="KINDS",
        help="what to write, comma-separated: mask, cutout, overlay (default: mask)",
    )
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose outputs already exist")
    parser.add_argument(
        "--allow-inside",
        action="store_true",
        help="allow --out inside an input folder (its contents are then never read as input)",
    )
    cutouts = parser.add_argument_group("cut-outs and crops")
    cutouts.add_argument(
        "--main-car",
        action="store_true",
        help="keep only the car the photo is about (the biggest, nearest the centre); other cars go",
    )
    cutouts.add_argument(
        "--background",
        type=background,
        default="transparent",
        metavar="BG",
        help="cut-out background: transparent (default), a colour (white, #f0f0f0), blur, or an image file",
    )
    cutouts.add_argument("--shadow", action="store_true", help="a soft contact shadow under the car in the cut-out")
    cutouts.add_argument(
        "--crop",
        type=margin,
        nargs="?",
        const=0.05,
        metavar="MARGIN",
        help="crop every output to the car's box plus MARGIN of its size on each side (default 0.05)",
    )
    add_runtime_options(parser)
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: a pool of Ray actors (pip install 'carseg[ray]'), which also reads and "
        "writes s3://, gs://, ... paths",
    )
    group.add_argument(
        "--address",
        metavar="ADDR",
        help="with --engine ray: the cluster to join, auto or HOST:PORT (default: start Ray on this machine)",
    )
    group.add_argument(
        "--concurrency",
        type=positive_int,
        metavar="N",
        help="with --engine ray: model copies (Ray actors), each running --threads threads (default: the "
        "cluster's CPUs shared out); default: one per GPU, else one per machine",
    )
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class PredictJob:
    """One photo and the outputs still to write for it (kind -> path)."""

    photo: Path
    outputs: dict[str, Path]


def run(args: argparse.Namespace) -> int:
    """Segment the photos into mask / cut-out / overlay files under ``--out``."""
    if args.engine == "ray":
        from carseg_model.cli import ray_engine

        return ray_engine.run(args)
    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; pass a folder to write the outputs into")
    photos = find_photos(args.inputs, out, args.allow_inside)
    jobs = plan_outputs(photos, out, args.save, args.overwrite)
    todo = [job for job in jobs if job.outputs]
    print(f"{len(jobs)} photo(s): {len(todo)} to do, {len(jobs) - len(todo)} already done (skipped)")
    if not todo:
        return EXIT_OK
    model = load_runtime_model(args)
    failed, start = 0, time.perf_counter()
    with progress(len(todo), "images") as bar, OutputWriter(bar) as writer:
        for chunk in batched(todo, args.batch_size):
            failed += predict_chunk(model, chunk, args, writer)
    done, seconds = len(todo) - failed, time.perf_counter() - start
    print(
        f"done: {done} photo(s) in {seconds:.1f} s ({rate(done, seconds):.1f} images/s), "
        f"{len(jobs) - len(todo)} already done (skipped), {failed} failed" + (" (listed above)" if failed else "")
    )
    return EXIT_FAILED if failed else EXIT_OK


def find_photos(inputs: Sequence[str], out: Path, allow_inside: bool) -> list[tuple[Path, Path]]:
    """Expand the inputs into ``(photo, its path relative to --out)``, each photo once, in order."""
    found: dict[Path, tuple[Path, Path]] = {}
    for spec in inputs:
        for photo, relative in expand_input(os.path.expanduser(spec), out, allow_inside):
            found.setdefault(photo.resolve(), (photo, relative))
    return list(found.values())


def expand_input(spec: str, out: Path, allow_inside: bool) -> list[tuple[Path, Path]]:
    """One input argument: a glob (relative to its fixed leading folders), a folder (recursive) or a file."""
    path = Path(spec)
    if glob.has_magic(spec):
        root = Path(*itertools.takewhile(lambda part: not glob.has_magic(part), path.parts))
        matches = sorted(Path(match) for match in glob.glob(spec, recursive=True))
        photos = [(match, match.relative_to(root)) for match in matches if is_photo(match, out)]
        if not photos:
            raise UsageError(f"{spec} matches no photos ({', '.join(IMAGE_SUFFIXES)})")
        return photos
    if path.is_dir():
        if is_inside(out, path) and not allow_inside:
            raise UsageError(
                f"--out {out} is inside the input folder {path}: outputs would mix with the photos. "
                "Pick an output folder outside it, or pass --allow-inside"
            )
        photos = [
            (file, file.relative_to(path))
            for file in sorted(path.rglob("*"))
            if is_photo(file, out) and not any(part.startswith(".") for part in file.relative_to(path).parts)
        ]
        if not photos:
            raise UsageError(f"{path} holds no photos ({', '.join(IMAGE_SUFFIXES)}), not even in sub-folders")
        return photos
    if path.is_file():
        return [(path, Path(path.name))]
    raise UsageError(f"{spec}: no such file or folder")


def is_inside(path: Path, folder: Path) -> bool:
    """True if ``path`` is ``folder`` or anywhere below it (after resolving links)."""
    return path.resolve().is_relative_to(folder.resolve())


def is_photo(path: Path, out: Path) -> bool:
    """A file with a photo suffix that is not one of our own outputs (below ``out``)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not is_inside(path, out)


def plan_outputs(
    photos: Sequence[tuple[Path, Path]], out: Path, kinds: Sequence[str], overwrite: bool
) -> list[PredictJob]:
    """A job per photo with the outputs it still needs; refuse outputs that clash or would replace a photo."""
    jobs = [
        PredictJob(photo, {kind: out / relative.parent / f"{relative.stem}{OUTPUT_SUFFIXES[kind]}" for kind in kinds})
        for photo, relative in photos
    ]
    inputs = {photo.resolve() for photo, _ in photos}
    writers: dict[Path, Path] = {}
    for job in jobs:
        for path in job.outputs.values():
            target = path.resolve()
            if target in inputs:
                raise UsageError(f"{path} would overwrite an input photo; pick another --out")
            if target in writers:
                raise UsageError(
                    f"{writers[target]} and {job.photo} would both write {path}; rename one of them or run them separately"
                )
            writers[target] = job.photo
    if overwrite:
        return jobs
    return [
        replace(job, outputs={kind: path for kind, path in job.outputs.items() if not path.exists()}) for job in jobs
    ]


def predict_chunk(
    model: CarSegModel, jobs: Sequence[PredictJob], args: argparse.Namespace, writer: OutputWriter
) -> int:
    """Segment one batch of photos and hand their outputs to ``writer``; return how many photos could not be read."""
    from carseg_model.errors import PhotoError

    results = model.predict_batch([job.photo for job in jobs], batch_size=args.batch_size, errors="return")
    failed = 0
    for job, result in zip(jobs, results):
        if isinstance(result, PhotoError):
            report(f"skipped {job.photo}: {photo_problem(result.error)}")
            writer.bar.update(1)
            failed += 1
        else:
            writer.submit(save_outputs, result, job.outputs, args)
    return failed


def save_outputs(result: SegmentationResult, outputs: dict[str, Path], args: argparse.Namespace) -> None:
    """Write one photo's outputs (kind -> path) as the command-line options say."""
    if args.main_car:
        result = result.main_car()
    if args.crop is not None:
        result = result.crop(args.crop)
    style = OutputStyle(args.color, args.opacity, args.outline, args.background, args.shadow)
    for kind, path in outputs.items():
        save_output(result, kind, path, style)


class OutputWriter:
    """Writes photos' outputs on two threads while the network runs on the next batch.

    Encoding (zlib, libjpeg-turbo) releases the GIL, so on two cores it overlaps the network.
    At most two batches of results wait in memory: `submit` blocks while more are queued, and
    a write that fails (disk full, no permission) raises in the command at its next `submit` or at the end.
    """

    def __init__(self, bar: tqdm, threads: int = 2, pending: int = 2 * BATCH_SIZE) -> None:
        self.bar = bar
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="carseg-write")
        self._pending: deque[Future] = deque()
        self._limit = pending

    def submit(self, write: Callable[..., None], *arguments: Any) -> None:
        """Run ``write(*arguments)`` on a writer thread; count the photo done when it finishes."""
        while len(self._pending) >= self._limit:
            self._pending.popleft().result()
        future = self._pool.submit(write, *arguments)
        future.add_done_callback(lambda _: self.bar.update(1))
        self._pending.append(future)

    def __enter__(self) -> OutputWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            while self._pending:
                self._pending.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


def photo_problem(error: Exception) -> str:
    """What was wrong with a photo, with the command line's advice for one above ``--max-pixels``."""
    from carseg_model.errors import ImageTooLargeError

    if isinstance(error, ImageTooLargeError):  # the library's advice names its Python API
        return f"{str(error).split(';')[0]}; downscale it, or pass --max-pixels N"
    return str(error)
