"""How many dashboard kernels a machine can hold: its memory, its processors, the default cap.

Pure functions of numbers the operating system reports, so the cap's default can be checked
without a server.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

#: Resident memory of one dashboard kernel that a visitor has trained in several times on
#: full-size MNIST: it levels off near 0.88 GB (``bench/bench_kernel_memory.py``, figures in
#: ``docs/deploy.md``). An idle kernel holds about 0.6 GB, so this is the cautious figure.
DASHBOARD_KERNEL_BYTES = 900 * 1000**2

#: Kept out of the kernels' budget: the operating system and the server itself (about 0.1 GB).
SYSTEM_RESERVE_BYTES = 1024**3

#: Resident memory of the kernel templates (``digitwidgets.server.forking``), once per server
#: that forks its kernels: the full template's 657 MB resident plus the light template's own
#: 20 MB, measured once the full one was ready (``docs/deploy.md``). Kept out of the kernels'
#: budget as the reserve is.
TEMPLATES_BYTES = 700 * 1000**2

#: Share of what remains that kernels may plan on; the rest is headroom for page caches,
#: a kernel that grows past the measured size and whatever else runs on the machine.
KERNEL_SHARE = 0.8

#: Kernels per processor. Each new kernel costs a few seconds of processor time (the notebook
#: runs, the pretrained model loads), and a burst of page loads starts many at once: on this
#: 2-processor machine a burst at a cap of 21 (what 24 GB holds) made the drawing page's
#: mouse-up-to-digit p95 19 s, and at a cap of 8 it stayed at 0.43 s
#: (``bench/bench_crowd.py``, figures in ``docs/deploy.md``).
KERNELS_PER_CPU = 4

_UNLIMITED = 1 << 60


def _read_int(path: Path) -> int | None:
    """The integer in a one-line cgroup file, or None when absent, unreadable or "max"."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():
        return None
    return int(text)


def physical_memory_bytes() -> int:
    """The machine's physical memory in bytes, from ``sysconf``."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _own_cgroup_paths(proc_cgroup: Path, controller: str = "memory") -> tuple[str, str]:
    """This process's cgroup v2 path and cgroup v1 path for ``controller`` ("/" if unknown)."""
    v2 = v1 = "/"
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return v2, v1
    for line in lines:
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and not controllers:
            v2 = path.strip() or "/"
        elif controller in controllers.split(","):
            v1 = path.strip() or "/"
    return v2, v1


def _limits_up_from(base: Path, group: str, name: str) -> list[int]:
    """The limits in ``name`` of ``group`` and every group above it, under ``base``."""
    own = Path(group.lstrip("/"))
    found = (_read_int(base / part / name) for part in [own, *own.parents])
    return [limit for limit in found if limit is not None]


def cgroup_memory_limit_bytes(
    root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")
) -> int | None:
    """The tightest memory limit on this process's control group, or None when it has none.

    A container (Binder, Kubernetes) or a systemd unit with ``MemoryMax=`` sees the whole
    host's memory through ``sysconf`` but may use only its limit. Reads cgroup v2
    ``memory.max`` and cgroup v1 ``memory/.../memory.limit_in_bytes`` of this process's own
    group and of each group above it (a systemd service sees the host's hierarchy; a
    container sees its own at the root).
    """
    v2_group, v1_group = _own_cgroup_paths(proc_cgroup)
    limits = _limits_up_from(root, v2_group, "memory.max")
    limits += _limits_up_from(root / "memory", v1_group, "memory.limit_in_bytes")
    limits = [limit for limit in limits if limit < _UNLIMITED]
    return min(limits) if limits else None


def cgroup_cpu_limit(
    root: Path = Path("/sys/fs/cgroup"), proc_cgroup: Path = Path("/proc/self/cgroup")
) -> float | None:
    """The processors this process's control group may use (quota / period), or None.

    Reads cgroup v2 ``cpu.max`` ("quota period", or "max") and cgroup v1
    ``cpu/.../cpu.cfs_quota_us`` with ``cpu.cfs_period_us`` (-1: none) of this process's group
    and each group above it, and returns the tightest.
    """
    v2_group, v1_group = _own_cgroup_paths(proc_cgroup, controller="cpu")
    limits = []
    own = Path(v2_group.lstrip("/"))
    for part in [own, *own.parents]:
        try:
            fields = (root / part / "cpu.max").read_text().split()
        except OSError:
            continue
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit() and int(fields[1]):
            limits.append(int(fields[0]) / int(fields[1]))
    own = Path(v1_group.lstrip("/"))
    for part in [own, *own.parents]:
        quota = _read_int(root / "cpu" / part / "cpu.cfs_quota_us")
        period = _read_int(root / "cpu" / part / "cpu.cfs_period_us")
        if quota and period:
            limits.append(quota / period)
    return min(limits) if limits else None


def available_cpus() -> int:
    """Processors this server may use: its affinity, or its control group's quota if lower."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        cpus = min(cpus, max(1, math.ceil(limit)))
    return max(1, cpus)


def available_memory_bytes() -> int:
    """The memory this server may use: the machine's, or its control group's limit if lower."""
    physical = physical_memory_bytes()
    limit = cgroup_memory_limit_bytes()
    return physical if limit is None else min(physical, limit)


def default_max_kernels(
    memory_bytes: int,
    kernel_bytes: int = DASHBOARD_KERNEL_BYTES,
    reserve_bytes: int = SYSTEM_RESERVE_BYTES,
    share: float = KERNEL_SHARE,
    *,
    cpus: int | None = None,
    kernels_per_cpu: int = KERNELS_PER_CPU,
    templates_bytes: int = 0,
) -> int:
    """How many kernels fit: ``share`` of (memory minus the reserve and the kernel templates'
    ``templates_bytes``), divided by one kernel, and, given ``cpus``, no more than
    ``kernels_per_cpu`` per processor (0: no such bound).

    Never less than 1, so that even a 2 GB Binder session serves its one visitor.
    Bad input (no memory, a kernel of no size, a share outside (0, 1]) raises ``ValueError``.
    """
    if memory_bytes <= 0:
        raise ValueError(f"memory must be positive, got {memory_bytes} bytes")
    if kernel_bytes <= 0:
        raise ValueError(f"a kernel's size must be positive, got {kernel_bytes} bytes")
    if reserve_bytes < 0:
        raise ValueError(f"the reserve cannot be negative, got {reserve_bytes} bytes")
    if templates_bytes < 0:
        raise ValueError(f"the templates' memory cannot be negative, got {templates_bytes} bytes")
    if not 0 < share <= 1:
        raise ValueError(f"the kernels' share of memory must be in (0, 1], got {share}")
    if cpus is not None and cpus <= 0:
        raise ValueError(f"processors must be positive, got {cpus}")
    if kernels_per_cpu < 0:
        raise ValueError(f"kernels per processor cannot be negative, got {kernels_per_cpu}")
    budget = (memory_bytes - reserve_bytes - templates_bytes) * share
    cap = int(budget // kernel_bytes)
    if cpus is not None and kernels_per_cpu:
        cap = min(cap, cpus * kernels_per_cpu)
    return max(1, cap)
