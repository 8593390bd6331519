"""Keeping the runtimes' start-up chatter (TensorFlow, LiteRT, Keras's ONNX shim) off the console."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

NATIVE_NOISE = (
    "INFO: Created TensorFlow Lite XNNPACK delegate",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 ",
)
"""Lines that native code prints on stderr whatever the log level: LiteRT's minimal logger, and
TensorFlow's start-up INFO lines through absl (oneDNN's notice), which ignore ``TF_CPP_MIN_LOG_LEVEL``
when another library in the process has set up absl logging first."""


def quiet_tensorflow() -> None:
    """Before TensorFlow loads: its C++ log level to warnings-off (unless the user set one), and no
    FutureWarning from Keras's tf2onnx shim."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message="In the future `np.object`", category=FutureWarning)


@contextmanager
def native_stderr_filtered(noise: tuple[str, ...] = NATIVE_NOISE) -> Iterator[None]:
    """Capture what the block writes to file descriptor 2 (native code included), then write it
    back without the lines that start with ``noise``."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to filter
        yield
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines = capture.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.writelines(line for line in lines if not line.startswith(noise))
            sys.stderr.flush()
