"""Read any video FFmpeg reads and write H.264 MP4s that browsers play, through PyAV (``carseg[video]``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np

from carseg_model.files import atomic_write

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
"""Containers carseg writes (H.264 in each); MP4 plays in every browser."""
FASTSTART_SUFFIXES = (".mp4", ".m4v", ".mov")
"""Containers whose index goes first (``movflags=+faststart``) so that a browser plays them while loading."""
H264_OPTIONS = {"libx264": {"preset": "superfast", "crf": "23"}}
"""Encoder settings by the encoder FFmpeg picks for H.264: fast enough for real time on two cores."""
DEFAULT_FPS = Fraction(30)


class VideoError(ValueError):
    """A file carseg cannot read as a video, or a video it cannot write."""


@dataclass(frozen=True)
class VideoStream:
    """The frames of an opened video (upright RGB arrays) and what a writer needs to know about them.

    ``fps`` is ``None`` when the file does not say its frame rate; ``frame_count`` when it does not
    say how many frames it has.
    """

    frames: Iterator[np.ndarray]
    fps: Fraction | None
    size: tuple[int, int]
    frame_count: int | None


def import_av() -> ModuleType:
    """PyAV, or an ImportError that says how to install it."""
    try:
        import av
    except ImportError:
        raise ImportError("video needs PyAV: pip install 'carseg[video]' (or pip install av)") from None
    return av


@contextmanager
def open_video(path: str | Path) -> Iterator[VideoStream]:
    """Open the first video stream of ``path``; `VideoError` if it has no readable frame.

    Frames are decoded on demand, turned upright per the stream's rotation, as ``(H, W, 3)`` uint8 RGB.
    """
    av = import_av()
    try:
        container = av.open(str(path))
    except av.FFmpegError as error:
        raise VideoError(
            f"cannot read any frame of {path} ({error}); is it a video file (mp4, mov, mkv, ...)?"
        ) from None
    try:
        if not container.streams.video:
            raise VideoError(f"{path} has no video stream; pass a video file (mp4, mov, mkv, ...)")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # FFmpeg decodes with frame and slice threads
        frames = _decode(container, stream, path)
        first = next(frames, None)
        if first is None:
            raise VideoError(f"cannot read any frame of {path}; is it a video file (mp4, mov, mkv, ...)?")
        yield VideoStream(
            itertools.chain([first], frames),
            stream.average_rate or stream.guessed_rate,
            (first.shape[1], first.shape[0]),
            stream.frames or None,
        )
    finally:
        container.close()


def _decode(container: object, stream: object, path: str | Path) -> Iterator[np.ndarray]:
    av = import_av()
    try:
        for frame in container.decode(stream):  # type: ignore[attr-defined]
            image = frame.to_ndarray(format="rgb24")
            quarter_turns = round((frame.rotation or 0) / 90) % 4
            yield np.ascontiguousarray(np.rot90(image, quarter_turns)) if quarter_turns else image
    except av.FFmpegError as error:
        raise VideoError(f"{path}: cannot decode a frame ({error}); the file may be damaged") from None


class VideoWriter:
    """Encodes RGB or gray frames into an open H.264 (yuv420p) stream."""

    def __init__(self, container: object, stream: object) -> None:
        self._container = container
        self._stream = stream
        self._size = (stream.width, stream.height)  # type: ignore[attr-defined]

    def write(self, image: np.ndarray) -> None:
        """Encode one ``(H, W, 3)`` RGB or ``(H, W)`` gray uint8 frame (odd sizes lose a last row / column).

        OpenCV converts to yuv420p (BT.601, as FFmpeg's scaler would, about 10x faster).
        """
        av = import_av()
        width, height = self._size
        rgb = image[:height, :width] if image.ndim == 3 else cv2.cvtColor(image[:height, :width], cv2.COLOR_GRAY2RGB)
        yuv = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
        self._container.mux(self._stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")))  # type: ignore[attr-defined]

    def close(self) -> None:
        """Flush the encoder's delayed frames."""
        self._container.mux(self._stream.encode(None))  # type: ignore[attr-defined]


@contextmanager
def video_writer(path: str | Path, fps: Fraction, size: tuple[int, int]) -> Iterator[VideoWriter]:
    """An H.264 writer for ``path`` (a `VIDEO_SUFFIXES` container), written atomically.

    H.264 in yuv420p needs even sizes, so an odd width or height is cut by one pixel.
    """
    av = import_av()
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise VideoError(f"{path}: carseg writes {', '.join(VIDEO_SUFFIXES)} videos; pick one of these suffixes")
    options = {"movflags": "+faststart"} if path.suffix.lower() in FASTSTART_SUFFIXES else {}
    with atomic_write(path) as temporary:
        container = av.open(str(temporary), "w", options=options)
        try:
            try:
                stream = container.add_stream("h264", rate=fps)
            except (av.FFmpegError, ValueError) as error:
                raise VideoError(
                    f"this PyAV build has no H.264 encoder ({error}); pip install the PyPI av wheel"
                ) from None
            stream.width, stream.height = size[0] // 2 * 2, size[1] // 2 * 2
            stream.pix_fmt = "yuv420p"
            stream.options = H264_OPTIONS.get(stream.codec_context.name, {})
            writer = VideoWriter(container, stream)
            yield writer
            writer.close()
        finally:
            container.close()
