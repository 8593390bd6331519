"""Inference benchmark: the seed's path vs carseg's Keras, TFLite and ONNX paths (and a VOC peer).

    python bench/bench_inference.py [--model FOLDER_OR_REPO] [--compare MODEL ...] [--quick] [--threads N]

One run prints three tables: end to end on a real 1024x680 photo (decode -> full-size mask),
batch throughput at the model's input size (the commonest shape among the photos for "keep_aspect"
models), and a TensorFlow-free cold start (a fresh
process that loads an export and predicts one photo). Dice is measured against the
float Keras model's masks on real photos. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

from carseg_model import DEFAULT_MODEL, CarSegModel  # noqa: E402
from carseg_model.formats import exported_filename  # noqa: E402
from carseg_model.image_io import load_image  # noqa: E402
from carseg_model.preprocessing import preprocess  # noqa: E402
from carseg_model.teachers import TEACHER_FILES, DeepLabV3Teacher  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "space" / "examples"
PHOTO = EXAMPLES / "node-opencv_car1.jpg"
SHARED_DATA = REPO.parent / "shared" / "data"
VOC_FILE, VOC_CAR_CLASSES = TEACHER_FILES["voc"]
VOC_PEER = REPO.parent / "shared" / "teachers" / VOC_FILE
GROUND_TRUTH_CAR = {"roboflow_car_seg": 8, "camvid_cars": 8}
"""Datasets in ../shared/data whose ``masks/<name>.png`` mark cars with this value."""
EXPORTS = [("tflite", None), ("tflite", "fp16"), ("tflite", "int8"), ("onnx", None)]
QUICK_EXPORTS = [("tflite", "int8"), ("onnx", None)]
"""What ``--quick`` exports: the two that the cold-start table runs (float TFLite exports: carseg_model/export_test.py)."""


@dataclass
class Variant:
    """One way to get a mask: ``segment(path) -> bool mask`` and ``run_batch(inputs)`` at input size."""

    name: str
    segment: Callable[[Path], np.ndarray]
    run_batch: Callable[[np.ndarray], object]
    batch_input: np.ndarray
    size_bytes: int


def seed_variant(model: CarSegModel, inputs: np.ndarray, size_bytes: int) -> Variant:
    """The seed's path: cv2 decode + resize, ``keras.Model.predict`` per image, mask resized back."""
    network, config = model.network, model.config

    def segment(path: Path) -> np.ndarray:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        x = cv2.resize(image, config.input_size[::-1]).astype(np.float32) * config.input_scale + config.input_offset
        probabilities = network.predict(x[None], verbose=0)[0, :, :, 0]
        full = cv2.resize(probabilities, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
        return full > config.threshold

    return Variant("seed (model.predict)", segment, lambda b: network.predict(b, verbose=0), inputs, size_bytes)


def carseg_variant(name: str, model: CarSegModel, inputs: np.ndarray, size_bytes: int) -> Variant:
    return Variant(name, lambda path: model.predict(path).mask, model.predict_probabilities, inputs, size_bytes)


def voc_peer_variant(num_threads: int | None) -> Variant:
    """DeepLabV3 MobileNetV2 (Pascal VOC, int8) as `carseg_model.teachers.DeepLabV3Teacher` runs it."""
    peer = DeepLabV3Teacher(VOC_PEER, VOC_CAR_CLASSES, num_threads)

    def segment(path: Path) -> np.ndarray:
        return peer.car_mask(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))

    inputs = np.zeros((16, *peer.input_size, 3), np.uint8)
    return Variant(
        "VOC DeepLabV3 int8 (peer)", segment, lambda b: [peer.car_mask(x) for x in b], inputs, VOC_PEER.stat().st_size
    )


def timings(variants: list[Variant], run: Callable[[Variant], object], repeats: int) -> dict[str, np.ndarray]:
    """Seconds per call of each variant; rounds interleave the variants so load changes hit all alike."""
    for variant in variants:
        run(variant)  # warm-up (tracing, delegate planning)
    seconds: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(repeats):
        for variant in variants:
            start = time.perf_counter()
            run(variant)
            seconds[variant.name].append(time.perf_counter() - start)
    return {name: np.asarray(values) for name, values in seconds.items()}


def cold_start(folder: Path, backend: str, quantize: str | None, threads: int | None) -> dict[str, float]:
    """A fresh process: import carseg, load the model, predict PHOTO; time to first mask and peak RSS.

    Peak RSS is the child's ``VmHWM``: its ``ru_maxrss`` would include this (large) process's
    RSS, which Linux carries across fork + exec.
    """
    script = f"""
import json, sys, time
from carseg_model import CarSegModel
model = CarSegModel.from_pretrained({str(folder)!r}, backend={backend!r}, quantize={quantize!r}, num_threads={threads!r})
mask = model.predict({str(PHOTO)!r}).mask
done = time.time()
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({{"done": done, "rss_mb": int(status["VmHWM"].split()[0]) / 1024,
                  "tensorflow": "tensorflow" in sys.modules}}))
"""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    start = time.time()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return {"seconds": result["done"] - start, "rss_mb": result["rss_mb"], "tensorflow": result["tensorflow"]}


def eval_photos(count: int, seed: int = 0) -> list[Path]:
    """The bundled examples plus a fixed random sample of ``count`` photos that have car masks."""
    pool = sorted(p for name in GROUND_TRUTH_CAR for p in (SHARED_DATA / name / "images").glob("*"))
    return sorted(EXAMPLES.glob("*.jpg")) + random.Random(seed).sample(pool, min(count, len(pool)))


def ground_truth(photo: Path) -> np.ndarray | None:
    """The photo's ground-truth car mask from ../shared/data (``masks/<name>.png``), if it has one."""
    car = GROUND_TRUTH_CAR.get(photo.parent.parent.name)
    mask_path = photo.parent.parent / "masks" / f"{photo.stem}.png"
    if car is None or not mask_path.is_file():
        return None
    return cv2.imread(str(mask_path), cv2.IMREAD_UNCHANGED) == car


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice of two bool masks; 1.0 when both are empty."""
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


def pooled_dice(pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Dice over all pixels of all photos (photos with tiny cars do not dominate it)."""
    return dice(np.concatenate([a.ravel() for a, _ in pairs]), np.concatenate([b.ravel() for _, b in pairs]))


def spread(values: np.ndarray, scale: float = 1000.0) -> str:
    p10, p50, p90 = np.percentile(values * scale, [10, 50, 90])
    return f"{p50:.1f} ({p10:.1f}-{p90:.1f})"


def build_variants(
    model: CarSegModel,
    work: Path,
    inputs: np.ndarray,
    threads: int | None,
    exports: list[tuple[str, str | None]],
    label: str = "",
) -> list[Variant]:
    """Save the model into ``work``, make each of ``exports`` there and wrap each way to run it.

    The seed's path and the VOC peer are added for the main model (empty ``label``) only.
    """
    model.save_pretrained(work)
    weights_size = (work / "model.weights.h5").stat().st_size
    variants = [] if label else [seed_variant(model, inputs, weights_size)]
    variants.append(carseg_variant(f"{label}carseg Keras (tf.function)", model, inputs, weights_size))
    for format, quantize in exports:
        path = model.export(work, format, quantize)
        exported = CarSegModel.from_pretrained(path, num_threads=threads)
        variants.append(carseg_variant(f"{label}{format} {quantize or 'fp32'}", exported, inputs, path.stat().st_size))
    if VOC_PEER.is_file() and not label:
        variants.append(voc_peer_variant(threads))
    return variants


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help="model folder or Hub repo id (default: the bundled model)"
    )
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="MODEL",
        help="another model (e.g. the separable-decoder one) whose Keras and exported variants "
        "get rows too, each measured against its own float masks; repeatable",
    )
    parser.add_argument(
        "--quick", action="store_true", help="few repeats, 2 photos, int8 TFLite and ONNX only (what the tests run)"
    )
    parser.add_argument("--threads", type=int, default=None, help="num_threads for every runtime (default: theirs)")
    parser.add_argument("--photos", type=int, default=40, help="photos with car masks sampled from ../shared/data")
    parser.add_argument("--batch", type=int, default=16, help="batch size of the throughput table")
    args = parser.parse_args()
    repeats, batch_repeats = (3, 2) if args.quick else (30, 8)
    if args.model == DEFAULT_MODEL and not Path(DEFAULT_MODEL).is_dir():
        sys.exit(f"the bundled model {DEFAULT_MODEL} is not there yet; pass --model FOLDER_OR_REPO")

    photos = sorted(EXAMPLES.glob("*car*.jpg"))[:2] if args.quick else eval_photos(args.photos)
    truths = {p: t for p in photos if (t := ground_truth(p)) is not None}
    with tempfile.TemporaryDirectory(prefix="carseg-bench-") as work:
        variants: list[Variant] = []
        references: dict[str, dict[Path, np.ndarray]] = {}  # variant name -> its float model's masks
        names = [args.model, *args.compare]
        models = [CarSegModel.from_pretrained(name, num_threads=args.threads) for name in names]
        for index, (name, model) in enumerate(zip(names, models)):
            arrays = [preprocess(load_image(p, model.config.max_pixels), model.config) for p in photos]
            shapes = [array.shape for array in arrays]  # "keep_aspect" models: one batch per input shape
            common = max(set(shapes), key=shapes.count)
            inputs = np.stack([array for array in arrays if array.shape == common])
            inputs = inputs[np.arange(args.batch) % len(inputs)]
            reference = {p: r.mask for p, r in zip(photos, model.predict_batch(photos))}
            label = f"{Path(name).name}: " if index else ""
            exports = QUICK_EXPORTS if args.quick else EXPORTS
            added = build_variants(model, Path(work) / str(index), inputs, args.threads, exports, label)
            references.update({variant.name: reference for variant in added})
            variants += added
        single = timings(variants, lambda v: v.segment(PHOTO), repeats)
        batch = timings(variants, lambda v: v.run_batch(v.batch_input), batch_repeats)
        base_single, base_batch = np.median(single[variants[0].name]), np.median(batch[variants[0].name])
        main_reference = references[variants[0].name]
        float_vs_truth = np.mean([dice(main_reference[p], t) for p, t in truths.items()]) if truths else np.nan

        print(
            f"\nmodel {args.model}, input {models[0].config.input_size}, photo {PHOTO.name} (1024x680), "
            f"threads {args.threads or 'default'}; Dice on {len(photos)} real photos, "
            f"{len(truths)} with ground truth (Keras float: {float_vs_truth:.4f})\n"
        )
        print(
            f"| variant | 1 photo end to end, ms median (p10-p90) | x seed | batch {args.batch}, img/s (p10-p90) "
            "| x seed | file MB | Dice vs its Keras float, mean / pooled | Dice vs ground truth (change) |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for variant in variants:
            masks = {p: variant.segment(p) for p in photos}
            agreement = [(masks[p], references[variant.name][p]) for p in photos]
            truth = np.mean([dice(masks[p], t) for p, t in truths.items()]) if truths else np.nan
            rate = args.batch / batch[variant.name]
            print(
                f"| {variant.name} | {spread(single[variant.name])} | {base_single / np.median(single[variant.name]):.1f} "
                f"| {np.median(rate):.1f} ({np.percentile(rate, 10):.1f}-{np.percentile(rate, 90):.1f}) "
                f"| {base_batch / np.median(batch[variant.name]):.1f} | {variant.size_bytes / 1e6:.1f} "
                f"| {np.mean([dice(a, b) for a, b in agreement]):.4f} / {pooled_dice(agreement):.4f} "
                f"| {truth:.4f} ({truth - float_vs_truth:+.4f}) |"
            )

        print(
            "\n| cold start: fresh process, load, predict 1 photo | first mask, s | peak RSS, MB | imported TensorFlow |"
        )
        print("|---|---|---|---|")
        for backend, quantize in [("onnx", None), ("tflite", "int8"), ("keras", None)]:
            result = cold_start(Path(work) / "0", backend, quantize, args.threads)
            label = exported_filename(backend, quantize) if backend != "keras" else "Keras folder"
            print(f"| {label} | {result['seconds']:.2f} | {result['rss_mb']:.0f} | {result['tensorflow']} |")


if __name__ == "__main__":
    main()
