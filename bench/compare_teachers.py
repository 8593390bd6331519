"""Compare a carseg model with the DeepLabV3 peers on a training run's validation photos.

    python bench/compare_teachers.py --run runs/release                 # the run's own model
    python bench/compare_teachers.py --run runs/release --model carseg_model/pretrained/carseg-unet-mobilenetv2
    python bench/compare_teachers.py --run runs/release --update-card   # also put the table in the model card

The validation photos are the run's (same datasets, same seeded group split as train.py). Every
model is scored the same way: a mask at each photo's original resolution, then per-photo Dice and
IoU against the full-size ground truth, averaged per dataset. The peers get the photo
stretch-resized to 513x513 (their input) and their class map resized back (nearest); car is
class 7 for Pascal VOC and 13 for Cityscapes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import train  # noqa: E402  (the run's data and split, exactly as train.py made them)
from carseg_model import CarSegModel  # noqa: E402
from carseg_model.evaluation import evaluate, evaluate_segmenter, summarize  # noqa: E402
from carseg_model.teachers import CITYSCAPES_CAR, PASCAL_VOC_CAR, DeepLabV3Teacher  # noqa: E402

TEACHERS = REPO.parent / "shared" / "teachers"
PEERS = {
    "DeepLabV3 Pascal VOC (int8)": ("deeplabv3_mnv2_pascal_quant.tflite", [PASCAL_VOC_CAR]),
    "DeepLabV3 Cityscapes (int8)": ("deeplab_mobilenet_edgetpu_slim_cityscapes_quant.tflite", [CITYSCAPES_CAR]),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="a run folder written by train.py")
    parser.add_argument("--model", help="carseg model folder or repo id (default: the run's model/)")
    parser.add_argument("--teachers", type=Path, default=TEACHERS, help="folder of the DeepLabV3 .tflite files")
    parser.add_argument("--update-card", action="store_true", help="write the table into the model's card")
    parser.add_argument("--test-time-flip", action="store_true",
                        help="also score the model with test-time flip (mirrored photo averaged in)")
    return parser.parse_args()


def markdown_table(results: dict[str, dict[str, dict[str, float]]], seconds: dict[str, float]) -> str:
    """Mean Dice per dataset (rows) and model (columns), plus seconds per photo."""
    names = list(results)
    datasets = list(next(iter(results.values())))
    lines = ["| Dataset | Photos | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for dataset in datasets:
        images = results[names[0]][dataset]["images"]
        best = max(results[name][dataset]["dice"] for name in names)
        cells = [
            (f"**{results[name][dataset]['dice']:.4f}**" if results[name][dataset]["dice"] == best
             else f"{results[name][dataset]['dice']:.4f}")
            for name in names
        ]
        lines.append(f"| {dataset} | {images} | " + " | ".join(cells) + " |")
    lines.append("| seconds per photo (this machine) | | " + " | ".join(f"{seconds[n]:.3f}" for n in names) + " |")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    if args.update_card and args.model and not Path(args.model).is_dir():
        sys.exit("error: --update-card rewrites a model folder; --model must be a local folder")
    run_config = json.loads((args.run / train.RUN_CONFIG).read_text(encoding="utf-8"))
    run_args = argparse.Namespace(**run_config["arguments"])
    _, val_samples, split = train.split_samples(run_args, run_config["seed"])
    model_source = args.model or str(args.run / "model")
    model = CarSegModel.from_pretrained(model_source)
    print(f"{len(val_samples)} validation photos: {split}")

    results, seconds = {}, {}
    evaluate(model, val_samples[:2])  # warm-up: trace the compiled call before timing
    start = time.perf_counter()
    results["carseg (this model)"] = summarize(evaluate(model, val_samples))
    seconds["carseg (this model)"] = (time.perf_counter() - start) / len(val_samples)
    if args.test_time_flip:
        flipping = CarSegModel(replace(model.config, test_time_flip=True), model.network)
        start = time.perf_counter()
        results["carseg + test-time flip"] = summarize(evaluate(flipping, val_samples))
        seconds["carseg + test-time flip"] = (time.perf_counter() - start) / len(val_samples)
    for name, (file, car_classes) in PEERS.items():
        if not (args.teachers / file).is_file():
            print(f"skipping {name}: {args.teachers / file} not found")
            continue
        peer = DeepLabV3Teacher(args.teachers / file, car_classes)
        start = time.perf_counter()
        results[name] = summarize(evaluate_segmenter(peer.car_mask, val_samples))
        seconds[name] = (time.perf_counter() - start) / len(val_samples)

    table = markdown_table(results, seconds)
    print(f"\nMean Dice per photo at original resolution ({model_source}):\n\n{table}")
    if args.update_card:
        text = (
            f"Measured by `python bench/compare_teachers.py --run {args.run}` on the validation photos above "
            f"({split}): per-photo Dice at original resolution, mean per dataset; best in bold.\n\n{table}"
        )
        card = {**model.config.card, "comparison": text}
        CarSegModel(replace(model.config, card=card), model.network).save_pretrained(model_source)
        print(f"\nUpdated the model card in {model_source}/README.md")


if __name__ == "__main__":
    main()
