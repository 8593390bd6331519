"""bench/bench_inference.py --quick runs end to end on a tiny model, so the benchmark cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_bench_quick_prints_every_table(tiny_model_folder: Path) -> None:
    command = [
        sys.executable,
        str(REPO / "bench" / "bench_inference.py"),
        "--quick",
        "--model",
        str(tiny_model_folder),
        "--compare",
        str(tiny_model_folder),
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=900
    )  # several exports: minutes on a busy 2-core machine
    assert result.returncode == 0, result.stderr[-3000:]
    for row in ("| seed (model.predict) |", "| carseg Keras (tf.function) |", "| tflite int8 |", "| onnx fp32 |"):
        assert row in result.stdout
    assert f"| {tiny_model_folder.name}: onnx fp32 |" in result.stdout  # the --compare model's rows
    cold_starts = [line for line in result.stdout.splitlines() if line.startswith(("| model.onnx |", "| model_int8"))]
    assert len(cold_starts) == 2 and all(line.endswith("| False |") for line in cold_starts)  # TF never imported


def test_bench_video_quick_prints_every_row(tiny_model_folder: Path) -> None:
    command = [sys.executable, str(REPO / "bench" / "bench_video.py"), "--quick", "--model", str(tiny_model_folder)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)  # an int8 export: a minute
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line for line in result.stdout.splitlines() if line.startswith(("| carseg video", "| naive"))]
    assert len(rows) == 3 and all("24 frames |" in row for row in rows)
    assert rows[0].count("h264 yuv420p") == 1 and "%" in rows[1]
