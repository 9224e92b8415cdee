"""Freed heap handed back to the system (vidseek.memory), as opening a big index and a server switching
generations do: without it a process stays at its high-water mark."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from vidseek.memory import release_memory

# In a fresh process: large blocks freed between small ones that stay leave holes that glibc keeps (its heap
# cannot shrink past the small blocks), as the codes parts' temporary arrays did when an index was opened.
HOLES = """
import numpy as np
from vidseek.memory import release_memory
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) // 1024
big = np.ones(16 << 20, np.uint8); del big  # a freed mmapped block: the mmap threshold grows past 8 MB
blocks = []
for _ in range(24):
    blocks += [np.ones(8 << 20, np.uint8), np.ones(200_000, np.uint8)]
del blocks[0::2]
before = rss()
released = release_memory()
print(released, before, rss())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
                    reason="malloc_trim is glibc's")
def test_freed_heap_goes_back_to_the_system():
    out = subprocess.run([sys.executable, "-c", HOLES], capture_output=True, text=True, check=True).stdout.split()
    released, before, after = out[0] == "True", int(out[1]), int(out[2])
    assert released
    assert before - after >= 150, (before, after)  # 192 MB of holes; measured here: 226 -> 34 MB


def test_release_memory_runs_anywhere():
    assert release_memory(collect=False) in (True, False)
