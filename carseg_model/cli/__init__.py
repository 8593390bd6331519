"""The carseg command line: segment photos and videos, serve the model over HTTP, evaluate, export, publish and train models.

    carseg predict photos/ --out masks/ --save mask,cutout,overlay
    carseg video drive.mp4 --out drive_overlay.mp4
    carseg serve --port 8000
    carseg evaluate --data data/roboflow_car_seg --car-values 8
    carseg export --format tflite --quantize int8 --out carseg_int8.tflite
    carseg push runs/v1 you/carseg
    carseg train --data data/roboflow_car_seg --output runs/v1

Exit codes: 0 everything worked; 1 some inputs failed (each one is reported) or an error
stopped the run (e.g. the Hub could not be reached); 2 the command could not start (bad
option, missing input, unusable model folder or config, output inside the input, ...).

Importing this package is cheap: TensorFlow loads with the model, inside a command. One
module per command (``predict``, ``video``, ...), each with ``add_parser`` and ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from carseg_model.cli import evaluate, export, predict, push, serve, train, video
from carseg_model.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, RunError, UsageError, print_error
from carseg_model.cli.options import HelpFormatter
from carseg_model.cli.quiet import quiet_tensorflow
from carseg_model.errors import ConfigError, ModelFolderError, ModelNotCachedError

COMMANDS = (predict, video, serve, evaluate, export, push, train)


def build_parser() -> argparse.ArgumentParser:
    """The ``carseg`` parser with its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="carseg", description=__doc__.rsplit("\n\n", 1)[0], formatter_class=HelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``carseg`` with ``argv`` (default: the process arguments); return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:  # the training parser is train.py's own: it parses the rest
        return run_command("train", lambda: train.run(argv[1:]))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error argparse already printed
        return int(exit.code or 0)
    return run_command(args.command, lambda: args.run(args))


def run_command(command: str, run: Callable[[], int]) -> int:
    """Run one command; what stops it becomes one line on stderr and an exit code (see the module docstring)."""
    quiet_tensorflow()
    try:
        return run()
    except (UsageError, ConfigError, ModelFolderError, ModelNotCachedError) as error:
        print_error(command, error)
        return EXIT_USAGE
    except (RunError, OSError) as error:  # e.g. a full disk, an unreachable or refusing Hub
        print_error(command, error)
        return EXIT_FAILED
    except KeyboardInterrupt:
        hint = "; run the same command again to continue" if command == "predict" else ""
        print(f"\ncarseg {command}: interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
