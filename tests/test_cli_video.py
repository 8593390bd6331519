"""`carseg video` on small clips made here, with the tiny model and its TFLite / ONNX exports."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.test_cli import run

FRAMES, FRAME_SIZE, FPS = 12, (96, 64), 10


def write_video(path: Path, noise: bool = False) -> Path:
    """`FRAMES` frames of `FRAME_SIZE` at `FPS` (MPEG-4 part 2, as phones and OpenCV write): a box moving
    right, or (``noise``) independent random frames."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, FRAME_SIZE)
    rng = np.random.default_rng(0)
    for index in range(FRAMES):
        frame = np.full((FRAME_SIZE[1], FRAME_SIZE[0], 3), 40, np.uint8)
        cv2.rectangle(frame, (5 + 4 * index, 16), (45 + 4 * index, 48), (30, 30, 200), -1)
        writer.write(rng.integers(0, 256, frame.shape, dtype=np.uint8) if noise else frame)
    writer.release()
    return path


@dataclass(frozen=True)
class VideoFacts:
    """What a browser and a viewer see of a video file, decoded with PyAV."""

    frames: int
    size: tuple[int, int]
    fps: float
    codec: str
    pixel_format: str
    index_first: bool  # MP4 'moov' before 'mdat' (+faststart): plays while loading
    first_frame_mean: float


def video_facts(path: Path) -> VideoFacts:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        codec, pixel_format, fps = stream.codec_context.name, stream.codec_context.pix_fmt, float(stream.average_rate)
    data = path.read_bytes()
    index_first = 0 <= data.find(b"moov") < data.find(b"mdat")
    return VideoFacts(
        len(frames), (frames[0].shape[1], frames[0].shape[0]), fps, codec, pixel_format, index_first, frames[0].mean()
    )


def flicker_of(stdout: str) -> float:
    """The mask flicker `carseg video` reports, as a share."""
    return float(re.search(r"mask flicker ([\d.]+)%", stdout).group(1)) / 100


def test_video_writes_h264_overlay_and_mask_videos_with_every_frame(tiny_model_folder, tmp_path, capsys):
    clip = write_video(tmp_path / "drive.mp4")
    overlay, mask = tmp_path / "drive_overlay.mp4", tmp_path / "drive_mask.mkv"
    argv = ["video", clip, "--out", overlay, "--mask-out", mask, "--batch-size", 5, "--threshold", 0]
    code, stdout, stderr = run(capsys, *argv, "--model", tiny_model_folder)
    assert code == 0, stderr
    assert re.search(rf"{FRAMES} frames in [\d.]+ s: [\d.]+ frames/s \(the video plays at 10 fps", stdout)
    assert re.search(r"mask flicker [\d.]+% of pixels per frame; wrote", stdout)
    facts = video_facts(overlay)
    assert (facts.frames, facts.size, facts.fps) == (FRAMES, FRAME_SIZE, FPS)
    assert (facts.codec, facts.pixel_format, facts.index_first) == ("h264", "yuv420p", True)
    facts = video_facts(mask)
    assert (facts.frames, facts.size, facts.codec) == (FRAMES, FRAME_SIZE, "h264")
    assert facts.first_frame_mean > 250  # threshold 0: all car
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drive.mp4", "drive_mask.mkv", "drive_overlay.mp4"]


@pytest.mark.parametrize("backend, quantize", [("tflite", "int8"), ("onnx", None)])
def test_video_runs_exported_models(backend, quantize, variants, tmp_path, capsys):
    folder = variants.exported("transpose-64x64", backend, quantize)
    clip, overlay = write_video(tmp_path / "drive.mp4"), tmp_path / "drive_overlay.mp4"
    options = ["--backend", backend, *(["--model-quantize", quantize] if quantize else []), "--threads", 1]
    code, stdout, stderr = run(capsys, "video", clip, "--out", overlay, "--model", folder, *options)
    assert code == 0, stderr
    assert f"{FRAMES} frames in" in stdout and video_facts(overlay).frames == FRAMES


def test_video_test_time_scales_run_each_frame_at_every_scale(tmp_path, monkeypatch, capsys):
    from carseg_model import CarSegConfig, CarSegModel

    folder = tmp_path / "aspect_model"
    CarSegModel(CarSegConfig(input_size=(64, 64), input_shape="keep_aspect", encoder_weights=None)).save_pretrained(
        folder
    )
    shapes = []
    predict_probabilities = CarSegModel.predict_probabilities

    def recorded(self, batch):
        shapes.append(batch.shape)
        return predict_probabilities(self, batch)

    monkeypatch.setattr(CarSegModel, "predict_probabilities", recorded)
    clip, overlay = write_video(tmp_path / "drive.mp4"), tmp_path / "drive_overlay.mp4"
    argv = ["video", clip, "--out", overlay, "--batch-size", 5, "--test-time-scales", "1,2", "--model", folder]
    code, stdout, stderr = run(capsys, *argv)
    assert code == 0, stderr
    assert f"{FRAMES} frames in" in stdout and video_facts(overlay).frames == FRAMES
    assert [shape[1:3] for shape in shapes[:2]] == [(64, 64), (96, 160)]  # 96x64 frames at 1x and 2x the sides
    assert sum(shape[0] for shape in shapes) == 2 * FRAMES  # every frame, at both scales


def test_video_smoothing_lowers_the_flicker_of_a_noisy_mask(tiny_model_folder, tmp_path, capsys):
    clip = write_video(tmp_path / "noise.mp4", noise=True)
    flicker = {}
    for smooth in ("0", "0.8"):
        out = tmp_path / f"smooth{smooth}.mp4"
        code, stdout, stderr = run(
            capsys, "video", clip, "--out", out, "--smooth", smooth, "--model", tiny_model_folder
        )
        assert code == 0, stderr
        assert ("with --smooth 0.8" in stdout) == (smooth == "0.8")
        assert video_facts(out).frames == FRAMES
        flicker[smooth] = flicker_of(stdout)
    assert flicker["0.8"] < 0.7 * flicker["0"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--out", "CLIP"], "is the input video"),
        (["--out", "EXISTS"], "--overwrite"),
        (["--out", "x.avi"], "use one of these suffixes"),
        (["--out", "a.mp4", "--mask-out", "a.mp4"], "different names"),
        (["--out", "x.mp4", "--smooth", "1"], "up to (not including) 1"),
        (["--out", "x.mp4", "--max-pixels", "1000"], "pass a larger --max-pixels"),
    ],
)
def test_video_usage_errors_exit_2_and_say_what_is_wrong(argv, message, tiny_model_folder, tmp_path, capsys):
    clip = write_video(tmp_path / "drive.mp4")
    (tmp_path / "exists.mp4").write_bytes(b"")
    paths = {"CLIP": clip, "EXISTS": tmp_path / "exists.mp4"}
    argv = [paths.get(arg, tmp_path / arg if arg.endswith((".mp4", ".avi")) else arg) for arg in argv]
    code, _, stderr = run(capsys, "video", clip, *argv, "--model", tiny_model_folder)
    assert code == 2 and message in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drive.mp4", "exists.mp4"]


def test_video_refuses_a_file_that_is_no_video(tiny_model_folder, tmp_path, capsys):
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(np.random.default_rng(0).bytes(4000))
    code, _, stderr = run(capsys, "video", noise, "--out", tmp_path / "out.mp4", "--model", tiny_model_folder)
    assert code == 2 and "cannot read any frame" in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["noise.mp4"]


def test_video_without_pyav_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "av", None)  # import av raises ImportError
    clip = write_video(tmp_path / "drive.mp4")
    code, _, stderr = run(capsys, "video", clip, "--out", tmp_path / "out.mp4")
    assert code == 2 and "pip install 'carseg[video]'" in stderr
