"""The default cap on kernels, derived from memory, and the page a visitor gets beyond it."""

from __future__ import annotations

import pytest

from digitwidgets.server.capacity import (
    DASHBOARD_KERNEL_BYTES,
    TEMPLATES_BYTES,
    available_cpus,
    available_memory_bytes,
    cgroup_cpu_limit,
    cgroup_memory_limit_bytes,
    default_max_kernels,
    physical_memory_bytes,
)
from digitwidgets.server.full_page import full_message, render_full_page

GB = 1000**3
GIB = 1024**3


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        # (memory - 1 GiB reserve) * 0.8 / 0.9 GB per kernel, rounded down
        (24 * GIB, 21),
        (16 * GIB, 14),
        (8 * GIB, 6),
        # a 2 GB Binder or JupyterHub server still serves its one visitor
        (2 * GB, 1),
        (1 * GB, 1),
    ],
)
def test_default_cap_leaves_a_reserve_and_headroom(memory, expected):
    assert default_max_kernels(memory) == expected
    assert default_max_kernels(memory) * DASHBOARD_KERNEL_BYTES <= max(memory, 1 * GB)


def test_default_cap_follows_the_kernel_size_reserve_and_share():
    assert default_max_kernels(10 * GB, kernel_bytes=1 * GB, reserve_bytes=0, share=1.0) == 10
    assert default_max_kernels(10 * GB, kernel_bytes=2 * GB, reserve_bytes=0, share=1.0) == 5
    assert default_max_kernels(10 * GB, kernel_bytes=1 * GB, reserve_bytes=2 * GB, share=0.5) == 4


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        # (memory - 1 GiB reserve - 0.7 GB of templates) * 0.8 / 0.9 GB per kernel: one
        # kernel fewer than without templates (14 and 10)
        (16 * GIB, 13),
        (12 * GIB, 9),
        (2 * GB, 1),  # a Binder session: its one visitor still
    ],
)
def test_the_kernel_templates_memory_is_kept_out_of_the_kernels_budget(memory, expected):
    assert default_max_kernels(memory, templates_bytes=TEMPLATES_BYTES) == expected
    kernels = default_max_kernels(10 * GB, kernel_bytes=GB, reserve_bytes=0, share=1.0)
    assert (
        default_max_kernels(
            10 * GB, kernel_bytes=GB, reserve_bytes=0, share=1.0, templates_bytes=3 * GB
        )
        == kernels - 3
    )


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [
        (2, 8),  # this 2-processor machine: 4 per processor, fewer than 24 GiB's 21
        (1, 4),
        (8, 21),  # 8 processors: memory is the tighter bound again
        (None, 21),  # processors not given: memory alone
    ],
)
def test_default_cap_holds_a_few_kernels_per_processor(cpus, expected):
    assert default_max_kernels(24 * GIB, cpus=cpus) == expected
    assert default_max_kernels(24 * GIB, cpus=2, kernels_per_cpu=0) == 21


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_bytes": GB, "cpus": 0},
        {"memory_bytes": GB, "cpus": 2, "kernels_per_cpu": -1},
        {"memory_bytes": 0},
        {"memory_bytes": -1},
        {"memory_bytes": GB, "kernel_bytes": 0},
        {"memory_bytes": GB, "reserve_bytes": -1},
        {"memory_bytes": GB, "templates_bytes": -1},
        {"memory_bytes": GB, "share": 0},
        {"memory_bytes": GB, "share": 1.5},
    ],
)
def test_default_cap_refuses_bad_input_clearly(kwargs):
    with pytest.raises(ValueError, match="must|cannot"):
        default_max_kernels(**kwargs)


def own_group(tmp_path, line: str):
    proc = tmp_path / "proc-cgroup"
    proc.write_text(line)
    return proc


def test_cgroup_v2_limit_of_a_container_is_read_at_the_root(tmp_path):
    (tmp_path / "memory.max").write_text("2147483648\n")
    assert cgroup_memory_limit_bytes(tmp_path, own_group(tmp_path, "0::/\n")) == 2 * GIB


def test_cgroup_v2_limit_of_a_systemd_service_is_found_in_its_own_group(tmp_path):
    service = tmp_path / "system.slice" / "digitwidgets-voila.service"
    service.mkdir(parents=True)
    (service / "memory.max").write_text(str(12 * GIB))
    (tmp_path / "system.slice" / "memory.max").write_text("max\n")
    proc = own_group(tmp_path, "0::/system.slice/digitwidgets-voila.service\n")
    assert cgroup_memory_limit_bytes(tmp_path, proc) == 12 * GIB
    # A tighter limit on a group above it wins.
    (tmp_path / "system.slice" / "memory.max").write_text(str(8 * GIB))
    assert cgroup_memory_limit_bytes(tmp_path, proc) == 8 * GIB


def test_cgroup_without_a_limit_means_none(tmp_path):
    (tmp_path / "memory.max").write_text("max\n")
    proc = own_group(tmp_path, "0::/\n")
    assert cgroup_memory_limit_bytes(tmp_path, proc) is None
    assert cgroup_memory_limit_bytes(tmp_path / "absent", tmp_path / "no-proc") is None


def test_cgroup_v1_limit_is_read_and_its_unlimited_value_ignored(tmp_path):
    v1 = tmp_path / "memory"
    v1.mkdir()
    proc = own_group(tmp_path, "4:memory:/\n0::/\n")
    (v1 / "memory.limit_in_bytes").write_text(str(3 * GIB))
    assert cgroup_memory_limit_bytes(tmp_path, proc) == 3 * GIB
    (v1 / "memory.limit_in_bytes").write_text("9223372036854771712")
    assert cgroup_memory_limit_bytes(tmp_path, proc) is None
    # A hybrid host: the limit sits on this process's own v1 memory group.
    (v1 / "jobs" / "one").mkdir(parents=True)
    (v1 / "jobs" / "one" / "memory.limit_in_bytes").write_text(str(5 * GIB))
    proc = own_group(tmp_path, "4:memory:/jobs/one\n0::/\n")
    assert cgroup_memory_limit_bytes(tmp_path, proc) == 5 * GIB


def test_cgroup_cpu_quota_is_read_in_v2_and_v1(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(tmp_path, own_group(tmp_path, "0::/\n")) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path, own_group(tmp_path, "0::/\n")) is None
    v1 = tmp_path / "cpu" / "jobs"
    v1.mkdir(parents=True)
    (v1 / "cpu.cfs_quota_us").write_text("200000\n")
    (v1 / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path, own_group(tmp_path, "3:cpu,cpuacct:/jobs\n0::/\n")) == 2.0
    (v1 / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(tmp_path, own_group(tmp_path, "3:cpu,cpuacct:/jobs\n0::/\n")) is None


def test_available_cpus_is_at_least_one_and_at_most_the_machines():
    import os

    assert 1 <= available_cpus() <= (os.cpu_count() or 1)


def test_available_memory_is_at_most_the_machines():
    assert 0 < available_memory_bytes() <= physical_memory_bytes()


def test_full_message_counts_people_and_says_when_to_come_back():
    assert full_message(1, 60) == (
        "The dashboard is full right now: 1 person is using it. Try again in a minute."
    )
    assert full_message(12, 60) == (
        "The dashboard is full right now: 12 people are using it. Try again in a minute."
    )
    assert full_message(3, 20).endswith("Try again in 20 seconds.")


def test_full_page_is_self_contained_and_escapes_the_address():
    page = render_full_page(4, 60, '/digits/?token=a"b<c>')
    assert "The dashboard is full right now" in page
    assert "4 people are using it. Try again in a minute." in page
    assert 'href="/digits/?token=a&quot;b&lt;c&gt;"' in page
    assert "<script" not in page
    assert "http://" not in page and "https://" not in page
