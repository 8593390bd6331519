"""Argument types and the option groups several commands share."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from carseg_model.cli.output import OUTPUT_SUFFIXES
from carseg_model.colors import parse_color
from carseg_model.defaults import BATCH_SIZE, OVERLAY_COLOR, OVERLAY_OPACITY


# ============================================================================== argument types
def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def probability(text: str) -> float:
    """argparse type: a number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number from 0 to 1, got {text!r}")
    return value


def scales(text: str) -> tuple[float, ...]:
    """argparse type: positive numbers separated by commas, ``1,1.25`` (`CarSegConfig.test_time_scales`)."""
    try:
        values = tuple(float(value) for value in text.split(","))
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(value) and value > 0 for value in values):
        raise argparse.ArgumentTypeError(f"expected positive numbers separated by commas (e.g. 1,1.25), got {text!r}")
    return values


def color(text: str) -> tuple[int, int, int]:
    """argparse type: ``255,40,120``, ``#ff2878`` or a colour name (`carseg_model.colors.parse_color`)."""
    try:
        return parse_color(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def background(text: str) -> str:
    """argparse type: ``transparent``, ``blur``, a colour (`color`) or an image file, for cut-outs."""
    if text in ("transparent", "blur") or Path(text).expanduser().is_file():
        return str(Path(text).expanduser()) if Path(text).expanduser().is_file() else text
    try:
        parse_color(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither transparent, blur, a colour (white, #f0f0f0, 240,240,240) nor an image file"
        ) from None
    return text


def margin(text: str) -> float:
    """argparse type: a crop margin, a share of the car's size from 0 to 10."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 10.0:
        raise argparse.ArgumentTypeError(f"expected a share of the car's size from 0 to 10 (0.05 = 5 %), got {text!r}")
    return value


def output_kinds(text: str) -> tuple[str, ...]:
    """argparse type: a comma-separated subset of ``mask,cutout,overlay``."""
    kinds = tuple(dict.fromkeys(kind.strip() for kind in text.split(",") if kind.strip()))
    unknown = [kind for kind in kinds if kind not in OUTPUT_SUFFIXES]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(
            f"expected one or more of {','.join(OUTPUT_SUFFIXES)} separated by commas, got {text!r}"
        )
    return kinds


def car_values(text: str) -> tuple[int, ...] | None:
    """argparse type: mask values that mean car, ``8`` or ``7,8``; ``any``: any non-zero value."""
    from carseg_model.datasets import parse_car_values

    try:
        return parse_car_values(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


# ============================================================================== parsers and groups
class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and shows each option's default, except for options without one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default in (None, False) or action.default is argparse.SUPPRESS or "(default" in help_text:
            return help_text
        return f"{help_text} (default: %(default)s)"


def new_command(commands: Any, name: str, summary: str, description: str) -> argparse.ArgumentParser:
    """One sub-command parser with the shared formatter."""
    return commands.add_parser(
        name, help=summary, description=f"{summary}\n\n{description}", formatter_class=HelpFormatter
    )


def add_model_options(parser: argparse.ArgumentParser, runtime: bool = True) -> None:
    """``--model`` and, for commands that run it, the runtime options."""
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        metavar="NAME",
        help="Hub repo id or model folder (default: the bundled model)"
        + ("; or an exported .tflite / .onnx file" if runtime else ""),
    )
    if not runtime:
        return
    group.add_argument(
        "--backend",
        choices=("keras", "tflite", "onnx"),
        help="runtime for a model folder / repo: keras (default) or a file written by `carseg export` into it; "
        "the bundled model runs its model.onnx by default (same network, no TensorFlow start-up)",
    )
    group.add_argument(
        "--model-quantize",
        choices=("fp16", "int8"),
        help="with --backend tflite: run model_fp16.tflite / model_int8.tflite",
    )
    group.add_argument("--threads", type=positive_int, metavar="N", help="CPU threads of the runtime (default: all)")
    group.add_argument(
        "--max-pixels",
        type=positive_int,
        metavar="N",
        help="largest photo (width x height) to accept; larger ones are refused (default: the model's, "
        "usually 50000000)",
    )


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    """``--batch-size``, ``--threshold``, ``--no-refine-edges`` and ``--test-time-scales``."""
    group = parser.add_argument_group("inference")
    group.add_argument(
        "--batch-size", type=positive_int, default=BATCH_SIZE, metavar="N", help="photos / frames per network call"
    )
    group.add_argument(
        "--threshold",
        type=probability,
        metavar="P",
        help="car probability above which a pixel is car (default: the model's, usually 0.5)",
    )
    group.add_argument(
        "--no-refine-edges",
        dest="refine_edges",
        action="store_false",
        default=None,
        help="upsample the network's output as it is instead of fitting the edges to the photo (faster, blurrier)",
    )
    group.add_argument(
        "--test-time-scales",
        type=scales,
        metavar="S,S",
        help="also run the network at these multiples of its input's sides and average the runs, e.g. 1,1.25: "
        "small and far cars are found better, each scale costs its pixels (aspect-true models)",
    )


def add_overlay_options(parser: argparse.ArgumentParser) -> None:
    """How overlays look: ``--color``, ``--opacity``, ``--outline``."""
    group = parser.add_argument_group("overlay")
    group.add_argument(
        "--color",
        type=color,
        default=OVERLAY_COLOR,
        metavar="R,G,B",
        help=f"overlay colour, as R,G,B, #rrggbb or a name (default: {','.join(map(str, OVERLAY_COLOR))})",
    )
    group.add_argument(
        "--opacity", type=probability, default=OVERLAY_OPACITY, metavar="P", help="overlay tint opacity, 0 to 1"
    )
    group.add_argument(
        "--outline", type=int, metavar="PIXELS", help="overlay outline width; 0: none (default: scaled with the image)"
    )


def add_runtime_options(parser: argparse.ArgumentParser, overlay: bool = True) -> None:
    """The options of a command that runs the model: inference, overlay (if it draws one) and model."""
    add_inference_options(parser)
    if overlay:
        add_overlay_options(parser)
    add_model_options(parser)
