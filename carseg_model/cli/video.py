"""``carseg video``: draw the car overlay (and optionally the mask) on every frame of a video.

Three stages overlap on separate threads, with bounded queues between them: decoding and
resizing frames to the network's size, the network (here, in batches, with the optional
temporal smoothing), and drawing and H.264-encoding the outputs.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carseg_model.cli.errors import EXIT_OK, RunError, UsageError
from carseg_model.cli.models import load_runtime_model
from carseg_model.cli.options import add_runtime_options, new_command
from carseg_model.cli.output import progress, rate, report
from carseg_model.video_io import DEFAULT_FPS, VIDEO_SUFFIXES, VideoError, VideoStream, open_video, video_writer

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

    from carseg_model import CarSegModel

VIDEO_BATCH_SIZE = 4
"""Frames per network call: larger batches are no faster per frame on a CPU, and hold more frames in memory."""


def add_parser(commands: Any) -> None:
    """Register ``carseg video``."""
    parser = new_command(
        commands,
        "video",
        "Draw the car overlay on every frame of a video.",
        "Reads any video FFmpeg reads and writes H.264 videos (yuv420p; MP4 plays in browsers) with\n"
        f"every frame, the same size and frame rate, and no sound ({', '.join(VIDEO_SUFFIXES)}). Needs\n"
        "PyAV: pip install 'carseg[video]'. Decoding, the network and encoding run in parallel; the\n"
        "frame rate of the whole run and the mask's flicker are reported at the end. Edges are\n"
        "upsampled, never refined (as --no-refine-edges): refining would cost real time.\n\n"
        "  carseg video drive.mp4 --out drive_overlay.mp4 --mask-out drive_mask.mp4 --smooth 0.5",
    )
    parser.add_argument("input", metavar="VIDEO", help="video file")
    parser.add_argument("--out", required=True, metavar="FILE", help="overlay video to write")
    parser.add_argument("--mask-out", metavar="FILE", help="also write the mask as a black/white video")
    parser.add_argument(
        "--smooth",
        type=smoothing_weight,
        default=0.0,
        metavar="W",
        help="temporal smoothing against flicker: each frame's probabilities are averaged with the previous "
        "frames', weight W for the past (0: off; 0.5 steadies a flickering mask, 0.8 lags behind fast motion)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace output videos that exist")
    add_runtime_options(parser)
    parser.set_defaults(run=run, batch_size=VIDEO_BATCH_SIZE)


def smoothing_weight(text: str) -> float:
    """argparse type: a number from 0 up to (not including) 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 up to (not including) 1, got {text!r}")
    return value


@dataclass(frozen=True)
class VideoRun:
    """What a run did: frames written and the mask's flicker (`carseg_model.video_frames.FlickerMeter`)."""

    frames: int
    flicker: float


def run(args: argparse.Namespace) -> int:
    """Write an overlay video (and optionally a mask video) of every frame; report the frame rate."""
    start = time.perf_counter()
    source = Path(args.input).expanduser()
    outputs = {kind: Path(path).expanduser() for kind, path in (("overlay", args.out), ("mask", args.mask_out)) if path}
    check_video_outputs(source, list(outputs.values()), args.overwrite)
    with opened_video(source) as video:
        model = load_runtime_model(args)
        if video.size[0] * video.size[1] > model.config.max_pixels:
            raise UsageError(
                f"{source}: {video.size[0]}x{video.size[1]} frames exceed the model's max_pixels "
                f"({model.config.max_pixels}); pass a larger --max-pixels"
            )
        done = write_videos(model, video, outputs, args)
    seconds = time.perf_counter() - start
    speed = rate(done.frames, seconds)
    fps = float(video.fps)
    pace = "real time" if speed >= fps else f"{fps / speed:.1f}x slower than real time"
    smoothing = f" with --smooth {args.smooth:g}" if args.smooth else ""
    flicker = "" if math.isnan(done.flicker) else f"; mask flicker {done.flicker:.2%} of pixels per frame{smoothing}"
    print(
        f"done: {done.frames} frames in {seconds:.1f} s: {speed:.1f} frames/s "
        f"(the video plays at {fps:g} fps: {pace}){flicker}; wrote {', '.join(map(str, outputs.values()))}"
    )
    return EXIT_OK


def check_video_outputs(source: Path, outputs: Sequence[Path], overwrite: bool) -> None:
    """Refuse a missing input, unknown output suffixes, an output on the input or on another output."""
    if not source.is_file():
        raise UsageError(f"{source}: no such video file")
    for path in outputs:
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise UsageError(f"{path}: carseg writes H.264 in {', '.join(VIDEO_SUFFIXES)}; use one of these suffixes")
        if path.exists() and path.resolve() == source.resolve():
            raise UsageError(f"{path} is the input video; carseg never overwrites its input. Pick another name")
        if path.exists() and not overwrite:
            raise UsageError(f"{path} exists; pass --overwrite to replace it")
    if len({path.resolve() for path in outputs}) < len(outputs):
        raise UsageError("--out and --mask-out are the same file; give them different names")


@contextmanager
def opened_video(source: Path) -> Iterator[VideoStream]:
    """`carseg_model.video_io.open_video` with a frame rate always set; a video that cannot be opened is a
    `UsageError`, one that fails later (a damaged frame) a `RunError`."""
    opened = False
    try:
        with open_video(source) as video:
            opened = True
            if video.fps is None:
                report(f"{source} does not say its frame rate; writing {DEFAULT_FPS} fps")
                video = replace(video, fps=DEFAULT_FPS)
            yield video
    except VideoError as error:
        raise (RunError if opened else UsageError)(str(error)) from None
    except ImportError as error:  # no PyAV
        if opened:
            raise
        raise UsageError(str(error)) from None


def write_videos(
    model: CarSegModel, video: VideoStream, outputs: dict[str, Path], args: argparse.Namespace
) -> VideoRun:
    """Segment every frame into one H.264 video per output kind, the three stages overlapping."""
    import numpy as np

    from carseg_model.background import consume_in_background, prefetch
    from carseg_model.chunks import batched
    from carseg_model.image_io import Photo
    from carseg_model.preprocessing import average_probabilities, network_input
    from carseg_model.video_frames import FlickerMeter, OverlayPainter, ProbabilitySmoother, frame_mask

    config, depth = model.config, 2 * args.batch_size  # frames waiting before and after the network
    smoother, flicker = ProbabilitySmoother(args.smooth), FlickerMeter()
    paint = OverlayPainter(args.color, args.opacity, args.outline)
    with ExitStack() as stack:
        writers = {
            kind: stack.enter_context(video_writer(path, video.fps, video.size)) for kind, path in outputs.items()
        }
        bar = stack.enter_context(progress(video.frame_count, "frames"))

        def draw_and_encode(item: tuple[np.ndarray, np.ndarray]) -> None:
            frame, probabilities = item
            mask = frame_mask(probabilities, frame.shape[:2], config.threshold)
            for kind, writer in writers.items():
                writer.write(mask if kind == "mask" else paint(frame, mask))
            bar.update(1)

        def with_inputs(frame: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
            photo = Photo.from_pixels(frame)
            return frame, [network_input(photo, config, scale) for scale in config.test_time_scales]

        encode = stack.enter_context(consume_in_background(draw_and_encode, depth))
        frames = stack.enter_context(closing(prefetch((with_inputs(f) for f in video.frames), depth)))
        count = 0
        for chunk in batched(frames, args.batch_size):
            runs = [
                model.predict_probabilities(np.stack([inputs[index] for _, inputs in chunk]))
                for index in range(len(config.test_time_scales))
            ]
            for (frame, _), maps in zip(chunk, zip(*runs)):
                smoothed = smoother(average_probabilities(maps))
                flicker.add(smoothed > config.threshold)
                encode((frame, smoothed))
                count += 1
    return VideoRun(count, flicker.share)
