"""Keep a long-running server's memory flat: large arrays go back to the system when freed.

glibc serves allocations above a threshold with their own memory maps, unmapped on free. The
threshold starts at 128 KB but rises to the size of each such block freed (up to 32 MB), so after a
few photos every 1-30 MB image a server draws comes from a thread's heap instead, and a heap keeps
what it once held: a server whose threads draw outputs grows by hundreds of MB over a few hundred
requests. Fixing the threshold keeps every image at or above it in its own map.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

LARGE_ARRAY_BYTES = 1 << 20
"""Allocations of this size and more are mapped on their own (a 1024x680 RGB photo is 2 MB)."""

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def return_large_arrays_to_the_system(threshold: int = LARGE_ARRAY_BYTES) -> bool:
    """Fix glibc's memory-map threshold at ``threshold`` bytes for this process; whether it was set.

    Call it once when a server starts. Elsewhere than Linux with glibc it does nothing (``False``).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # another C library (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, threshold) == 1
