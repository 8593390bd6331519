"""The carseg command line: segment photos and videos, evaluate, export and publish models.

    carseg predict photos/ --out masks/ --save mask,cutout,overlay
    carseg video drive.mp4 --out drive_overlay.mp4
    carseg evaluate --data data/roboflow_car_seg --car-values 8
    carseg export --format tflite --quantize int8 --out carseg_int8.tflite
    carseg push runs/v1 you/carseg

Exit codes: 0 everything worked; 1 some inputs failed (each one is reported) or an error
stopped the run; 2 the command could not start (bad option, missing input or model,
output inside the input, ...).

Importing this module is cheap: TensorFlow loads with the model, inside a command.
"""

from __future__ import annotations

import argparse
import csv
import glob
import itertools
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from carseg_model.image_io import IMAGE_SUFFIXES

if TYPE_CHECKING:
    import cv2
    import numpy as np
    from tqdm import tqdm

    from carseg_model import CarSegModel, SegmentationResult
    from carseg_model.datasets import DatasetSource, Sample

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
OUTPUT_SUFFIXES = {"mask": "_mask.png", "cutout": "_cutout.png", "overlay": "_overlay.jpg"}
"""What ``predict --save`` can write for ``photo.jpg``: ``photo_mask.png`` (0/255), ``photo_cutout.png``
(RGBA) and ``photo_overlay.jpg`` (JPEG: a viewing image, ~10x smaller than PNG)."""
JPEG_QUALITY = 92
VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
EXPORT_SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}
DEFAULT_COLOR = (255, 40, 120)

T = TypeVar("T")


class UsageError(Exception):
    """The command cannot start: a bad option, a missing input, an unsafe output, ..."""


# ============================================================================== argument types
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def rgb_color(text: str) -> tuple[int, int, int]:
    """argparse type: ``255,40,120`` or ``#ff2878``."""
    try:
        if text.startswith("#") and len(text) == 7:
            values = [int(text[i : i + 2], 16) for i in (1, 3, 5)]
        else:
            values = [int(value) for value in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(0 <= value <= 255 for value in values):
        raise argparse.ArgumentTypeError(f"expected a colour like 255,40,120 or #ff2878, got {text!r}")
    return values[0], values[1], values[2]


def output_kinds(text: str) -> tuple[str, ...]:
    """argparse type: a comma-separated subset of ``mask,cutout,overlay``."""
    kinds = tuple(dict.fromkeys(kind.strip() for kind in text.split(",") if kind.strip()))
    unknown = [kind for kind in kinds if kind not in OUTPUT_SUFFIXES]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"expected one or more of {','.join(OUTPUT_SUFFIXES)} separated by commas, got {text!r}"
        )
    return kinds


def car_values(text: str) -> tuple[int, ...] | None:
    """argparse type: mask values that mean car, ``8`` or ``7,8``; ``any``: any non-zero value."""
    from carseg_model.datasets import parse_car_values

    try:
        return parse_car_values(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# ============================================================================== parser
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and shows each option's default, except for options without one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default in (None, False) or action.default is argparse.SUPPRESS or "(default" in help_text:
            return help_text
        return f"{help_text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The ``carseg`` parser with its five sub-commands."""
    parser = argparse.ArgumentParser(prog="carseg", description=__doc__.rsplit("\n\n", 1)[0],
                                     formatter_class=HelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (add_predict, add_video, add_evaluate, add_export, add_push):
        add_command(commands)
    return parser


def new_command(commands: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """One sub-command parser with the shared formatter."""
    return commands.add_parser(name, help=summary, description=f"{summary}\n\n{description}",
                               formatter_class=HelpFormatter)


def add_model_options(parser: argparse.ArgumentParser, runtime: bool = True) -> None:
    """``--model`` and, for commands that run it, the runtime options."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", metavar="NAME",
                       help="Hub repo id or model folder (default: the bundled model)"
                            + ("; or an exported .tflite / .onnx file" if runtime else ""))
    if runtime:
        group.add_argument("--backend", choices=("keras", "tflite", "onnx"),
                           help="runtime for a model folder / repo: keras (default) or a file written by "
                                "`carseg export` into it")
        group.add_argument("--model-quantize", choices=("fp16", "int8"),
                           help="with --backend tflite: run model_fp16.tflite / model_int8.tflite")
        group.add_argument("--threads", type=positive_int, metavar="N",
                           help="CPU threads of the runtime (default: all)")


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    """``--batch-size`` and ``--threshold``."""
    group = parser.add_argument_group("inference")
    group.add_argument("--batch-size", type=positive_int, default=16, metavar="N",
                       help="photos / frames per network call")
    group.add_argument("--threshold", type=probability, metavar="P",
                       help="car probability above which a pixel is car (default: the model's, usually 0.5)")


def add_overlay_options(parser: argparse.ArgumentParser) -> None:
    """How overlays look: ``--color``, ``--opacity``, ``--outline``."""
    group = parser.add_argument_group("overlay")
    group.add_argument("--color", type=rgb_color, default=DEFAULT_COLOR, metavar="R,G,B",
                       help="overlay colour, as R,G,B or #rrggbb (default: 255,40,120)")
    group.add_argument("--opacity", type=probability, default=0.5, metavar="P",
                       help="overlay tint opacity, 0 to 1")
    group.add_argument("--outline", type=int, metavar="PIXELS",
                       help="overlay outline width; 0: none (default: scaled with the image)")


def add_predict(commands: Any) -> None:
    parser = new_command(commands, "predict", "Segment photos: files, folders (recursively) and globs.",
                         "Writes PHOTO_mask.png (0/255), PHOTO_cutout.png (RGBA) and/or PHOTO_overlay.jpg under\n"
                         "--out, mirroring each input folder's tree (photos/sub/x.jpg -> OUT/sub/x_mask.png; a\n"
                         "file argument goes straight into OUT). Outputs that exist are skipped, so running the\n"
                         "same command again resumes an interrupted job. Unreadable photos are reported and\n"
                         "skipped; the exit code is then 1.\n\n"
                         "  carseg predict photos/ --out masks/ --save mask,cutout,overlay\n"
                         "  carseg predict one.jpg two.png --out out/ --threshold 0.6\n"
                         "  carseg predict 'photos/**/*.png' --out masks/")
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="photo file, folder (searched recursively) or quoted glob ('**' recurses)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder (created if needed)")
    parser.add_argument("--save", type=output_kinds, default=("mask",), metavar="KINDS",
                        help="what to write, comma-separated: mask, cutout, overlay (default: mask)")
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose outputs already exist")
    parser.add_argument("--allow-inside", action="store_true",
                        help="allow --out inside an input folder (its contents are then never read as input)")
    add_inference_options(parser)
    add_overlay_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=predict_command)


def add_video(commands: Any) -> None:
    parser = new_command(commands, "video", "Draw the car overlay on every frame of a video.",
                         "Reads any video OpenCV reads and writes one with the same size and frame rate\n"
                         f"({', '.join(VIDEO_CODECS)}: mp4v for MP4/MOV, MJPG for AVI/MKV). Reports the\n"
                         "measured frames per second.\n\n"
                         "  carseg video drive.mp4 --out drive_overlay.mp4 --mask-out drive_mask.avi")
    parser.add_argument("input", metavar="VIDEO", help="video file")
    parser.add_argument("--out", required=True, metavar="FILE", help="overlay video to write")
    parser.add_argument("--mask-out", metavar="FILE", help="also write the mask as a black/white video")
    parser.add_argument("--overwrite", action="store_true", help="replace output videos that exist")
    add_inference_options(parser)
    add_overlay_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=video_command)


def add_evaluate(commands: Any) -> None:
    parser = new_command(commands, "evaluate", "Score the model against ground-truth masks (Dice and IoU).",
                         "Reads the same layouts as train.py (Kaggle Carvana train/ + train_masks/, or\n"
                         "images/ + masks/), prints mean and median Dice / IoU per dataset and writes every\n"
                         "photo's scores to a CSV file.\n\n"
                         "  carseg evaluate --data ../shared/data/roboflow_car_seg --car-values 8")
    parser.add_argument("--data", action="append", required=True, metavar="DIR",
                        help="dataset folder; repeat to score several")
    parser.add_argument("--car-values", action="append", type=car_values, metavar="VALUES",
                        help="mask values that mean car in the matching --data (by order), e.g. 8 or 7,8; "
                             "'any' or omitted: any non-zero value")
    parser.add_argument("--skip-bad", action="store_true",
                        help="leave out unpaired or unreadable files (reported; exit code 1) instead of stopping")
    parser.add_argument("--csv", default="evaluation.csv", metavar="FILE",
                        help="per-photo scores to write (replaced if it exists)")
    add_inference_options(parser)
    add_model_options(parser)
    parser.set_defaults(run=evaluate_command)


def add_export(commands: Any) -> None:
    parser = new_command(commands, "export", "Export the model to TFLite or ONNX (runs without TensorFlow).",
                         "--out is a .tflite / .onnx file, or a folder that gets model[_fp16|_int8].tflite /\n"
                         "model.onnx. carseg_config.json is written beside it: load the file with\n"
                         "CarSegModel.from_pretrained(FILE) or `carseg predict --model FILE`.\n\n"
                         "  carseg export --format tflite --quantize int8 --out carseg_int8.tflite")
    parser.add_argument("--out", required=True, metavar="PATH", help="file (.tflite / .onnx) or folder to write")
    parser.add_argument("--format", choices=tuple(EXPORT_SUFFIXES.values()),
                        help="default: from the --out suffix, else tflite")
    parser.add_argument("--quantize", choices=("none", "fp16", "int8"), default="none",
                        help="TFLite only: fp16 weights, or full-integer int8 calibrated on --representative")
    parser.add_argument("--representative", metavar="DIR",
                        help="folder of real photos to calibrate int8 on "
                             "(default: the demo's example photos, shipped in the package)")
    parser.add_argument("--overwrite", action="store_true", help="replace the exported file if it exists")
    add_model_options(parser, runtime=False)
    parser.set_defaults(run=export_command)


def add_push(commands: Any) -> None:
    parser = new_command(commands, "push", "Upload a trained model folder to the Hugging Face Hub as it is.",
                         "FOLDER is a model folder (save_pretrained / train.py output) or a train.py run folder\n"
                         "(its model/ is uploaded). The token comes from HF_TOKEN or `hf auth login`.\n\n"
                         "  carseg push runs/v1 you/carseg")
    parser.add_argument("folder", metavar="FOLDER", help="model folder, or a train.py run folder")
    parser.add_argument("repo_id", metavar="REPO_ID", help="Hub repo to create or update, e.g. you/carseg")
    parser.add_argument("--private", action="store_true", help="create the repo as private (if it is new)")
    parser.add_argument("--message", default="Upload carseg model", help="commit message")
    parser.set_defaults(run=push_command)


# ============================================================================== shared helpers
def load_model(name: str | None, backend: str | None = None, quantize: str | None = None,
               threads: int | None = None) -> CarSegModel:
    """Load ``name`` (default: the bundled model); problems become a `UsageError` saying what to fix."""
    from carseg_model import DEFAULT_MODEL, CarSegModel

    name = name or DEFAULT_MODEL
    try:
        return CarSegModel.from_pretrained(name, backend=backend, quantize=quantize, num_threads=threads)
    except (OSError, ValueError, ImportError, RuntimeError) as error:
        raise UsageError(f"cannot load the model {name}: {error}") from error


def load_runtime_model(args: argparse.Namespace) -> CarSegModel:
    """The model of a command that runs it (``--model``, ``--backend``, ``--model-quantize``, ``--threads``)."""
    return load_model(args.model, args.backend, args.model_quantize, args.threads)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items (the last one shorter)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def progress(total: int | None, unit: str) -> tqdm:
    """A progress bar on stderr showing the rate in ``unit``/s (hidden when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, unit=f" {unit}", dynamic_ncols=True, disable=None, file=sys.stderr)


def report(message: str) -> None:
    """Print a problem on stderr without breaking the progress bar."""
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


@contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path`` and move it onto ``path`` only if the block succeeds,
    so a killed or failed run never leaves a half-written ``path``. A kill can leave the hidden
    ``.NAME.tmp.EXT``; the run that resumes the job writes ``path`` again and uses that name up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def save_image(array: np.ndarray, path: Path) -> None:
    """Write an image atomically; the format follows the suffix (PNG, or JPEG at `JPEG_QUALITY`)."""
    from PIL import Image

    with atomic_output(path) as temporary:
        Image.fromarray(array).save(temporary, quality=JPEG_QUALITY)


def is_inside(path: Path, folder: Path) -> bool:
    """True if ``path`` is ``folder`` or anywhere below it (after resolving links)."""
    return path.resolve().is_relative_to(folder.resolve())


def rate(count: int, seconds: float) -> float:
    """Items per second (0 for no time)."""
    return count / seconds if seconds > 0 else 0.0


# ============================================================================== predict
@dataclass(frozen=True)
class PredictJob:
    """One photo and the outputs still to write for it (kind -> path)."""

    photo: Path
    outputs: dict[str, Path]


def predict_command(args: argparse.Namespace) -> int:
    """``carseg predict``: segment photos into mask / cut-out / overlay files under ``--out``."""
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
    with progress(len(todo), "images") as bar:
        for chunk in batched(todo, args.batch_size):
            failed += predict_chunk(model, chunk, args, bar)
    done, seconds = len(todo) - failed, time.perf_counter() - start
    print(f"done: {done} photo(s) in {seconds:.1f} s ({rate(done, seconds):.1f} images/s), "
          f"{len(jobs) - len(todo)} already done (skipped), {failed} failed" + (" (listed above)" if failed else ""))
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
            raise UsageError(f"--out {out} is inside the input folder {path}: outputs would mix with the photos. "
                             "Pick an output folder outside it, or pass --allow-inside")
        photos = [(file, file.relative_to(path)) for file in sorted(path.rglob("*"))
                  if is_photo(file, out) and not any(part.startswith(".") for part in file.relative_to(path).parts)]
        if not photos:
            raise UsageError(f"{path} holds no photos ({', '.join(IMAGE_SUFFIXES)}), not even in sub-folders")
        return photos
    if path.is_file():
        return [(path, Path(path.name))]
    raise UsageError(f"{spec}: no such file or folder")


def is_photo(path: Path, out: Path) -> bool:
    """A file with a photo suffix that is not one of our own outputs (below ``out``)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file() and not is_inside(path, out)


def plan_outputs(photos: Sequence[tuple[Path, Path]], out: Path, kinds: Sequence[str],
                 overwrite: bool) -> list[PredictJob]:
    """A job per photo with the outputs it still needs; refuse outputs that clash or would replace a photo."""
    jobs = [PredictJob(photo, {kind: out / relative.parent / f"{relative.stem}{OUTPUT_SUFFIXES[kind]}"
                               for kind in kinds}) for photo, relative in photos]
    inputs = {photo.resolve() for photo, _ in photos}
    writers: dict[Path, Path] = {}
    for job in jobs:
        for path in job.outputs.values():
            target = path.resolve()
            if target in inputs:
                raise UsageError(f"{path} would overwrite an input photo; pick another --out")
            if target in writers:
                raise UsageError(f"{writers[target]} and {job.photo} would both write {path}; "
                                 "rename one of them or run them separately")
            writers[target] = job.photo
    if overwrite:
        return jobs
    return [replace(job, outputs={kind: path for kind, path in job.outputs.items() if not path.exists()})
            for job in jobs]


def predict_chunk(model: CarSegModel, jobs: Sequence[PredictJob], args: argparse.Namespace, bar: tqdm) -> int:
    """Segment one batch of photos and write their outputs; return how many photos could not be read."""
    from carseg_model.image_io import load_image

    loaded = []
    for job in jobs:
        try:
            loaded.append((job, load_image(job.photo, model.config.max_pixels)))
        except (ValueError, OSError) as error:  # InvalidImageError / ImageTooLargeError are ValueErrors
            report(f"skipped {job.photo}: {error}")
            bar.update(1)
    results = model.predict_batch([photo for _, photo in loaded], batch_size=args.batch_size,
                                  threshold=args.threshold)
    for (job, _), result in zip(loaded, results):
        for kind, path in job.outputs.items():
            save_image(render(result, kind, args), path)
        bar.update(1)
    return len(jobs) - len(loaded)


def render(result: SegmentationResult, kind: str, args: argparse.Namespace) -> np.ndarray:
    """The image of one output kind: mask (0/255), cutout (RGBA) or overlay (RGB)."""
    if kind == "mask":
        return result.mask_image()
    if kind == "cutout":
        return result.cutout()
    return result.overlay(args.color, args.opacity, args.outline)


# ============================================================================== video
@dataclass(frozen=True)
class VideoStream:
    """The frames of an opened video (RGB arrays) and what a writer needs to know about them."""

    frames: Iterator[np.ndarray]
    fps: float
    size: tuple[int, int]
    frame_count: int | None


def video_command(args: argparse.Namespace) -> int:
    """``carseg video``: write an overlay video (and optionally a mask video) of every frame."""
    source = Path(args.input).expanduser()
    outputs = {kind: Path(path).expanduser() for kind, path in (("overlay", args.out), ("mask", args.mask_out))
               if path}
    check_video_outputs(source, list(outputs.values()), args.overwrite)
    with open_video(source) as video:
        model = load_runtime_model(args)
        count, seconds = write_videos(model, video, outputs, args)
    speed = rate(count, seconds)
    pace = "real time" if speed >= video.fps else f"{video.fps / speed:.1f}x slower than real time"
    print(f"done: {count} frames in {seconds:.1f} s: {speed:.1f} frames/s "
          f"(the video plays at {video.fps:g} fps: {pace}); wrote {', '.join(map(str, outputs.values()))}")
    return EXIT_OK


def check_video_outputs(source: Path, outputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse a missing input, unknown output suffixes, an output on the input or on another output."""
    if not source.is_file():
        raise UsageError(f"{source}: no such video file")
    for path in outputs:
        if path.suffix.lower() not in VIDEO_CODECS:
            raise UsageError(f"{path}: cannot tell the video format; use one of {', '.join(VIDEO_CODECS)}")
        if path.exists() and path.resolve() == source.resolve():
            raise UsageError(f"{path} is the input video; carseg never overwrites its input. Pick another name")
        if path.exists() and not overwrite:
            raise UsageError(f"{path} exists; pass --overwrite to replace it")
    if len({path.resolve() for path in outputs}) < len(outputs):
        raise UsageError("--out and --mask-out are the same file; give them different names")


@contextmanager
def open_video(source: Path) -> Iterator[VideoStream]:
    """Open a video with OpenCV; refuse one without a readable frame."""
    import cv2

    capture = cv2.VideoCapture(str(source))
    try:
        frames = read_frames(capture)
        first = next(frames, None)
        if first is None:
            raise UsageError(f"OpenCV cannot read any frame of {source}; is it a video file (mp4, avi, mov, ...)?")
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not fps > 0:  # also NaN
            report(f"{source} does not say its frame rate; writing 30 fps")
            fps = 30.0
        size = (first.shape[1], first.shape[0])  # from a frame: OpenCV may rotate what its properties describe
        yield VideoStream(itertools.chain([first], frames), fps, size,
                          int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None)
    finally:
        capture.release()


def read_frames(capture: cv2.VideoCapture) -> Iterator[np.ndarray]:
    """The frames of a video as RGB arrays."""
    import cv2

    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def write_videos(model: CarSegModel, video: VideoStream, outputs: dict[str, Path],
                 args: argparse.Namespace) -> tuple[int, float]:
    """Segment the frames batch by batch into one video per output kind; return (frames, seconds)."""
    import cv2

    count, start = 0, time.perf_counter()
    with ExitStack() as stack:
        writers = {kind: stack.enter_context(video_writer(path, video.fps, video.size))
                   for kind, path in outputs.items()}
        with progress(video.frame_count, "frames") as bar:
            for chunk in batched(video.frames, args.batch_size):
                for result in model.predict_batch(chunk, batch_size=args.batch_size, threshold=args.threshold):
                    for kind, writer in writers.items():
                        image = render(result, kind, args)
                        writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR))
                count += len(chunk)
                bar.update(len(chunk))
    return count, time.perf_counter() - start


@contextmanager
def video_writer(path: Path, fps: float, size: tuple[int, int]) -> Iterator[cv2.VideoWriter]:
    """An OpenCV writer for ``path`` (codec from its suffix), written atomically."""
    import cv2

    with atomic_output(path) as temporary:
        writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*VIDEO_CODECS[path.suffix.lower()]),
                                 fps, size)
        if not writer.isOpened():
            raise UsageError(f"OpenCV cannot write {path} ({VIDEO_CODECS[path.suffix.lower()]} codec); "
                             "try an .avi output")
        try:
            yield writer
        finally:
            writer.release()


# ============================================================================== evaluate
def evaluate_command(args: argparse.Namespace) -> int:
    """``carseg evaluate``: Dice / IoU per dataset, and a CSV of every photo's scores."""
    samples, bad_files = find_dataset_samples(dataset_sources(args.data, args.car_values), args.skip_bad)
    model = load_runtime_model(args)
    if args.threshold is not None:
        model.config = replace(model.config, threshold=args.threshold)
    scores, failed = score_samples(model, samples, args.batch_size)
    if not scores:
        print("no photo could be scored", file=sys.stderr)
        return EXIT_FAILED
    print_score_table(scores)
    write_scores_csv(scores, Path(args.csv).expanduser())
    problems = bad_files + failed
    print(f"scored {len(scores)} photo(s); {problems} problem(s) skipped" + (" (listed above)" if problems else "")
          + f"; per-photo scores in {args.csv}")
    return EXIT_FAILED if problems else EXIT_OK


def dataset_sources(folders: Sequence[str], values: Sequence[tuple[int, ...] | None] | None) -> list[DatasetSource]:
    """Pair each --data folder with its --car-values (given once per folder, or not at all)."""
    from carseg_model.datasets import DatasetSource

    if values and len(values) != len(folders):
        raise UsageError(f"give one --car-values per --data ({len(folders)}), or none; got {len(values)}")
    return [DatasetSource(Path(folder).expanduser(), value)
            for folder, value in zip(folders, values or [None] * len(folders))]


def find_dataset_samples(sources: Sequence[DatasetSource], skip_bad: bool) -> tuple[list[Sample], int]:
    """All photo/mask pairs of the datasets, and how many bad files were left out (with ``skip_bad``)."""
    from carseg_model.datasets import DatasetError, find_samples

    samples, bad_files = [], 0
    for source in sources:
        try:
            found, problems = find_samples(source, skip_bad)
        except DatasetError as error:
            raise UsageError(str(error)) from error
        samples += found
        bad_files += len(problems)
    return samples, bad_files


def score_samples(model: CarSegModel, samples: Sequence[Sample], batch_size: int) -> tuple[list[dict], int]:
    """Per-photo scores (`carseg_model.evaluation.evaluate`) batch by batch, skipping photos that fail."""
    from carseg_model.evaluation import evaluate

    scores, failed = [], 0
    with progress(len(samples), "images") as bar:
        for chunk in batched(samples, batch_size):
            try:
                scores += evaluate(model, chunk, batch_size)
            except (ValueError, OSError):  # a photo or mask that does not decode: score the others one by one
                for sample in chunk:
                    try:
                        scores += evaluate(model, [sample], 1)
                    except (ValueError, OSError) as error:
                        report(f"skipped {sample.image_path}: {error}")
                        failed += 1
            bar.update(len(chunk))
    return scores, failed


def print_score_table(scores: Sequence[dict]) -> None:
    """Mean and median Dice / IoU per dataset and overall."""
    import numpy as np

    from carseg_model.evaluation import summarize

    print(f"\n{'dataset':<28} {'images':>7} {'mean Dice':>10} {'median Dice':>12} {'mean IoU':>9} {'median IoU':>11}")
    for name, summary in summarize(scores).items():
        group = scores if name == "overall" else [score for score in scores if score["dataset"] == name]
        medians = {metric: float(np.median([score[metric] for score in group])) for metric in ("dice", "iou")}
        print(f"{name:<28} {summary['images']:>7} {summary['dice']:>10.4f} {medians['dice']:>12.4f} "
              f"{summary['iou']:>9.4f} {medians['iou']:>11.4f}")
    print()


def write_scores_csv(scores: Sequence[dict], path: Path) -> None:
    """One row per photo: image, dataset, dice, iou (written atomically)."""
    with atomic_output(path) as temporary, open(temporary, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=["image", "dataset", "dice", "iou"])
        writer.writeheader()
        writer.writerows({**score, "dice": f"{score['dice']:.6f}", "iou": f"{score['iou']:.6f}"}
                         for score in scores)


# ============================================================================== export
def export_command(args: argparse.Namespace) -> int:
    """``carseg export``: a thin wrapper around `CarSegModel.export` that can also name the file."""
    from carseg_model.config import CONFIG_FILENAME, CarSegConfig
    from carseg_model.formats import check_format, exported_filename

    out = Path(args.out).expanduser()
    format = args.format or EXPORT_SUFFIXES.get(out.suffix.lower(), "tflite")
    quantize = None if args.quantize == "none" else args.quantize
    try:
        check_format(format, quantize)
    except ValueError as error:  # e.g. onnx + int8
        raise UsageError(str(error)) from error
    target = out if out.suffix.lower() in EXPORT_SUFFIXES else out / exported_filename(format, quantize)
    if target.suffix.lower() != f".{format}":
        raise UsageError(f"--out {out} does not end in .{format}; name the file *.{format} or pass a folder")
    if target.exists() and not args.overwrite:
        raise UsageError(f"{target} exists; pass --overwrite to replace it")
    if args.representative and quantize != "int8":
        raise UsageError("--representative photos are only used by --quantize int8")
    model = load_model(args.model)
    if (target.parent / CONFIG_FILENAME).is_file() and CarSegConfig.load(target.parent) != model.config:
        raise UsageError(f"{target.parent} holds another model's {CONFIG_FILENAME}; export into another folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".carseg-export-") as folder:
        try:
            written = model.export(folder, format=format, quantize=quantize,
                                   representative_images=args.representative)
        except (ValueError, FileNotFoundError, ImportError) as error:
            raise UsageError(str(error)) from error
        os.replace(written, target)  # the file appears complete or not at all
        if not (target.parent / CONFIG_FILENAME).exists():
            os.replace(Path(folder) / CONFIG_FILENAME, target.parent / CONFIG_FILENAME)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and {CONFIG_FILENAME} beside it; "
          f"run it with: carseg predict --model {target} ...")
    return EXIT_OK


# ============================================================================== push
def push_command(args: argparse.Namespace) -> int:
    """``carseg push``: upload a model folder to the Hub as it is (card included)."""
    from huggingface_hub import HfApi, get_token

    folder = model_folder_to_push(Path(args.folder).expanduser())
    if not get_token():
        raise UsageError("no Hugging Face token: set HF_TOKEN or run `hf auth login` first")
    api = HfApi()
    api.create_repo(args.repo_id, private=args.private, exist_ok=True)
    commit = api.upload_folder(folder_path=folder, repo_id=args.repo_id, commit_message=args.message,
                               ignore_patterns=[".*", "*/.*"])  # no temporary files of interrupted runs
    print(f"uploaded {folder} to {commit.repo_url} (commit {commit.oid[:10]})")
    return EXIT_OK


def model_folder_to_push(folder: Path) -> Path:
    """``folder`` if it holds a carseg model, else its ``model/`` (a train.py run folder)."""
    from carseg_model.config import CONFIG_FILENAME

    for candidate in (folder, folder / "model"):
        if (candidate / CONFIG_FILENAME).is_file():
            return candidate
    raise UsageError(f"{folder} is not a carseg model folder (no {CONFIG_FILENAME}, nor in {folder / 'model'}); "
                     "pass a folder written by save_pretrained or train.py")


# ============================================================================== main
def main(argv: Sequence[str] | None = None) -> int:
    """Run ``carseg`` with ``argv`` (default: the process arguments); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error argparse already printed
        return int(exit.code or 0)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the console
    try:
        return args.run(args)
    except UsageError as error:
        print(f"carseg {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # e.g. a full disk or a refused Hub upload
        print(f"carseg {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        hint = "; run the same command again to continue" if args.command == "predict" else ""
        print(f"\ncarseg {args.command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
