from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from carseg_model.video_io import VideoError, open_video, video_writer


def gradient_frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    """``count`` RGB frames of ``size`` (width, height), each a little brighter, with a white top-left corner."""
    width, height = size
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), 40 + 10 * index, np.uint8)
        frame[:8, :16] = 255
        frames.append(frame)
    return frames


def test_writes_h264_that_reads_back_with_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    with video_writer(path, Fraction(25), (64, 48)) as writer:
        for frame in gradient_frames(7, (64, 48)):
            writer.write(frame)
    with open_video(path) as video:
        frames = list(video.frames)
        assert (video.fps, video.size, video.frame_count) == (25, (64, 48), 7)
    assert len(frames) == 7 and frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert [round(frame[20:, 20:].mean()) for frame in frames] == pytest.approx(range(40, 110, 10), abs=3)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.pix_fmt == "yuv420p"


def test_gray_frames_and_odd_sizes(tmp_path: Path) -> None:
    path = tmp_path / "mask.mkv"
    with video_writer(path, Fraction(10), (33, 21)) as writer:
        writer.write(np.full((21, 33), 255, np.uint8))
    with open_video(path) as video:
        (frame,) = video.frames
    assert frame.shape == (20, 32, 3) and frame.min() > 245  # cut to even sizes, as yuv420p needs


def test_frames_come_upright_per_the_streams_rotation(tmp_path: Path) -> None:
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(90)  # a phone held upright: stored landscape, shown portrait
        container.mux(stream.encode(av.VideoFrame.from_ndarray(gradient_frames(1, (64, 48))[0], format="rgb24")))
        container.mux(stream.encode(None))
    with open_video(path) as video:
        (frame,) = video.frames
    assert video.size == (48, 64) and frame.shape == (64, 48, 3)
    assert frame[-8:, :8].mean() > 200  # the stored top-left corner, turned counter-clockwise (as OpenCV shows it)


def test_refuses_files_it_cannot_read_or_write(tmp_path: Path) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(VideoError, match="cannot read any frame"), open_video(text):
        pass
    with (
        pytest.raises(VideoError, match="pick one of these suffixes"),
        video_writer(tmp_path / "x.gif", Fraction(10), (8, 8)),
    ):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]
