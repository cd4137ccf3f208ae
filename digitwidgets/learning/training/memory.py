"""Handing a finished run's memory back to the system."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys

# A run that grew the process by less than this leaves nothing worth a full collection
# (0.1-0.2 s of processor time in a kernel holding TensorFlow and the page's widgets).
WORTH_RELEASING = 64 * 2**20


def release_memory() -> None:
    """Hand memory freed by a finished run back to the system, so the next starts lower.

    glibc keeps freed heap pages for reuse; without ``malloc_trim`` a kernel's second training
    starts from the first one's peak. Elsewhere only the garbage collection is done.
    """
    gc.collect()
    if sys.platform.startswith("linux"):
        # Not glibc (musl, for one): nothing to trim with.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6").malloc_trim(0)


def resident_bytes() -> int:
    """The process's resident memory now (Linux; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def release_memory_if_grown(resident_before: int) -> bool:
    """``release_memory()`` if the process grew by ``WORTH_RELEASING`` since
    ``resident_before`` (``resident_bytes()`` taken then), or if it cannot tell."""
    now = resident_bytes()
    if now and resident_before and now - resident_before < WORTH_RELEASING:
        return False
    release_memory()
    return True
