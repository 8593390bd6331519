"""Phone-photo benchmark: 12 MP JPEGs end to end, carseg against the seed's naive way, in one run.

    python bench/bench_phone_photos.py [--model FOLDER] [--photos 6] [--repeats 3] [--quick]

Rows, each way in one run: per 12 MP photo in a warm process (predict and every file written, both with
the Keras model), and as a whole process (Python start, imports, model load, every photo, every file
written; ``carseg predict`` as users run it: the bundled model runs its ONNX export, the same network):

- ``carseg predict DIR --save mask`` and the seed's way writing the mask only;
- ``carseg predict DIR --save mask,cutout,overlay`` and the seed's way writing the same three files;
- the peak memory one 12 MP ``predict`` adds to a warmed-up process (mask only, and with the
  cut-out and overlay made), read from the kernel's high-water mark (``VmHWM``, reset first), median
  and largest of `MEMORY_RUNS` fresh processes.

The seed's naive way, with the same weights: ``cv2.imread``, ``cv2.resize`` to the model's input
size, ``keras.Model.predict``, the float mask resized back with ``cv2.resize``, and ``cv2.imwrite``
of a 0/255 mask PNG, an RGBA cut-out PNG and a tinted JPEG overlay (OpenCV's default settings).
Runs alternate (carseg, seed, carseg, seed, ...) and the table gives medians and the ratio of
medians, so a busy machine slows both alike. The photos are the demo's example photos scaled to
4032x3024 with a little sensor-like noise (a smooth upscale would decode and compress unrealistically fast).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
PHONE_SIZE = (4032, 3024)
ROWS = {  # label -> (outputs, carseg's extra options)
    "mask only": ("mask", []),
    "mask only, --no-refine-edges": ("mask", ["--no-refine-edges"]),
    "mask + cut-out + overlay": ("mask,cutout,overlay", []),
}


def make_phone_photos(folder: Path, count: int) -> list[Path]:
    """``count`` 12 MP JPEGs (quality 92, as phones write) made from the example photos."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(EXAMPLES.glob("*car*.jpg")) + sorted(EXAMPLES.glob("darknet_dog.jpg"))
    rng = np.random.default_rng(0)
    photos = []
    for index in range(count):
        image = cv2.imread(str(sources[index % len(sources)]))
        big = cv2.resize(image, PHONE_SIZE, interpolation=cv2.INTER_CUBIC)
        noisy = np.clip(big + rng.normal(0, 4, big.shape), 0, 255).astype(np.uint8)
        path = folder / f"phone_{index}.jpg"
        cv2.imwrite(str(path), noisy, [cv2.IMWRITE_JPEG_QUALITY, 92])
        photos.append(path)
    return photos


def seed_worker(model_name: str, photos_dir: Path, out: Path, kinds: str) -> None:
    """The seed's naive way over a folder (run in its own process by `timed_process`)."""
    from carseg_model import CarSegModel

    model = CarSegModel.from_pretrained(model_name)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(photos_dir.glob("*.jpg")):
        seed_photo(model.network, model.config, path, out, kinds)


def seed_photo(network, config, path: Path, out: Path, kinds: str) -> None:
    """One photo the seed's naive way: full decode, stretch, ``predict``, float mask resized back, OpenCV writes."""
    import cv2

    height, width = config.input_size
    bgr = cv2.imread(str(path))
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    x = cv2.resize(rgb, (width, height)).astype(np.float32) * config.input_scale + config.input_offset
    probability = network.predict(x[None], verbose=0)[0, :, :, 0]
    mask = cv2.resize(probability, (bgr.shape[1], bgr.shape[0])) > config.threshold
    mask_image = mask.astype(np.uint8) * 255
    cv2.imwrite(str(out / f"{path.stem}_mask.png"), mask_image)
    if "cutout" in kinds:
        cv2.imwrite(str(out / f"{path.stem}_cutout.png"), np.dstack([bgr, mask_image]))
    if "overlay" in kinds:
        overlay = bgr.copy()
        overlay[mask] = (bgr[mask] * 0.5 + np.array([120, 40, 255]) * 0.5).astype(np.uint8)
        cv2.imwrite(str(out / f"{path.stem}_overlay.jpg"), overlay)


def carseg_photo(model, path: Path, out: Path, kinds: str) -> None:
    """One photo carseg's way: `predict` and the result's writers (what ``carseg predict`` runs per photo)."""
    result = model.predict(path)
    result.save_mask(out / f"{path.stem}_mask.png")
    if "cutout" in kinds:
        result.save_cutout(out / f"{path.stem}_cutout.png")
    if "overlay" in kinds:
        result.save_overlay(out / f"{path.stem}_overlay.jpg")


def in_process_rows(model_name: str, photos: list[Path], out: Path, repeats: int) -> None:
    """Per-photo seconds after warm-up, both ways in one process, alternating photo by photo."""
    from carseg_model import CarSegModel

    refined = CarSegModel.from_pretrained(model_name)
    models = {
        (): refined,
        ("--no-refine-edges",): CarSegModel(refined.config.replace(refine_edges=False), refined.network),
    }
    out.mkdir(parents=True, exist_ok=True)
    for kinds, options in ROWS.values():  # warm both paths up (graph tracing, first allocations)
        carseg_photo(models[tuple(options)], photos[0], out, kinds)
        seed_photo(refined.network, refined.config, photos[0], out, kinds)
    print(
        "\n| per 12 MP photo, in a warm process | carseg (s) | seed's way (s) | carseg speed-up |\n|---|---:|---:|---:|"
    )
    for label, (kinds, options) in ROWS.items():
        ours, theirs = [], []
        for _ in range(repeats):
            for photo in photos:
                start = time.perf_counter()
                carseg_photo(models[tuple(options)], photo, out, kinds)
                ours.append(time.perf_counter() - start)
                start = time.perf_counter()
                seed_photo(refined.network, refined.config, photo, out, kinds)
                theirs.append(time.perf_counter() - start)
        mine, seed = statistics.median(ours), statistics.median(theirs)
        print(f"| {label} | {mine:.3f} | {seed:.3f} | {seed / mine:.2f}x |")


def timed_process(command: list[str]) -> float:
    """Seconds a command takes as a whole process (it must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=1800)
    return time.perf_counter() - start


MEMORY_RUNS = 5
"""Fresh processes whose peak memory is read: it varies with which thread's heap each buffer lands in."""


def memory_worker(model_name: str, photo: Path) -> None:
    """Print the peak RSS one 12 MP predict adds (mask; then cut-out and overlay), in MB."""
    from carseg_model import CarSegModel

    model = CarSegModel.from_pretrained(model_name)
    warm = model.predict(photo)
    warm.cutout(), warm.overlay()  # first calls allocate the runtimes' own buffers
    del warm

    def peak_after(step) -> float:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        before = _status_kb("VmRSS")
        step()
        return (_status_kb("VmHWM") - before) / 1024

    mask_only = peak_after(lambda: model.predict(photo).mask)
    everything = peak_after(lambda: _all_outputs(model.predict(photo)))
    print(f"{mask_only:.1f} {everything:.1f}")


def _all_outputs(result) -> None:
    result.mask_image(), result.cutout(), result.overlay()


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model folder or repo id (default: the bundled model)")
    parser.add_argument("--photos", type=int, default=6, help="12 MP photos per run")
    parser.add_argument("--repeats", type=int, default=3, help="alternating runs of each side per row")
    parser.add_argument("--quick", action="store_true", help="2 photos, 1 repeat (what the tests run)")
    parser.add_argument("--seed-worker", nargs=3, metavar=("PHOTOS", "OUT", "KINDS"), help=argparse.SUPPRESS)
    parser.add_argument("--memory-worker", metavar="PHOTO", help=argparse.SUPPRESS)
    args = parser.parse_args()
    from carseg_model import DEFAULT_MODEL

    model = args.model or DEFAULT_MODEL
    if args.seed_worker:
        photos_dir, out, kinds = args.seed_worker
        return seed_worker(model, Path(photos_dir), Path(out), kinds)
    if args.memory_worker:
        return memory_worker(model, Path(args.memory_worker))
    count, repeats = (2, 1) if args.quick else (args.photos, args.repeats)
    python = sys.executable
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        photos = make_phone_photos(root / "photos", count)
        print(f"{count} photos of {PHONE_SIZE[0]}x{PHONE_SIZE[1]} ({photos[0].stat().st_size / 1e6:.1f} MB JPEG each)")
        print("\n| whole process | carseg predict (s) | seed's way (s) | carseg speed-up |\n|---|---:|---:|---:|")
        for row, (label, (kinds, options)) in enumerate(ROWS.items()):
            ours, theirs = [], []
            for repeat in range(repeats):
                ours.append(
                    timed_process(
                        [
                            python,
                            "-m",
                            "carseg_model",
                            "predict",
                            str(root / "photos"),
                            "--out",
                            str(root / f"ours{repeat}_{row}"),
                            "--save",
                            kinds,
                            *(["--model", args.model] if args.model else []),  # default: as users run it
                            *options,
                        ]
                    )  # fmt: skip
                )
                theirs.append(
                    timed_process(
                        [
                            python,
                            __file__,
                            "--model",
                            model,
                            "--seed-worker",
                            str(root / "photos"),
                            str(root / f"seed{repeat}_{row}"),
                            kinds,
                        ]
                    )  # fmt: skip
                )
            mine, seed = statistics.median(ours), statistics.median(theirs)
            print(f"| {count} photos, {label} | {mine:.1f} | {seed:.1f} | {seed / mine:.2f}x |")
        in_process_rows(model, photos, root / "in_process", repeats)
        peaks = [
            [float(value) for value in subprocess.run(
                [python, __file__, "--model", model, "--memory-worker", str(photos[0])],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()]
            for _ in range(MEMORY_RUNS)
        ]  # fmt: skip
        mask, everything = ([run[index] for run in peaks] for index in (0, 1))
        print(
            f"\nPeak memory one 12 MP predict adds to a warm process, median (largest) of {MEMORY_RUNS} processes: "
            f"{statistics.median(mask):.1f} ({max(mask):.1f}) MB for the mask, {statistics.median(everything):.1f} "
            f"({max(everything):.1f}) MB with the cut-out and overlay made too."
        )


if __name__ == "__main__":
    main()
