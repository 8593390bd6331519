"""Atomic file writes: a reader, or a run resumed after a crash, sees the old file or the new one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    The temporary name keeps the suffixes (``.NAME.tmp.png``, ``.NAME.tmp.weights.h5``), so writers
    that pick the format from the name's ending still work. On failure the temporary file is removed and ``path`` is untouched.
    ``fsync=True`` flushes the file to disk before the rename (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffixes = "".join(path.suffixes)
    temporary = path.with_name(f".{path.name.removesuffix(suffixes)}.tmp{suffixes}")
    try:
        yield temporary
        if fsync:
            with open(temporary, "rb+") as file:
                os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
