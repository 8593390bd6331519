"""Batch throughput: ``carseg predict`` with the local engine vs ``--engine ray`` with 1 and 2 actors.

    python bench/bench_ray.py [--photos 24] [--size 4032x3024] [--concurrency 1 2] [--model M] [--backend B]

The demo's example photos are upscaled to phone size (JPEG, quality 90) and copied until there are
``--photos`` of them, and twice as many in a second folder; each engine segments both folders, each in
a fresh ``carseg predict`` process (``--save mask``), as a user would run it. One table: the command's
wall time for N and 2N photos (start to exit: Python, Ray start-up and the actors' model loading
included), photos/s over the 2N run's wall time, the steady photos/s (N / the difference of the two wall
times: what one more photo costs once everything runs), and whether every mask is byte-identical to the
local engine's.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
CARSEG = [sys.executable, "-m", "carseg_model"]


def make_photos(folder: Path, count: int, size: tuple[int, int]) -> None:
    """``count`` phone-size JPEGs made from the demo's examples, cycled."""
    folder.mkdir(parents=True)
    examples = sorted(EXAMPLES.glob("*.jpg"))
    for index, example in zip(range(count), itertools.cycle(examples)):
        photo = Image.open(example).convert("RGB").resize(size, Image.Resampling.BICUBIC)
        photo.save(folder / f"{index:03d}_{example.name}", quality=90)


def run_engine(photos: Path, out: Path, options: list[str]) -> float:
    """Run ``carseg predict`` once; return its wall time."""
    start = time.perf_counter()
    result = subprocess.run(
        [*CARSEG, "predict", str(photos), "--out", str(out), "--save", "mask", *options],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.exit(f"carseg predict {' '.join(options)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def masks_of(folder: Path) -> dict[Path, bytes]:
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.rglob("*_mask.png"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=24, help="photos to segment")
    parser.add_argument("--size", default="4032x3024", help="photo size, WIDTHxHEIGHT (default: a 12 MP phone)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2], help="Ray actor counts to run")
    parser.add_argument("--model", help="carseg --model (default: the bundled model)")
    parser.add_argument("--backend", choices=("keras", "tflite", "onnx"), help="carseg --backend")
    args = parser.parse_args()
    width, height = (int(side) for side in args.size.split("x"))
    model_options = [
        *(["--model", args.model] if args.model else []),
        *(["--backend", args.backend] if args.backend else []),
    ]

    with tempfile.TemporaryDirectory(prefix="carseg-bench-ray-") as temporary:
        root = Path(temporary)
        counts = (args.photos, 2 * args.photos)
        for count in counts:
            make_photos(root / f"photos{count}", count, (width, height))
        runs = [("local", [])] + [
            (f"ray, {n} actor(s)", ["--engine", "ray", "--concurrency", str(n)]) for n in args.concurrency
        ]
        rows, reference = [], None
        for name, options in runs:
            seconds = []
            for count in counts:
                out = root / f"out{count}"
                seconds.append(run_engine(root / f"photos{count}", out, [*model_options, *options]))
                masks = masks_of(out)
                shutil.rmtree(out)
            reference = reference if reference is not None else masks
            steady = args.photos / (seconds[1] - seconds[0]) if seconds[1] > seconds[0] else float("nan")
            rows.append((name, *seconds, counts[1] / seconds[1], steady, masks == reference))

    n, n2 = counts
    print(
        f"{n} and {n2} photos of {width}x{height}, --save mask, {' '.join(model_options) or 'bundled model, keras'}\n"
    )
    print(
        f"| engine | wall s, {n} photos | wall s, {n2} photos | photos/s (wall, {n2}) | photos/s (steady) | masks = local |"
    )
    print("|---|---|---|---|---|---|")
    for name, first, second, per_second, steady, same in rows:
        print(f"| {name} | {first:.1f} | {second:.1f} | {per_second:.2f} | {steady:.2f} | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
