"""Chunking: one helper for every "N at a time" loop."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of ``size`` items in order (the last one shorter); ``size`` must be a positive int."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"batch size must be a positive whole number; got {size!r}")
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
