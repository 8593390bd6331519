"""Video benchmark: `carseg video` as a whole process on a 1280x720 clip, with the int8 TFLite export.

    python bench/bench_video.py [--model FOLDER_OR_REPO] [--frames 250] [--size 1280x720] [--repeats 3] [--quick]

The clip is a slow pan and zoom over a real photo (space/examples/node-opencv_car1.jpg), written as
H.264 at 25 fps. The model is exported to int8 TFLite in a temporary folder. Each row runs in a fresh
process, rows interleaved round by round so that load from other processes hits them alike:

- ``carseg video`` (pipelined, H.264 out), without and with ``--smooth``;
- the naive way: OpenCV decode, ``predict_batch`` + ``result.overlay`` frame by frame, OpenCV mp4v out.

Whole-process frames/s (python start to exit), CPU time per frame, the mask flicker `carseg video`
reports, and the output checked by decoding it (codec, every frame).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
from PIL import Image

from carseg_model import DEFAULT_MODEL, CarSegModel  # noqa: E402
from carseg_model.video_io import open_video, video_writer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "space" / "examples" / "node-opencv_car1.jpg"
FPS = 25

NAIVE = """
import sys, cv2
from carseg_model import CarSegModel
model = CarSegModel.from_pretrained(sys.argv[1])
capture = cv2.VideoCapture(sys.argv[2])
writer = None
while (frame := capture.read()[1]) is not None:
    overlay = model.predict(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).overlay()
    if writer is None:
        size = (overlay.shape[1], overlay.shape[0])
        writer = cv2.VideoWriter(sys.argv[3], cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS), size)
    writer.write(cv2.cvtColor(overlay, cv2.COLOR_RGB2BGR))
writer.release()
"""
"""The naive way: decode, predict, overlay and encode one frame after the other (OpenCV in and out)."""


def write_clip(path: Path, frames: int, size: tuple[int, int]) -> Path:
    """A slow pan (left to right) and zoom (1x to 1.35x) over `PHOTO`, ``frames`` frames of ``size``."""
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))
    height, width = photo.shape[:2]
    with video_writer(path, Fraction(FPS), size) as writer:
        for index in range(frames):
            progress = index / max(frames - 1, 1)
            crop_width = width / (1.0 + 0.35 * progress)
            crop_height = min(crop_width * size[1] / size[0], height)
            left = (width - crop_width) * (0.05 + 0.9 * progress)
            top = (height - crop_height) / 2
            scale = size[0] / crop_width
            warp = np.float32([[scale, 0, -left * scale], [0, scale, -top * scale]])
            writer.write(cv2.warpAffine(photo, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return path


def frame_size(text: str) -> tuple[int, int]:
    """argparse type: ``WIDTHxHEIGHT``."""
    width, height = (int(side) for side in text.lower().split("x"))
    return width, height


def timed(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``; (wall seconds, CPU seconds of the process and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, result.stdout


def describe_output(path: Path) -> str:
    """Codec, pixel format and frame count of a video, by decoding it."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count = sum(1 for _ in container.decode(stream))
        return f"{stream.codec_context.name} {stream.codec_context.pix_fmt}, {count} frames"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="model folder or Hub repo id (default: the bundled model)"
    )
    parser.add_argument("--frames", type=int, default=250, help="frames in the clip")
    parser.add_argument("--size", type=frame_size, default=(1280, 720), help="WIDTHxHEIGHT of the clip")
    parser.add_argument("--repeats", type=int, default=3, help="rounds; each row runs once per round")
    parser.add_argument("--smooth", type=float, default=0.5, help="--smooth of the smoothed row")
    parser.add_argument("--quick", action="store_true", help="a 24-frame 320x180 clip, one round (what the tests run)")
    args = parser.parse_args()
    frames, size, repeats = (24, (320, 180), 1) if args.quick else (args.frames, args.size, args.repeats)

    with tempfile.TemporaryDirectory(prefix="carseg-bench-video-") as work:
        work = Path(work)
        clip = write_clip(work / "clip.mp4", frames, size)
        exported = CarSegModel.from_pretrained(args.model).export(work, format="tflite", quantize="int8")
        carseg = [sys.executable, "-m", "carseg_model", "video", str(clip), "--model", str(exported), "--overwrite"]
        rows = {
            "carseg video, int8 TFLite": [*carseg, "--out", str(work / "plain.mp4")],
            f"carseg video, int8 TFLite, --smooth {args.smooth:g}": [
                *carseg,
                "--out",
                str(work / "smooth.mp4"),
                "--smooth",
                str(args.smooth),
            ],
            "naive: OpenCV in/out (mp4v), predict + overlay per frame": [
                sys.executable,
                "-c",
                NAIVE,
                str(exported),
                str(clip),
                str(work / "naive.mp4"),
            ],
        }
        runs: dict[str, list[tuple[float, float, str]]] = {name: [] for name in rows}
        load = os.getloadavg()[0]
        for _ in range(repeats):
            for name, command in rows.items():
                runs[name].append(timed(command))

        with open_video(clip) as video:
            assert sum(1 for _ in video.frames) == frames
        print(
            f"\nclip: {frames} frames of {size[0]}x{size[1]} at {FPS} fps (H.264), model {args.model} as int8 TFLite; "
            f"{repeats} round(s), {os.cpu_count()} cores, load average {load:.1f} at the start\n"
        )
        print(
            "| run | whole process, s (median) | frames/s, median (best) | CPU ms per frame | mask flicker | output |"
        )
        print("|---|---|---|---|---|---|")
        for name, results in runs.items():
            seconds = np.array([wall for wall, _, _ in results])
            cpu = np.median([cpu for _, cpu, _ in results]) / frames * 1000
            found = re.search(r"mask flicker ([\d.]+%)", results[-1][2])
            output = Path(rows[name][rows[name].index("--out") + 1] if "--out" in rows[name] else rows[name][-1])
            print(
                f"| {name} | {np.median(seconds):.1f} | {frames / np.median(seconds):.1f} ({frames / seconds.min():.1f}) "
                f"| {cpu:.0f} | {found.group(1) if found else '-'} | {describe_output(output)} |"
            )


if __name__ == "__main__":
    main()
