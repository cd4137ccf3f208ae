"""Handing a finished run's memory back to the system."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys


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
