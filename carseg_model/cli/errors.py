"""How a command ends: exit codes, `UsageError` / `RunError`, and errors shown as one line on stderr."""

from __future__ import annotations

import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """The command cannot start: a bad option, a missing input or model, an unsafe output, ...: exit code 2."""


class RunError(Exception):
    """Something outside the command stopped it (e.g. the Hub cannot be reached): exit code 1."""


def print_error(command: str, error: BaseException) -> None:
    """``carseg COMMAND: error: MESSAGE`` on stderr, on one line (library messages may wrap)."""
    print(f"carseg {command}: error: {' '.join(str(error).split())}", file=sys.stderr)
