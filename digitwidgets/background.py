"""Background threads that the package starts, how their events reach listeners, and their
orderly end before the interpreter's.

Two shapes cover every background job in digitwidgets:

- ``BackgroundTask``: one job at a time on a thread of its own, the newest request winning
  (an evaluation, a fine-tuning). ``run`` returns at once; ``wait`` joins.
- ``SerialWorker``: one long-lived thread that runs submitted calls in order (the Trainer
  hands its events to one, so listeners never run on the training thread).

Two helpers carry events from them: ``Announcer``, the listeners of one source of events
(a training, a sweep, a learning-rate range test), and ``Throttle``, which thins frequent
events (a training's batches, a range test's points) on the thread that makes them, before
they cross to the worker: the hand-over, and every message a listener sends to the page
for it, is the cost, so the thinning happens once, there, and nowhere downstream. And
``one_pass`` with ``react``: one change (a new model) reaches a view along several paths
(the model, then the reading of the digit it shows); the view computes once, at the end.

The worker that reacts to a training's events runs at a lower scheduling priority than the
training (``SerialWorker(nice=...)``, Linux), so that an epoch's reactions wait for a
processor rather than take one from ``fit``.

A thread still running TensorFlow when Python finalizes kills the process with SIGABRT
("terminate called without an active exception"), so every one of them is stopped and
joined at exit: ``at_exit(callback)`` registers what must end first (a Trainer saves its run
as interrupted), then workers and tasks refuse new work and are joined. Objects are held
weakly: registering keeps nothing alive.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import math
import os
import queue
import sys
import threading
import time
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Event = TypeVar("Event")

# How much lower than the training the threads that react to its events run (Linux nice).
REACTIONS_NICE = 10

# What must end first (trainers), then every worker and task: both in registration order.
_first: dict[int, weakref.ref] = {}
_threads: weakref.WeakSet = weakref.WeakSet()
_ids = itertools.count()
_registry_lock = threading.Lock()
_closing = threading.Event()


def at_exit(callback: Callable[[], object]) -> None:
    """Call ``callback`` (a bound method, held weakly) at exit, before threads are joined."""
    ref = weakref.WeakMethod(callback) if hasattr(callback, "__self__") else weakref.ref(callback)
    with _registry_lock:
        _first[next(_ids)] = ref


def exit_steps() -> list[Callable[[], object]]:
    """The live callbacks ``at_exit`` registered, in the order they will run."""
    with _registry_lock:
        refs = [ref for _, ref in sorted(_first.items())]
    return [callback for callback in (ref() for ref in refs) if callback is not None]


def closing() -> bool:
    """Whether the interpreter is ending: no new background work is started then."""
    return _closing.is_set()


def shutdown(timeout: float = 30.0) -> None:
    """End every background thread of the package: run ``at_exit`` callbacks, then join.

    Runs when the main thread ends (before ``atexit`` handlers); safe to call again.
    """
    first = exit_steps()
    with _registry_lock:
        _first.clear()
    for callback in first:
        try:
            callback()
        except Exception:
            log.exception("Background shutdown step %r failed", callback)
    _closing.set()
    for thread_owner in list(_threads):
        thread_owner.close(timeout)


def _register_shutdown() -> None:
    # threading's exit hooks run when the main thread ends, before non-daemon threads are
    # joined and before any atexit handler: h5py's atexit handler, for one, closes the
    # library a run is saved with. concurrent.futures registers its workers' end there too.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(shutdown)
            return
        except RuntimeError:  # the interpreter is already ending
            pass
    atexit.register(shutdown)


_register_shutdown()


class BackgroundTask:
    """Runs one job at a time on a thread of its own; a newer request supersedes the older.

    ``run(job, *args, done=callback)`` starts ``job(*args)`` on a new daemon thread and
    returns its generation number. When the job returns, ``done(result, error)`` is called
    on that thread, unless a newer ``run`` started meanwhile (``current(generation)`` tells).
    """

    def __init__(self, name: str):
        """``name`` names the threads, for debuggers and logs."""
        self.name = name
        self._lock = threading.Lock()
        self._generation = 0
        self._threads: list[threading.Thread] = []
        with _registry_lock:
            _threads.add(self)

    def run(self, job: Callable, *args, done: Callable | None = None, **kwargs) -> int | None:
        """Start ``job(*args, **kwargs)`` in the background; None (nothing started) at exit."""
        if closing():
            return None
        with self._lock:
            self._generation += 1
            generation = self._generation
            thread = threading.Thread(
                target=self._run,
                args=(generation, job, args, kwargs, done),
                name=self.name,
                daemon=True,
            )
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()
        return generation

    def current(self, generation: int) -> bool:
        """Whether ``generation`` is the newest job started."""
        return generation == self._generation

    @property
    def busy(self) -> bool:
        """Whether any job of this task is still running."""
        with self._lock:
            return any(thread.is_alive() for thread in self._threads)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every started job; True when none is left running."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
        return not any(t.is_alive() for t in threads if t is not threading.current_thread())

    def close(self, timeout: float | None = 30.0) -> None:
        """Join the running jobs (used at exit; ``run`` starts nothing once exiting)."""
        if not self.wait(timeout):
            log.warning("%s did not end within %s s", self.name, timeout)

    def _run(self, generation, job: Callable, args: tuple, kwargs: dict, done) -> None:
        result = error = None
        try:
            result = job(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to done, which tells the user
            log.debug("%s failed", self.name, exc_info=True)
            error = exc
        if done is not None and self.current(generation):
            try:
                done(result, error)
            except Exception:
                log.exception("%s: reacting to the result failed", self.name)


class SerialWorker:
    """One thread that runs submitted calls in order, started on the first ``submit``.

    The thread ends after ``idle`` seconds with nothing to do, and a later ``submit``
    starts another: an idle Trainer holds no thread. ``drain`` waits until everything
    submitted so far has run; ``close`` runs what is queued, then ends the thread. A call
    that raises is logged and the next one runs.
    """

    def __init__(self, name: str, *, idle: float = 5.0, nice: int = 0):
        """``name`` names the thread; ``nice`` (Linux) lowers its scheduling priority by that
        much (0 to 19) against the rest of the process."""
        self.name = name
        self.idle = idle
        self.nice = nice
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        with _registry_lock:
            _threads.add(self)

    @property
    def thread(self) -> threading.Thread | None:
        """The worker's thread, once started."""
        return self._thread

    def submit(self, call: Callable, *args) -> None:
        """Run ``call(*args)`` on the worker after everything submitted before."""
        with self._lock:
            self._submitted += 1
            self._queue.put((call, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def pending(self) -> int:
        """How many submitted calls have not run yet."""
        with self._lock:
            return self._submitted - self._done

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every call submitted so far has run; True if it did in time.

        Called from the worker itself it returns at once (it cannot wait for itself).
        """
        if threading.current_thread() is self._thread:
            return self.pending() <= 1
        with self._lock:
            target = self._submitted
            return self._lock.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Run what is queued, then end the thread and join it."""
        with self._lock:
            thread = self._thread
            if thread is None or thread is threading.current_thread():
                return
            self._queue.put(None)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s did not end within %s s", self.name, timeout)

    def _loop(self) -> None:
        lower_priority(self.nice)
        while True:
            try:
                item = self._queue.get(timeout=self.idle)
            except queue.Empty:
                with self._lock:
                    if self._submitted == self._done:
                        self._thread = None
                        return
                continue
            if item is None:
                with self._lock:
                    self._thread = None
                return
            call, args = item
            try:
                call(*args)
            except Exception:
                log.exception("%s: %r failed", self.name, call)
            finally:
                with self._lock:
                    self._done += 1
                    self._lock.notify_all()


class Announcer(Generic[Event]):
    """A source of events and its listeners: ``add_listener``, ``remove_listener``, ``_announce``.

    Listeners are called in the order they were added, on the thread that announces. One
    that raises is logged and the next is still called: a broken display must not end a
    training, a sweep or a range test that is going well.
    """

    def __init__(self):
        """Start with no listener."""
        self._listeners: list[Callable[[Event], object]] = []

    def add_listener(self, listener: Callable[[Event], object]) -> None:
        """Call ``listener(event)`` for every event from now on."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Event], object]) -> None:
        """Stop calling ``listener``; unknown listeners are ignored."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _announce(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                kind = getattr(event, "kind", type(event).__name__)
                log.exception("%s listener %r failed on %s", type(self).__name__, listener, kind)


class Throttle:
    """Lets an event through at most once per ``interval`` seconds (0: every one).

    Used on the thread that makes frequent events, before they are handed to a worker
    (see the module's docstring): nothing downstream thins them again.
    """

    def __init__(self, interval: float):
        """Let the first event through, then one per ``interval`` seconds."""
        self.interval = interval
        self._last = -math.inf

    def due(self, now: float | None = None) -> bool:
        """Whether an event at ``time.monotonic()`` ``now`` goes through (and counts as sent)."""
        now = time.monotonic() if now is None else now
        if now - self._last < self.interval:
            return False
        self._last = now
        return True


def lower_priority(nice: int) -> bool:
    """Lower the calling thread's scheduling priority by ``nice``; True if it was done.

    Linux schedules threads as tasks of their own, so a thread can lower its own priority
    (never raise it back: it ends with its thread); elsewhere nothing is done.
    """
    if nice <= 0 or not sys.platform.startswith("linux"):
        return False
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + nice)
    except OSError:
        log.debug("Could not lower the priority of %s", threading.current_thread().name)
        return False
    return True


_pass = threading.local()


@contextlib.contextmanager
def one_pass():
    """Within it, on this thread, ``react(key, call)`` keeps one call per key (the newest)
    and runs them all at its end, in the order the keys first asked.

    Opened where one change fans out (``CurrentModel.set``): a view that hears of it twice,
    through the model and through the reading of its digit, computes once, with both.
    Nested passes are one pass. A call that raises is logged; the others still run.
    """
    if getattr(_pass, "calls", None) is not None:
        yield
        return
    _pass.calls = {}
    try:
        yield
    finally:
        try:
            while _pass.calls:
                key = next(iter(_pass.calls))
                call = _pass.calls.pop(key)
                try:
                    call()
                except Exception:
                    log.exception("Reacting with %r failed", call)
        finally:
            _pass.calls = None


def react(key, call: Callable[[], object]) -> None:
    """Run ``call()`` now, or at the end of this thread's ``one_pass`` (once per ``key``)."""
    calls = getattr(_pass, "calls", None)
    if calls is None:
        call()
    else:
        calls[key] = call
