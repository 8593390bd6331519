import subprocess
import sys

import pytest

CHILD = """
import resource
import numpy as np
from carseg_model.heap import return_large_arrays_to_the_system
if {fixed}:
    assert return_large_arrays_to_the_system()
for size in range(2_000_000, 40_000_000, 2_000_000):  # freed blocks of growing size raise glibc's threshold
    np.ones(size, np.uint8)
before = int(open("/proc/self/statm").read().split()[1])
kept = [np.ones(3_000_000, np.uint8) for _ in range(20)]  # 60 MB of 3 MB images, then freed
del kept
after = int(open("/proc/self/statm").read().split()[1])
print((after - before) * resource.getpagesize() // 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_images_go_back_to_the_system_once_the_threshold_is_fixed():
    def resident_growth_mb(fixed: bool) -> int:
        code = CHILD.format(fixed=fixed)
        return int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)

    assert resident_growth_mb(fixed=True) < 10
    assert resident_growth_mb(fixed=False) > 40  # glibc's default keeps them: what the fix is for
