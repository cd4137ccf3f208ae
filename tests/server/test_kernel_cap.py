"""The kernel manager's cap on live kernels and its release of kernels nobody connected to.

Real (plain ``python3``) kernels, started and stopped by the manager the dashboard's server
uses; only the dashboard itself is left out, so each kernel costs a few tens of MB.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from traitlets import TraitError
from traitlets.config import Config

from digitwidgets.server.capacity import TEMPLATES_BYTES
from digitwidgets.server.forking import SWITCH
from digitwidgets.server.kernels import CappedKernelManager, DashboardFull
from tests.server.waiting import run, until

START_TIMEOUT = 120


@pytest.fixture(autouse=True)
def connection_files_in_tmp(tmp_path, monkeypatch):
    """Kernels' connection files go to the test's folder, not the working directory."""
    monkeypatch.chdir(tmp_path)


def manager(**config) -> CappedKernelManager:
    """A manager with the given settings; no background release unless a test asks for it.

    Starts take no turns unless a test asks for them: a kernel nobody connects to says
    "starting" until the turn's 20 s limit, which only the test of turns needs to wait for.
    """
    config.setdefault("release_unconnected_after", 0)
    config.setdefault("starts_at_once", 8)
    config.setdefault("connection_dir", os.getcwd())
    return CappedKernelManager(**config)


async def start(km: CappedKernelManager, preheat: bool = False) -> str:
    env = {"VOILA_PREHEAT": "True"} if preheat else {}
    return await asyncio.wait_for(
        km.start_kernel(kernel_name="python3", env=env), timeout=START_TIMEOUT
    )


def test_a_start_beyond_the_cap_is_refused_and_running_kernels_stay():
    async def scenario():
        km = manager(max_kernels=2, retry_after=30)
        try:
            first, second = await start(km), await start(km)
            assert km.occupied() == 2 and not km.has_room() and not km.admits_visitor()
            with pytest.raises(DashboardFull) as refused:
                await start(km)
            assert refused.value.status_code == 503
            assert refused.value.retry_after == 30
            assert "2 people are using it" in refused.value.log_message
            assert set(km.list_kernel_ids()) == {first, second}
            await km.shutdown_kernel(first)
            assert km.has_room()
            third = await start(km)
            assert set(km.list_kernel_ids()) == {second, third}
        finally:
            await km.shutdown_all()
        assert km.list_kernel_ids() == []

    run(scenario())


def test_a_preheat_start_waits_for_room_instead_of_failing():
    async def scenario():
        km = manager(max_kernels=1)
        try:
            visitor = await start(km)
            refill = asyncio.ensure_future(start(km, preheat=True))
            await until(lambda: km.waiting_for_room == 1, "the refill waits for room")
            # It has not begun starting a kernel beyond the cap.
            assert not refill.done()
            assert km.occupied() == 1 and km.list_kernel_ids() == [visitor]
            await km.shutdown_kernel(visitor)
            pooled = await asyncio.wait_for(refill, timeout=START_TIMEOUT)
            assert km.list_kernel_ids() == [pooled]
        finally:
            await km.shutdown_all()

    run(scenario())


def test_shutting_the_server_down_ends_a_start_that_waits_for_room():
    async def scenario():
        km = manager(max_kernels=1)
        await start(km)
        refill = asyncio.ensure_future(start(km, preheat=True))
        await until(lambda: km.waiting_for_room == 1, "the refill waits for room")
        await km.shutdown_all()
        with pytest.raises(RuntimeError, match="shutting down"):
            await asyncio.wait_for(refill, timeout=30)
        assert km.list_kernel_ids() == []

    run(scenario())


def test_only_kernels_nobody_connected_to_are_released_after_the_release_time():
    async def scenario():
        km = manager(max_kernels=3, release_unconnected_after=60)
        try:
            connected, unclaimed = await start(km), await start(km)
            km.notify_connect(connected)
            now = time.time()
            # First sight starts the clock; nothing is released before the release time.
            assert await km.release_unconnected(now) == []
            assert await km.release_unconnected(now + 30) == []
            assert await km.release_unconnected(now + 600) == [unclaimed]
            assert km.list_kernel_ids() == [connected]
            # A page that connected and left keeps its kernel for the idle cull (or its own
            # shutdown on close), not for this release.
            km.notify_disconnect(connected)
            assert await km.release_unconnected(now + 6000) == []
        finally:
            await km.shutdown_all()

    run(scenario())


def test_a_start_waits_until_the_kernel_before_it_has_run_its_notebook(tmp_path):
    done = tmp_path / "notebook-done"

    async def scenario():
        km = manager(max_kernels=4, starts_at_once=1)
        client = None
        try:
            first = await start(km)
            # The first kernel runs "its notebook", as Voila makes it: busy until told to end.
            client = km.get_kernel(first).client()
            client.start_channels()
            await client.wait_for_ready(timeout=START_TIMEOUT)
            message_id = client.execute(
                f"import os, time\nwhile not os.path.exists({str(done)!r}):\n    time.sleep(0.02)"
            )
            second = asyncio.ensure_future(start(km))
            started_while_busy = []
            second.add_done_callback(lambda _: started_while_busy.append(not done.exists()))
            await until(lambda: km.waiting_for_turn == 1, "the second start waits its turn")
            assert km.list_kernel_ids() == [first], "the second kernel started beside the first"
            assert km.planned() == 2, "a start waiting its turn still holds its place"
            done.touch()  # the first kernel's "notebook" ends
            while True:
                reply = await client.get_shell_msg(timeout=START_TIMEOUT)
                if reply["parent_header"].get("msg_id") == message_id:
                    break
            await asyncio.wait_for(second, START_TIMEOUT)
            assert started_while_busy == [False], "the second start did not wait for the first"
            assert len(km.list_kernel_ids()) == 2
        finally:
            if client is not None:
                client.stop_channels()
            await km.shutdown_all()

    run(scenario())


def test_turns_are_derived_from_the_processors_unless_set():
    assert manager(starts_at_once=0).start_turns >= 1
    assert manager(starts_at_once=3).start_turns == 3


def test_a_zero_cap_means_the_cap_is_derived_from_memory():
    km = manager()
    assert km.max_kernels == 0
    assert km.kernel_cap >= 1
    assert manager(max_kernels=5).kernel_cap == 5


FORKING = Config({"KernelProvisionerFactory": {"default_provisioner_name": "digitwidgets-forking"}})


@pytest.mark.parametrize(
    ("config", "switch", "counted"),
    [
        ({"config": FORKING}, "1", TEMPLATES_BYTES),
        ({"start_kernel_template": True}, "1", TEMPLATES_BYTES),
        ({"config": FORKING, "template_memory": 123}, "1", 123),
        ({}, "1", 0),  # kernels launched anew: no templates
        ({"config": FORKING}, "0", 0),  # DIGITWIDGETS_FORK_KERNELS=0: no templates
    ],
)
def test_the_templates_memory_counts_where_kernels_are_forked(monkeypatch, config, switch, counted):
    monkeypatch.setenv(SWITCH, switch)
    monkeypatch.setattr("digitwidgets.server.kernels.Template.start", lambda self: None)
    assert manager(**config).templates_bytes == counted


def test_the_templates_memory_lowers_the_derived_cap(monkeypatch):
    gb = 1000**3
    monkeypatch.setattr("digitwidgets.server.kernels.available_memory_bytes", lambda: 8 * gb)
    monkeypatch.setattr("digitwidgets.server.kernels.available_cpus", lambda: 16)
    launched = manager(kernel_memory=gb, memory_reserve=0, template_memory=2 * gb)
    forked = manager(config=FORKING, kernel_memory=gb, memory_reserve=0, template_memory=2 * gb)
    assert launched.kernel_cap == 6  # 0.8 * 8 GB / 1 GB
    assert forked.kernel_cap == 4  # 0.8 * (8 - 2) GB / 1 GB


@pytest.mark.parametrize(
    "config",
    [
        {"max_kernels": -1},
        {"retry_after": -5},
        {"kernel_memory": 0},
        {"release_unconnected_after": -1.0},
        {"starts_at_once": -1},
        {"template_memory": -1},
    ],
)
def test_bad_settings_are_refused(config):
    with pytest.raises(TraitError):
        manager(**config)
