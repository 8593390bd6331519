"""The command line a run records (``run_config.json``, the model card), with secrets replaced by ***."""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

_SECRET_OPTION = re.compile(r"--?[\w-]*(token|password|secret|api-?key)[\w-]*", re.IGNORECASE)
_HF_TOKEN = re.compile(r"hf_[A-Za-z0-9]{6,}")


def redacted_command(argv: Sequence[str], prog: str | None = None) -> str:
    """The command line with the values of token-like options and anything token-shaped replaced by ***."""
    secrets = [value for value in (os.environ.get("HF_TOKEN"),) if value]
    words, hide_next = [], False
    for word in argv:
        name, equals, _ = word.partition("=")
        if hide_next:
            word, hide_next = "***", False
        elif _SECRET_OPTION.fullmatch(name):
            word, hide_next = (f"{name}=***", False) if equals else (word, True)
        for secret in secrets:
            word = word.replace(secret, "***")
        words.append(_HF_TOKEN.sub("hf_***", word))
    program = prog.split() if prog else ["python", Path(sys.argv[0]).name]
    return shlex.join([*program, *words])
