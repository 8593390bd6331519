"""``carseg train``: train or fine-tune a model; exactly what ``python train.py`` runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PROG = "carseg train"


def add_parser(commands: Any) -> None:
    """List ``carseg train`` in ``carseg --help``; `run` parses its options (the training parser's own)."""
    commands.add_parser("train", help="Train or fine-tune a model (the options of python train.py).", add_help=False)


def run(argv: Sequence[str]) -> int:
    """Run `carseg_model.training.run.main` on ``argv``; ``--help`` and bad options are answered first,
    without loading TensorFlow."""
    from carseg_model.training.options import build_parser

    try:
        build_parser(PROG).parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error argparse already printed
        return int(exit.code or 0)
    from carseg_model.training.run import main

    return main(list(argv), prog=PROG)
