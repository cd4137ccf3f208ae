"""A kernel manager that caps live kernels and releases kernels whose page never connects.

Every page load makes Voila start a kernel (about 0.65 GB for the dashboard) whether or not a
browser ever opens its websocket. :class:`CappedKernelManager` is named from the server's
configuration and keeps that bounded:

- **A cap on live kernels** (``max_kernels``; by default what the machine's memory holds,
  less the kernel templates' where kernels are forked, see
  :mod:`digitwidgets.server.capacity`). A page load beyond it gets the small "full" page
  (HTTP 503, ``Retry-After``) instead of a kernel; kernels already running are never
  touched. Voila's preheated kernels count too: refilling the pool waits for room.
- **One start at a time** (``starts_at_once``; by default half the processors, at least
  one): a new kernel waits until the one before it has run its page's notebook, so a burst
  of page loads uses one processor for its starts and leaves the others to the pages in use.
- **The kernel template starts with the server** (``start_kernel_template``, set in
  ``voila.json`` and ``binder/jupyter-config``): the first visitor's kernel is then forked from it
  (:mod:`digitwidgets.server.forking`) rather than launched anew.
- **Kernels nobody connects to are released** ``release_unconnected_after`` seconds (30 by
  default) after their page was served, instead of after the 30-minute idle cull. A kernel
  whose page connected once keeps the usual behaviour: closing the page shuts it down, and
  the idle cull applies.

Standalone Voila (``VoilaConfiguration.multi_kernel_manager_class``) wraps this class in its
own pool manager; under the Voila server extension (Binder, JupyterHub) it is the server's
``ServerApp.kernel_manager_class``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from jupyter_server.base.call_context import CallContext
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError
from traitlets import Bool, Float, Int, TraitError, validate

from ..page_query import PREHEAT_VARIABLE  # how Voila marks the kernels of its pool
from .capacity import (
    DASHBOARD_KERNEL_BYTES,
    KERNELS_PER_CPU,
    SYSTEM_RESERVE_BYTES,
    TEMPLATES_BYTES,
    available_cpus,
    available_memory_bytes,
    default_max_kernels,
)
from .forking import Template, forking_enabled
from .full_page import FULL_STATUS, full_message, send_full_page

FORKING_PROVISIONER = "digitwidgets-forking"  # the entry point of forking.ForkingProvisioner


class DashboardFull(HTTPError):
    """No room for another kernel: the server holds ``max_kernels`` already."""

    def __init__(self, visitors: int, retry_after: int):
        super().__init__(FULL_STATUS, full_message(visitors, retry_after), reason="Dashboard full")
        self.visitors = visitors
        self.retry_after = retry_after


def is_page_handler(handler) -> bool:
    """Whether ``handler`` serves a Voila page (standalone or the server extension)."""
    try:
        from voila.handler import VoilaHandler
    except ImportError:  # a Jupyter server without Voila: only API requests start kernels
        return False
    return isinstance(handler, VoilaHandler)


class CappedKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager with a cap on live kernels and a short life for unclaimed ones."""

    max_kernels = Int(
        0,
        config=True,
        help=(
            "Most kernels alive at once, preheated ones included; 0 derives it from the "
            "memory this server may use (kernel_memory, memory_reserve) and its processors "
            "(kernels_per_cpu)."
        ),
    )
    kernel_memory = Int(
        DASHBOARD_KERNEL_BYTES,
        config=True,
        help="Bytes one dashboard kernel may grow to (bench/bench_kernel_memory.py measures it).",
    )
    memory_reserve = Int(
        SYSTEM_RESERVE_BYTES,
        config=True,
        help="Bytes kept for the system and the server when max_kernels is derived.",
    )
    template_memory = Int(
        TEMPLATES_BYTES,
        config=True,
        help=(
            "Bytes the kernel templates hold, once per server, where kernels are forked from "
            "them (the digitwidgets-forking provisioner): kept out of the kernels' memory "
            "when max_kernels is derived."
        ),
    )
    kernels_per_cpu = Int(
        KERNELS_PER_CPU,
        config=True,
        help=(
            "When max_kernels is derived, at most this many kernels per processor: a burst "
            "of kernels starting at once must not starve the pages in use; 0: memory only."
        ),
    )
    release_unconnected_after = Float(
        30.0,
        config=True,
        help=(
            "Seconds a kernel whose page was served but never opened its websocket may stay "
            "quiet before it is shut down; 0 turns the release off."
        ),
    )
    starts_at_once = Int(
        0,
        config=True,
        help=(
            "Kernels that may start and run the notebook for their page at the same time; "
            "the others wait their turn (a few seconds each). 0 derives it: half the "
            "processors, at least 1. A burst of page loads then cannot take the processors "
            "from the pages already in use."
        ),
    )
    retry_after = Int(
        60,
        config=True,
        help="Seconds a visitor turned away is asked to wait (the Retry-After header).",
    )
    start_kernel_template = Bool(
        False,
        config=True,
        help=(
            "Start the kernel template with the server, where kernels are forked (the "
            "digitwidgets-forking provisioner), so that the first visitor's kernel is forked "
            "too: on a Binder or JupyterHub server that visitor arrives as it starts."
        ),
    )

    @validate("max_kernels", "retry_after", "kernels_per_cpu", "starts_at_once", "template_memory")
    def _not_negative(self, proposal):
        if proposal.value < 0:
            raise TraitError(f"{proposal.trait.name} cannot be negative, got {proposal.value}")
        return proposal.value

    @validate("kernel_memory")
    def _positive_size(self, proposal):
        if proposal.value <= 0:
            raise TraitError(f"kernel_memory must be positive, got {proposal.value}")
        return proposal.value

    @validate("release_unconnected_after")
    def _not_negative_time(self, proposal):
        if proposal.value < 0:
            raise TraitError(f"release_unconnected_after cannot be negative, got {proposal.value}")
        return proposal.value

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._starting = 0
        self._tracked: set[str] = set()
        self._connected_once: set[str] = set()
        self._claimed_since: dict[str, float] = {}
        self._room = asyncio.Condition()
        self._closing = False
        self._release_task: asyncio.Task | None = None
        self._turns: asyncio.Semaphore | None = None
        self._first_runs: set[asyncio.Task] = set()
        self._waiting_for_room = self._waiting_for_turn = 0
        self.log.info(
            "digitwidgets: kernel cap %d (kernel templates' %.2f GB kept out of its memory); "
            "unconnected kernels released after %g s",
            self.kernel_cap,
            self.templates_bytes / 1e9,
            self.release_unconnected_after,
        )
        if self.start_kernel_template and forking_enabled():
            Template.shared().start()

    # --- counting -------------------------------------------------------------------------

    @property
    def kernel_cap(self) -> int:
        """The cap in force: ``max_kernels``, or what this machine's memory and processors hold."""
        if self.max_kernels:
            return self.max_kernels
        return default_max_kernels(
            available_memory_bytes(),
            self.kernel_memory,
            self.memory_reserve,
            cpus=available_cpus(),
            kernels_per_cpu=self.kernels_per_cpu,
            templates_bytes=self.templates_bytes,
        )

    @property
    def templates_bytes(self) -> int:
        """The kernel templates' memory: ``template_memory`` where this server forks its
        kernels (the forking provisioner configured, or the template started with the
        server), else 0."""
        if not forking_enabled():
            return 0
        factory = self.config.get("KernelProvisionerFactory") or {}
        forking = factory.get("default_provisioner_name") == FORKING_PROVISIONER
        return self.template_memory if forking or self.start_kernel_template else 0

    @property
    def waiting_for_room(self) -> int:
        """Preheating starts that wait for a kernel to end (the cap is reached)."""
        return self._waiting_for_room

    @property
    def waiting_for_turn(self) -> int:
        """Starts that wait for the kernel before them to run its notebook (``starts_at_once``)."""
        return self._waiting_for_turn

    def occupied(self) -> int:
        """Kernels alive or starting, preheated ones included."""
        alive = self._tracked.intersection(self.list_kernel_ids())
        return len(alive) + self._starting

    def _pool_tasks(self):
        # Voila's pool manager subclasses this class and keeps its pool here; it reads it the
        # same way to spare pooled kernels from the idle cull.
        for pool in getattr(self, "_pools", {}).values():
            yield from pool

    def pooled_kernel_ids(self) -> set[str]:
        """Kernels that Voila's pool holds ready for the next visitor (none without a pool)."""
        ready = set()
        for task in self._pool_tasks():
            if task.done() and not task.cancelled() and task.exception() is None:
                ready.add(task.result()["kernel_id"])
        return ready & self._tracked

    def planned(self) -> int:
        """Kernels alive, starting for a page, or promised to Voila's pool (refills included).

        A pool refill may still be in its delay before it asks for a kernel; a page load that
        took that slot would leave the visitor who waits for the refill waiting for room. A
        refill that a visitor already took out of the pool is counted among the starts; one
        still in the pool and starting counts twice for a moment, which errs on the safe side.
        """
        refills = sum(1 for task in self._pool_tasks() if not task.done())
        return self.occupied() + refills

    def visitor_count(self) -> int:
        """Kernels that belong to a page: alive or starting, less the ready pooled ones."""
        return max(0, self.occupied() - len(self.pooled_kernel_ids()))

    def has_room(self) -> bool:
        """Whether one more kernel may start now (a pool refill asks this)."""
        return self.occupied() < self.kernel_cap

    def admits_visitor(self) -> bool:
        """Whether a new page load can get a kernel: a pooled one waits, or one is left."""
        return bool(self.pooled_kernel_ids()) or self.planned() < self.kernel_cap

    # --- starting and stopping ------------------------------------------------------------

    async def start_kernel(self, *args, kernel_id=None, **kwargs):
        """Start a kernel if the cap allows it.

        A page load beyond the cap gets the full page (or ``DashboardFull``, HTTP 503, for an
        API request); a kernel for Voila's pool waits for room instead, so the pool never
        holds a failed start.
        """
        if kernel_id is not None and kernel_id in self:
            return await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
        preheat = (kwargs.get("env") or {}).get(PREHEAT_VARIABLE) == "True"
        if preheat:
            await self._wait_for_room()
        elif self.planned() >= self.kernel_cap:
            self._turn_away()
        self._starting += 1
        try:
            await self._take_turn()
            try:
                started = await super().start_kernel(*args, kernel_id=kernel_id, **kwargs)
            except BaseException:
                self._turns.release()
                raise
        finally:
            self._starting -= 1
        self._pass_turn_after_first_run(started)
        self._tracked.add(started)
        self._claimed_since.pop(started, None)
        self._start_release_watch()
        return started

    # --- one start at a time ----------------------------------------------------------------

    @property
    def start_turns(self) -> int:
        """Kernels that may start at once: ``starts_at_once``, or half the processors."""
        return self.starts_at_once or max(1, available_cpus() // 2)

    async def _take_turn(self):
        if self._turns is None:  # created on the server's event loop, at its first start
            self._turns = asyncio.Semaphore(self.start_turns)
        self._waiting_for_turn += 1
        try:
            await self._turns.acquire()
        finally:
            self._waiting_for_turn -= 1

    def _pass_turn_after_first_run(self, kernel_id: str):
        task = asyncio.ensure_future(self._first_run_done(kernel_id))
        self._first_runs.add(task)
        task.add_done_callback(self._first_runs.discard)

    async def _first_run_done(self, kernel_id: str, quiet: float = 0.5, limit: float = 20.0):
        """Hand the turn on once the kernel has run its page's notebook.

        That is: busy (Voila executes the cells), then quiet for ``quiet`` seconds. A kernel
        that is idle and not busy within 3 s (one started through the API, for JupyterLab),
        one that ends, and one still busy after ``limit`` seconds hand it on too. A kernel that
        has sent no status yet counts as busy: a page's kernel can take longer than 3 s to
        boot on a loaded machine. So one nobody connects to holds the turn for ``limit``.
        """
        began = quiet_since = time.monotonic()
        busy_seen = False
        try:
            while time.monotonic() - began < limit and kernel_id in self and not self._closing:
                await asyncio.sleep(0.1)
                now = time.monotonic()
                kernel = self._kernels.get(kernel_id)
                state = getattr(kernel, "execution_state", "idle")
                if state in ("busy", "starting"):  # "starting": no status message yet
                    busy_seen, quiet_since = busy_seen or state == "busy", now
                elif now - quiet_since >= (quiet if busy_seen else 3.0):
                    break
        finally:
            self._turns.release()

    def _turn_away(self):
        visitors = self.visitor_count()
        self.log.warning(
            "digitwidgets: dashboard full (%d kernels, cap %d): page load turned away",
            self.occupied(),
            self.kernel_cap,
        )
        handler = CallContext.get(CallContext.JUPYTER_HANDLER)
        if handler is not None and is_page_handler(handler):
            send_full_page(handler, visitors, self.retry_after)
        raise DashboardFull(visitors, self.retry_after)

    async def _wait_for_room(self):
        self._waiting_for_room += 1
        try:
            await self._wait_for_room_once_told()
        finally:
            self._waiting_for_room -= 1

    async def _wait_for_room_once_told(self):
        async with self._room:
            while not self.has_room():
                if self._closing:
                    raise RuntimeError("the server is shutting down")
                # Kernels can also end without passing through shutdown_kernel (a crash),
                # so look again now and then instead of relying on a notification alone.
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._room.wait(), timeout=5.0)

    async def _notify_room(self):
        async with self._room:
            self._room.notify_all()

    def notify_connect(self, kernel_id):
        """Remember that a page opened this kernel's websocket: it is no longer unclaimed."""
        self._connected_once.add(kernel_id)
        self._claimed_since.pop(kernel_id, None)
        super().notify_connect(kernel_id)

    def _forget(self, kernel_id):
        self._tracked.discard(kernel_id)
        self._connected_once.discard(kernel_id)
        self._claimed_since.pop(kernel_id, None)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        """Shut a kernel down and let a start that waits for room go on."""
        try:
            return await super().shutdown_kernel(kernel_id, *args, **kwargs)
        finally:
            self._forget(kernel_id)
            await self._notify_room()

    def remove_kernel(self, kernel_id):
        """Forget a kernel that ended by itself."""
        self._forget(kernel_id)
        return super().remove_kernel(kernel_id)

    async def shutdown_all(self, *args, **kwargs):
        """Stop the release watch and every kernel; starts waiting for room give up."""
        self._closing = True
        if self._release_task is not None:
            self._release_task.cancel()
            self._release_task = None
        await self._notify_room()
        return await super().shutdown_all(*args, **kwargs)

    # --- releasing kernels nobody connected to --------------------------------------------

    def _start_release_watch(self):
        if self._release_task is None and self.release_unconnected_after > 0 and not self._closing:
            self._release_task = asyncio.ensure_future(self._release_watch())

    async def _release_watch(self):
        # Checked every twelfth of the release time (at most 5 s): a kernel is released at most
        # that late, which a burst's last kernels would otherwise add to the wait for memory.
        interval = min(5.0, max(1.0, self.release_unconnected_after / 12))
        while True:
            await asyncio.sleep(interval)
            try:
                await self.release_unconnected(time.time())
            except Exception:  # one bad kernel must not end the watch for the others
                self.log.exception("digitwidgets: releasing unconnected kernels failed")

    def unconnected_quiet_since(self, kernel_id: str, now: float) -> float | None:
        """Since when a kernel has been unclaimed and quiet, or None if it is not unclaimed.

        Unclaimed: alive, not in Voila's pool, and no page ever opened its websocket. The
        clock starts when the kernel was first seen out of the pool and restarts with each
        message the kernel sends (a page still being rendered keeps its kernel busy).
        """
        if kernel_id in self._connected_once or kernel_id not in self._tracked:
            return None
        if kernel_id in self.pooled_kernel_ids():
            self._claimed_since.pop(kernel_id, None)
            return None
        claimed = self._claimed_since.setdefault(kernel_id, now)
        kernel = self.get_kernel(kernel_id)
        if getattr(kernel, "execution_state", "idle") == "busy":
            return None
        activity = getattr(kernel, "last_activity", None)
        last = activity.timestamp() if activity is not None else claimed
        return max(claimed, last)

    async def release_unconnected(self, now: float) -> list[str]:
        """Shut down the kernels unclaimed and quiet for ``release_unconnected_after`` seconds."""
        released = []
        for kernel_id in list(self.list_kernel_ids()):
            since = self.unconnected_quiet_since(kernel_id, now)
            if since is None or now - since < self.release_unconnected_after:
                continue
            self.log.info(
                "digitwidgets: releasing kernel %s: its page never connected in %g s",
                kernel_id,
                now - since,
            )
            await self.shutdown_kernel(kernel_id)
            released.append(kernel_id)
        return released
