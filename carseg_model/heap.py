"""Keep a long-running server's memory flat: its threads share two heaps.

glibc gives every thread that allocates while others do a heap of its own (up to eight per core),
and a heap keeps the memory it once held. A server whose threads decode, draw and encode 1-30 MB
images therefore grows by the largest images each thread ever drew. Two heaps hold what two cores
work on at once, so the process stays at the size of its busiest moment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

HEAPS = 2
"""Heaps (glibc "arenas") the threads share: the main one and one more."""

_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def share_heaps_between_threads(heaps: int = HEAPS) -> bool:
    """Limit glibc to ``heaps`` heaps for the threads this process starts from now on; whether it was set.

    Call it once when a server starts, before its thread pools. Elsewhere than Linux with glibc it
    does nothing (``False``).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_ARENA_MAX, heaps) == 1
