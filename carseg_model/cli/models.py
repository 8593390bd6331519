"""Loading the model a command works with; problems become a `UsageError` (exit code 2)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from carseg_model.cli.errors import UsageError
from carseg_model.cli.quiet import native_stderr_filtered

if TYPE_CHECKING:
    from carseg_model import CarSegModel


def load_model(name: str | None, **options: Any) -> CarSegModel:
    """Load ``name`` (default: the bundled model) with `CarSegModel.from_pretrained` ``options``;
    problems become a `UsageError` saying what to fix."""
    from carseg_model import DEFAULT_MODEL, CarSegModel

    name = name or DEFAULT_MODEL
    try:
        with native_stderr_filtered():
            return CarSegModel.from_pretrained(name, **options)
    except (OSError, ValueError, ImportError, RuntimeError) as error:
        raise UsageError(f"cannot load the model {name}: {error}") from error


def load_runtime_model(args: argparse.Namespace) -> CarSegModel:
    """The model of a command that runs it, with its ``--model`` options (`add_model_options`) and
    ``--threshold`` / ``--no-refine-edges`` / ``--test-time-scales``."""
    return load_model(
        args.model,
        backend=runtime_backend(args),
        quantize=args.model_quantize,
        num_threads=args.threads,
        max_pixels=args.max_pixels,
        threshold=args.threshold,
        refine_edges=args.refine_edges,
        test_time_scales=args.test_time_scales,
    )


def runtime_backend(args: argparse.Namespace) -> str | None:
    """``--backend`` if given; for the bundled model, `bundled_model_backend` (its ONNX export when ONNX
    Runtime is installed: a command starts in ~2 s instead of the ~15 s TensorFlow takes to import and
    build, which is most of a short job's time). Any other model runs as ``--backend`` says."""
    from carseg_model.model import bundled_model_backend

    if args.backend or args.model or args.model_quantize:
        return args.backend
    return bundled_model_backend()
