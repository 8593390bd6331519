"""``carseg export``: write the model as a TFLite or ONNX file that runs without TensorFlow."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from carseg_model.cli.errors import EXIT_OK, UsageError
from carseg_model.cli.models import load_model
from carseg_model.cli.options import add_model_options, new_command

EXPORT_SUFFIXES = {".tflite": "tflite", ".onnx": "onnx"}


def add_parser(commands: Any) -> None:
    """Register ``carseg export``."""
    parser = new_command(
        commands,
        "export",
        "Export the model to TFLite or ONNX (runs without TensorFlow).",
        "--out is a .tflite / .onnx file, or a folder that gets model[_fp16|_int8].tflite /\n"
        "model.onnx. carseg_config.json is written beside it: load the file with\n"
        "CarSegModel.from_pretrained(FILE) or `carseg predict --model FILE`.\n\n"
        "  carseg export --format tflite --quantize int8 --out carseg_int8.tflite",
    )
    parser.add_argument("--out", required=True, metavar="PATH", help="file (.tflite / .onnx) or folder to write")
    parser.add_argument(
        "--format", choices=tuple(EXPORT_SUFFIXES.values()), help="default: from the --out suffix, else tflite"
    )
    parser.add_argument(
        "--quantize",
        choices=("none", "fp16", "int8"),
        default="none",
        help="TFLite only: fp16 weights, or full-integer int8 calibrated on --representative",
    )
    parser.add_argument(
        "--representative",
        metavar="DIR",
        help="folder of real photos to calibrate int8 on (default: the demo's example photos, shipped in the package)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace the exported file if it exists")
    add_model_options(parser, runtime=False)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """A thin wrapper around `CarSegModel.export` that can also name the file."""
    from carseg_model.config import CONFIG_FILENAME, CarSegConfig
    from carseg_model.formats import check_format, exported_filename

    out = Path(args.out).expanduser()
    format = args.format or EXPORT_SUFFIXES.get(out.suffix.lower(), "tflite")
    quantize = None if args.quantize == "none" else args.quantize
    try:
        check_format(format, quantize)
    except ValueError as error:  # e.g. onnx + int8
        raise UsageError(str(error)) from error
    target = out if out.suffix.lower() in EXPORT_SUFFIXES else out / exported_filename(format, quantize)
    if target.suffix.lower() != f".{format}":
        raise UsageError(f"--out {out} does not end in .{format}; name the file *.{format} or pass a folder")
    if target.exists() and not args.overwrite:
        raise UsageError(f"{target} exists; pass --overwrite to replace it")
    if args.representative and quantize != "int8":
        raise UsageError("--representative photos are only used by --quantize int8")
    model = load_model(args.model)
    if (target.parent / CONFIG_FILENAME).is_file() and CarSegConfig.load(target.parent) != model.config:
        raise UsageError(f"{target.parent} holds another model's {CONFIG_FILENAME}; export into another folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".carseg-export-") as folder:
        try:
            written = model.export(folder, format=format, quantize=quantize, representative_images=args.representative)
        except (ValueError, FileNotFoundError, ImportError) as error:
            raise UsageError(str(error)) from error
        os.replace(written, target)  # the file appears complete or not at all
        if not (target.parent / CONFIG_FILENAME).exists():
            os.replace(Path(folder) / CONFIG_FILENAME, target.parent / CONFIG_FILENAME)
    print(
        f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and {CONFIG_FILENAME} beside it; "
        f"run it with: carseg predict --model {target} ..."
    )
    return EXIT_OK
