"""``carseg video``: draw the car overlay (and optionally the mask) on every frame of a video."""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carseg_model.chunks import batched
from carseg_model.cli.errors import EXIT_OK, UsageError
from carseg_model.cli.models import load_runtime_model
from carseg_model.cli.options import add_runtime_options, new_command
from carseg_model.cli.output import progress, rate, render, report
from carseg_model.files import atomic_write

if TYPE_CHECKING:
    import cv2
    import numpy as np

    from carseg_model import CarSegModel

VIDEO_CODECS = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def add_parser(commands: Any) -> None:
    """Register ``carseg video``."""
    parser = new_command(
        commands,
        "video",
        "Draw the car overlay on every frame of a video.",
        "Reads any video OpenCV reads and writes one with the same size and frame rate\n"
        f"({', '.join(VIDEO_CODECS)}: mp4v for MP4/MOV, MJPG for AVI/MKV). Reports the\n"
        "measured frames per second.\n\n"
        "  carseg video drive.mp4 --out drive_overlay.mp4 --mask-out drive_mask.avi",
    )
    parser.add_argument("input", metavar="VIDEO", help="video file")
    parser.add_argument("--out", required=True, metavar="FILE", help="overlay video to write")
    parser.add_argument("--mask-out", metavar="FILE", help="also write the mask as a black/white video")
    parser.add_argument("--overwrite", action="store_true", help="replace output videos that exist")
    add_runtime_options(parser)
    parser.set_defaults(run=run)


@dataclass(frozen=True)
class VideoStream:
    """The frames of an opened video (RGB arrays) and what a writer needs to know about them."""

    frames: Iterator[np.ndarray]
    fps: float
    size: tuple[int, int]
    frame_count: int | None


def run(args: argparse.Namespace) -> int:
    """Write an overlay video (and optionally a mask video) of every frame."""
    source = Path(args.input).expanduser()
    outputs = {kind: Path(path).expanduser() for kind, path in (("overlay", args.out), ("mask", args.mask_out)) if path}
    check_video_outputs(source, list(outputs.values()), args.overwrite)
    with open_video(source) as video:
        model = load_runtime_model(args)
        count, seconds = write_videos(model, video, outputs, args)
    speed = rate(count, seconds)
    pace = "real time" if speed >= video.fps else f"{video.fps / speed:.1f}x slower than real time"
    print(
        f"done: {count} frames in {seconds:.1f} s: {speed:.1f} frames/s "
        f"(the video plays at {video.fps:g} fps: {pace}); wrote {', '.join(map(str, outputs.values()))}"
    )
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
        yield VideoStream(
            itertools.chain([first], frames), fps, size, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
        )
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


def write_videos(
    model: CarSegModel, video: VideoStream, outputs: dict[str, Path], args: argparse.Namespace
) -> tuple[int, float]:
    """Segment the frames batch by batch into one video per output kind; return (frames, seconds)."""
    import cv2

    count, start = 0, time.perf_counter()
    with ExitStack() as stack:
        writers = {
            kind: stack.enter_context(video_writer(path, video.fps, video.size)) for kind, path in outputs.items()
        }
        with progress(video.frame_count, "frames") as bar:
            for chunk in batched(video.frames, args.batch_size):
                for result in model.predict_batch(chunk, batch_size=args.batch_size):
                    for kind, writer in writers.items():
                        image = render(result, kind, args.color, args.opacity, args.outline)
                        writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR if image.ndim == 2 else cv2.COLOR_RGB2BGR))
                count += len(chunk)
                bar.update(len(chunk))
    return count, time.perf_counter() - start


@contextmanager
def video_writer(path: Path, fps: float, size: tuple[int, int]) -> Iterator[cv2.VideoWriter]:
    """An OpenCV writer for ``path`` (codec from its suffix), written atomically."""
    import cv2

    codec = VIDEO_CODECS[path.suffix.lower()]
    with atomic_write(path) as temporary:
        writer = cv2.VideoWriter(str(temporary), cv2.VideoWriter_fourcc(*codec), fps, size)
        if not writer.isOpened():
            raise UsageError(f"OpenCV cannot write {path} ({codec} codec); try an .avi output")
        try:
            yield writer
        finally:
            writer.release()
