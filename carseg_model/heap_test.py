import subprocess
import sys

import pytest

CHILD = """
import ctypes, os, tempfile, threading
import numpy as np
from carseg_model.heap import share_heaps_between_threads
if {limited}:
    assert share_heaps_between_threads()
together = threading.Barrier(8)

def draw():
    for _ in range(20):
        together.wait()  # eight threads allocating at once: glibc would give each a heap
        images = [np.ones(100_000, np.uint8) for _ in range(10)]
        del images

threads = [threading.Thread(target=draw) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype, libc.fopen.argtypes = ctypes.c_void_p, (ctypes.c_char_p, ctypes.c_char_p)
path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
report = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(report))
libc.fclose(ctypes.c_void_p(report))
print(open(path).read().count("<heap nr="))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_threads_share_two_heaps_once_limited():
    def heaps(limited: bool) -> int:
        code = CHILD.format(limited=limited)
        return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)

    assert heaps(limited=True) <= 2
    assert heaps(limited=False) > 2  # glibc's default: what the limit is for
