"""Where ``carseg predict --engine ray`` reads photos and writes outputs: local folders or any filesystem
pyarrow knows (``s3://``, ``gs://``, ``hdfs://``, ...), planned exactly as the local engine plans them."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pyarrow.fs as pafs

from carseg_model.cli.errors import UsageError
from carseg_model.cli.predict import PredictJob, find_photos, plan_outputs, save_outputs
from carseg_model.image_io import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from carseg_model import SegmentationResult


@dataclass(frozen=True)
class Plan:
    """Every photo's job (paths on the filesystems below, without their scheme) and the name to report it by."""

    jobs: list[PredictJob]
    names: list[str]
    source: pafs.FileSystem
    target: pafs.FileSystem


def is_uri(spec: str) -> bool:
    """True for ``scheme://...`` (``s3://bucket/photos``), False for a local path."""
    return "://" in spec


def plan_jobs(args: argparse.Namespace) -> Plan:
    """The jobs of ``carseg predict`` (``inputs``, ``out``, ``save``, ``overwrite``, ``allow_inside``).

    Local inputs and ``--out`` are planned by the local engine's `find_photos` / `plan_outputs` (globs,
    recursion, refusals); otherwise the inputs are listed and the outputs checked through pyarrow.
    """
    if not any(is_uri(spec) for spec in (*args.inputs, args.out)):
        out = Path(args.out).expanduser().absolute()
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {args.out} is a file; pass a folder to write the outputs into")
        photos = find_photos(args.inputs, out, args.allow_inside)
        jobs = plan_outputs(
            [(photo.absolute(), relative) for photo, relative in photos], out, args.save, args.overwrite
        )
        local = pafs.LocalFileSystem()
        return Plan(jobs, [str(photo) for photo, _ in photos], local, local)
    target, out = filesystem_of(args.out)
    source, found = list_photos(args.inputs, target, out, args.allow_inside)
    # plan_outputs names the outputs and refuses clashes; it sees filesystem paths as plain paths, so whether
    # an output exists is asked of the filesystem (one call for all of them).
    jobs = plan_outputs([(Path(path), relative) for path, relative, _ in found], Path(out), args.save, overwrite=True)
    if not args.overwrite:
        paths = [str(path) for job in jobs for path in job.outputs.values()]
        done = {info.path for info in target.get_file_info(paths) if info.type != pafs.FileType.NotFound}
        jobs = [
            PredictJob(job.photo, {kind: path for kind, path in job.outputs.items() if str(path) not in done})
            for job in jobs
        ]
    return Plan(jobs, [name for _, _, name in found], source, target)


def filesystem_of(spec: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem of a URI or local path, and the path on it; a bad URI is a `UsageError`."""
    try:
        return pafs.FileSystem.from_uri(spec if is_uri(spec) else str(Path(spec).expanduser().absolute()))
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot open {spec}: {error}") from error


def list_photos(
    specs: Sequence[str], target: pafs.FileSystem, out: str, allow_inside: bool
) -> tuple[pafs.FileSystem, list[tuple[str, Path, str]]]:
    """The inputs' filesystem and its photos as ``(path, path relative to --out, name to report)``, each once.

    A folder is listed recursively (hidden files and the outputs below ``out`` skipped); a file is taken as it is.
    """
    source: pafs.FileSystem | None = None
    found: dict[str, tuple[str, Path, str]] = {}
    for spec in specs:
        filesystem, root = filesystem_of(spec)
        if source is not None and not filesystem.equals(source):
            raise UsageError(f"{spec} is on another filesystem than {specs[0]}; run each filesystem separately")
        source = filesystem
        same_place = filesystem.equals(target)
        info = filesystem.get_file_info(root)
        if info.type == pafs.FileType.File:
            found.setdefault(root, (root, Path(info.base_name), spec))
            continue
        if info.type != pafs.FileType.Directory:
            raise UsageError(f"{spec}: no such file or folder")
        if same_place and is_below(out, root) and not allow_inside:
            raise UsageError(
                f"--out is inside the input folder {spec}: outputs would mix with the photos. "
                "Pick an output folder outside it, or pass --allow-inside"
            )
        photos = 0
        for item in sorted(filesystem.get_file_info(pafs.FileSelector(root, recursive=True)), key=lambda i: i.path):
            relative = PurePosixPath(item.path).relative_to(root)
            if (
                item.type != pafs.FileType.File
                or relative.suffix.lower() not in IMAGE_SUFFIXES
                or any(part.startswith(".") for part in relative.parts)
                or (same_place and is_below(item.path, out))
            ):
                continue
            found.setdefault(item.path, (item.path, Path(relative), f"{spec.rstrip('/')}/{relative}"))
            photos += 1
        if not photos:
            raise UsageError(f"{spec} holds no photos ({', '.join(IMAGE_SUFFIXES)}), not even in sub-folders")
    assert source is not None  # argparse requires one input at least
    return source, list(found.values())


def is_below(path: str, folder: str) -> bool:
    """True if the filesystem path ``path`` is ``folder`` or anywhere below it."""
    return PurePosixPath(path).is_relative_to(PurePosixPath(folder))


def read_photo(filesystem: pafs.FileSystem, path: str) -> str | bytes:
    """What `CarSegModel.predict_batch` reads a photo from: its path on a local disk, else its bytes."""
    if isinstance(filesystem, pafs.LocalFileSystem):
        return path
    with filesystem.open_input_stream(path) as stream:
        return stream.readall()


def write_outputs(
    result: SegmentationResult, outputs: dict[str, str], filesystem: pafs.FileSystem, args: argparse.Namespace
) -> None:
    """Write one photo's outputs (kind -> path) with the local engine's `save_outputs`; on a remote
    filesystem they are written to a local folder first and then copied."""
    if isinstance(filesystem, pafs.LocalFileSystem):
        save_outputs(result, {kind: Path(path) for kind, path in outputs.items()}, args)
        return
    with tempfile.TemporaryDirectory(prefix="carseg-") as folder:
        staged = {kind: Path(folder) / PurePosixPath(path).name for kind, path in outputs.items()}
        save_outputs(result, staged, args)
        for kind, path in outputs.items():
            filesystem.create_dir(str(PurePosixPath(path).parent), recursive=True)
            pafs.copy_files(str(staged[kind]), path, destination_filesystem=filesystem)
