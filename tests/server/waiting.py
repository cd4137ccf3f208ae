"""Bounded waits on events for the server tests: a process's end, a condition, a coroutine.

A process's end is read from its pidfd (Linux), which becomes readable when the process
ends, zombie or reaped, child of this process or not. A condition that no file descriptor
announces (a pid file written, a counter of the kernel manager) is checked every 20 ms until
it holds or the time is up, and the test fails then: the time bounds the wait, it is not the
event waited for.
"""

from __future__ import annotations

import asyncio
import os
import select
import threading
import time

CHECK_EVERY_S = 0.02


def ended(pid: int, timeout: float = 30.0) -> bool:
    """Whether process ``pid`` ends (or is a zombie) within ``timeout`` seconds."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(pidfd)


def wait_until(condition, what: str, timeout: float = 60.0) -> None:
    """Return once ``condition()`` holds; fail the test, naming ``what``, after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        threading.Event().wait(CHECK_EVERY_S)


async def until(condition, what: str, timeout: float = 60.0) -> None:
    """:func:`wait_until` for a coroutine: the event loop runs meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        await asyncio.sleep(CHECK_EVERY_S)


def run(coroutine, timeout: float = 480.0):
    """Run a test's coroutine on a fresh event loop in a thread of its own, bounded in time.

    A thread of its own: the browser tests' session-wide Playwright keeps an event loop
    running in the main thread, where ``asyncio.run`` refuses to start another.
    """
    outcome = {}

    def target():
        try:
            outcome["value"] = asyncio.run(asyncio.wait_for(coroutine, timeout))
        except BaseException as error:  # noqa: BLE001 - raised again in the test's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="server-test-loop")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
