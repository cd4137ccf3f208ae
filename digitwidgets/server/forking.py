"""Dashboard kernels forked from a process that has imported TensorFlow once, not started anew.

A dashboard kernel started the usual way is a new Python that imports ipykernel, the widgets
and then TensorFlow and Keras: 6-8 processor-seconds on a 2-core machine, paid again by every
page load, every refill of Voila's preheated pool and every visitor of a class. Here the
server starts one **template process** (``python -m digitwidgets.server.forking``) that
imports all of that once and waits; each kernel is a ``fork()`` of it, which takes about 10 ms
and shares the imported code's memory with the template until a kernel changes it.

:class:`ForkingProvisioner` is a Jupyter kernel provisioner (the ``digitwidgets-forking``
entry point, named by ``KernelProvisionerFactory.default_provisioner_name`` in ``voila.json``
and ``binder/jupyter-config``). It launches a kernel by asking the template for a fork when
the kernel's command is this Python's ``-m ipykernel_launcher``, and the usual way otherwise:
another interpreter, another kernel, not Linux (the only system where forking is tested),
the template failing to start or refusing to fork (below), or ``DIGITWIDGETS_FORK_KERNELS=0``
in the server's environment. The template starts
with the server (``CappedKernelManager.start_kernel_template``, set in ``voila.json`` and
``binder/jupyter-config``) or with its first kernel, in two processes. The **light template**
imports what the page needs (ipykernel, the widgets: a fraction of a second) and serves
kernels while the **full template**, forked from it, imports TensorFlow and Keras (5 or more
processor-seconds); from then on every kernel is forked from the full one. A light kernel
imports TensorFlow itself when it loads the model, as a launched one does. So the first
visitor of a new server, a Binder or JupyterHub user who arrives as it starts, gets a page
built by a light kernel (Train clickable 2.8 s after the request against 3.3 s with a kernel
launched anew, docs/benchmarks.md), and Voila's first preheated kernel is one too, instead of
waiting for TensorFlow. The full template imports at the lowest priority, in a session of its
own (Linux's scheduler shares the processors between sessions by their nice values), so that
it takes only the processor time the first pages leave; after ``LOW_PRIORITY_S`` it imports at
the usual priority, so that a busy server cannot starve it.

On Binder and JupyterHub, ``binder/start`` starts the template before the server, which takes
a second or more to import itself and listen, and names its folder in
``DIGITWIDGETS_TEMPLATE_FOLDER``; the server adopts it instead of starting its own. With that
head start the light template imports the dashboard's own modules too (bqplot, ipycanvas), so
that the first visitor's kernel builds the page at once (Train clickable on a new server's
first visit 2.12 s after the request against 2.54 s, medians of six new servers each way,
interleaved; docs/benchmarks.md).

The forked kernel is what a launched one would be: its own session and process group, the
kernel's environment and working directory, a command line naming ``ipykernel_launcher`` and
its connection file (so ``ps`` and tools that look for kernels find it), fresh random seeds.

What keeps forking safe, checked rather than assumed:

- **One thread.** ``fork()`` copies only the thread that calls it; a lock another thread held
  (in the allocator, in TensorFlow) stays held forever in the child, which then hangs now and
  then. So a template forks only while it runs exactly one thread, Python's and the system's
  (``/proc/self/task``), and no TensorFlow operation has run in it (:func:`fork_hazard`; the
  idle thread pools of OpenBLAS are ended first, as OpenBLAS's own fork handler does). A
  template that cannot fork says why, and the server logs it and launches the kernel anew.
- **Kernels answer to the server, not to a template.** A forked kernel watches the server's
  pipe (it ends when the server does, as ipykernel's parent poller ends a launched kernel)
  and the server watches, signals and kills it by a pidfd, so a template's end (killed,
  replaced, chosen by the OOM killer) leaves its kernels running. Only the server's end, or
  its closing of a kernel's connection, makes a template kill its kernels.
- **A dead template is replaced.** The server notices (the process has ended, its socket
  refuses connections) and starts a new pair while that kernel launches anew, at most
  ``MAX_REPLACEMENTS`` times per server. A template that never got ready is not started
  again: kernels launch anew until the server restarts.
- The full template ends within a second of the light one, leaving its kernels be.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import gc
import importlib
import json
import logging
import os
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import NoReturn

from jupyter_client.provisioning import LocalProvisioner

# What a dashboard kernel imports, in two parts: what the page needs to show the dashboard
# (about 0.3-0.8 processor-seconds), then TensorFlow and Keras (5 or more). The template
# imports the first and forks the full template, which imports the second.
PRELOAD_LIGHT = (
    "ipykernel.kernelapp",
    "ipywidgets",
    "digitwidgets.widgets",
    "setproctitle",  # it finds argv from the environment, so before a kernel changes that
)
PRELOAD_FULL = (
    "digitwidgets.keras_import",
    "digitwidgets.learning.training",
    "digitwidgets.reading.inference",
)
# What a light template started before its server imports too (0.3-0.4 processor-seconds
# more): the server's own start leaves it the time, which a template started with the
# server does not have (its first kernel would wait for it).
PRELOAD_EARLY = ("digitwidgets.widgets.dashboard", "digitwidgets.page_query")
# Set by binder/start to the folder of the template it started before the server.
EARLY_FOLDER = "DIGITWIDGETS_TEMPLATE_FOLDER"
SWITCH = "DIGITWIDGETS_FORK_KERNELS"  # "0" in the server's environment: launch kernels anew
# The template's command line carries this much blank room, which each kernel overwrites with
# its own command line (setproctitle writes only into the room argv had).
TITLE_ROOM = 512
START_TIMEOUT_S = 180.0
LIGHT_WAIT_S = 5.0  # how long a kernel waits for the light template, from its start
LOW_PRIORITY_S = 10.0  # how long the full template imports at the lowest priority
# In the template's folder: where each template takes requests, and the full one's pid.
LIGHT_SOCKET, FULL_SOCKET, FULL_PID = "light.sock", "fork.sock", "full.pid"
LIGHT_PID = "light.pid"  # an early template's, written by binder/start, which started it
FULL_REFUSED = "full.refused"  # why the light template did not fork the full one
MAX_REPLACEMENTS = 5  # dead templates replaced per server; then kernels launch anew
PR_SET_PDEATHSIG = 1  # Linux's prctl option: a signal for when the parent process ends
LOW_PRIORITY = 19  # the nice value of the template's session while only leftovers are its

log = logging.getLogger(__name__)


# --- the template process ---------------------------------------------------------------


def serve(folder: str, full_nice: int = 0, *, early: bool = False) -> None:
    """Import what the page needs, then fork a kernel for each request; see :func:`_serve`.

    The template ends, killing its kernels and removing ``folder``, when its standard input
    closes (its server is gone). ``early``: started before its server (``binder/start``, which
    writes its pid to ``light.pid``), which adopts it: it takes a session of its own, as a
    server gives the templates it starts, and imports ``PRELOAD_EARLY`` as well.
    """
    template = os.getpid()
    try:
        if early:
            with contextlib.suppress(OSError):  # already a session's leader: it has its own
                os.setsid()
        _serve(folder, full_nice, PRELOAD_LIGHT + (PRELOAD_EARLY if early else ()))
    finally:
        if os.getpid() == template:  # not the full template or a kernel, leaving Python
            shutil.rmtree(folder, ignore_errors=True)


def _serve(folder: str, full_nice: int, preload: tuple[str, ...]) -> None:
    """Serve light kernels on ``light.sock`` while the full template gets ready for ``fork.sock``.

    Each request is one JSON line, ``{"argv": [...], "env": {...}, "cwd": "..."}``, on its own
    connection; the answer is the kernel's process id, and later ``exit <status>`` when it
    ends. A connection that closes first gets its kernel killed. The full template is forked
    from this process once the light imports are done: it takes a session of its own at
    ``full_nice``, writes its pid to ``full.pid``, imports TensorFlow and Keras, and then
    serves ``fork.sock``. It ends with this process or with the server.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C on the server's terminal: the server
    _import(preload)  # decides what happens to its kernels
    hazard = fork_hazard()
    if hazard is not None:  # light kernels only, each refused as long as the hazard lasts
        _write_file(os.path.join(folder, FULL_REFUSED), hazard)
    elif os.fork() == 0:
        parent = os.getppid()
        # While it imports it has no kernels to see to: it is killed with the light template,
        # rather than import TensorFlow for a server that is gone.
        _die_with_parent(signal.SIGKILL)
        if os.getppid() != parent:
            return
        os.setsid()
        set_session_priority("self", full_nice)
        _write_file(os.path.join(folder, FULL_PID), str(os.getpid()))
        _import(PRELOAD_FULL)
        set_session_priority("self", 0)  # forking a kernel must not wait behind the visitors
        _die_with_parent(0)  # from now on it leaves by itself, its kernels left be
        _fork_kernels(os.path.join(folder, FULL_SOCKET), parent=parent)
        return
    _fork_kernels(os.path.join(folder, LIGHT_SOCKET))


def _die_with_parent(signum: int) -> None:
    """Have Linux send this process ``signum`` when its parent ends (0: no more); elsewhere
    nothing (the full template's loop notices a new parent within a second)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def fork_hazard() -> str | None:
    """Why forking this process now could hang the child, or None when it is safe.

    Safe: exactly one thread runs (Python's count and the system's, ``/proc/self/task`` on
    Linux: libraries start native threads Python does not see), and TensorFlow has run no
    operation (its first one starts the runtime's thread pools and takes its locks). OpenBLAS's
    idle worker pools (numpy's, OpenCV's) are ended first, as OpenBLAS's own fork handler would
    end them; a process that calls BLAS again starts them again.
    """
    _end_blas_pools()
    if threading.active_count() != 1:
        others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        return f"{threading.active_count()} Python threads run in it ({', '.join(others)})"
    try:
        threads = len(os.listdir("/proc/self/task"))
    except OSError:  # no /proc: Python's own count is all there is
        threads = 1
    if threads != 1:
        return f"{threads} threads run in it (native threads of a library it imported)"
    if _tensorflow_has_run():
        return "TensorFlow has run an operation in it"
    return None


def _end_blas_pools() -> None:
    """End the worker threads of each OpenBLAS this process has loaded, while they are idle."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line}
    except OSError:
        return
    for path in sorted(paths):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(path, mode=os.RTLD_NOLOAD).blas_thread_shutdown_()


def _tensorflow_has_run() -> bool:
    """Whether TensorFlow's eager runtime has started (its first operation starts it)."""
    context = sys.modules.get("tensorflow.python.eager.context")
    eager = getattr(context, "_context", None)
    return getattr(eager, "_context_handle", None) is not None


def _import(names) -> None:
    for name in names:
        with contextlib.suppress(ImportError):  # a kernel would import it (and fail) itself
            importlib.import_module(name)


def _read_pid(path: str) -> int | None:
    """The process id in the file ``path``, or None while there is none (or half of one)."""
    try:
        with open(path) as file:
            return int(file.read())
    except (OSError, ValueError):
        return None


def _write_file(path: str, text: str) -> None:
    with open(path + ".new", "w") as file:
        file.write(text)
    os.rename(path + ".new", path)  # whole or not at all for a reader


def _fork_kernels(socket_path: str, parent: int | None = None) -> None:
    """Fork a kernel for each request on ``socket_path`` until the server (or ``parent``) ends."""
    gc.collect()
    gc.freeze()  # kernels share these objects' pages instead of copying them on the first GC

    wake_read, wake_write = socket.socketpair()
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up byte is written

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(socket_path + ".new")
        os.rename(socket_path + ".new", socket_path)  # the path exists once it accepts
    except FileNotFoundError:  # the light template ended (and removed the folder) meanwhile
        return
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "listener")
    selector.register(wake_read, selectors.EVENT_READ, "child")
    selector.register(sys.stdin, selectors.EVENT_READ, "server")
    kernels: dict[int, socket.socket] = {}  # kernel pid: its server connection
    waiting: dict[socket.socket, bytes] = {}  # connections whose request is still arriving

    def close_all_in_kernel() -> None:
        for each in (listener, wake_read, wake_write, *kernels.values(), *waiting):
            each.close()
        selector.close()

    def kill_kernels() -> None:
        for pid in kernels:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    while True:
        events = selector.select(timeout=None if parent is None else 1.0)
        if parent is not None and os.getppid() != parent:  # the light template has gone:
            return  # the server starts a new pair; these kernels are the server's, not ours
        for key, _ in events:
            if key.data == "listener":
                connection, _ = listener.accept()
                waiting[connection] = b""
                selector.register(connection, selectors.EVENT_READ, "request")
            elif key.data == "child":
                wake_read.recv(4096)
                _reap(kernels, selector)
            elif key.data == "server":
                if not os.read(sys.stdin.fileno(), 4096):
                    kill_kernels()
                    return
            elif key.data == "request":
                connection = key.fileobj
                chunk = connection.recv(1 << 20)
                if not chunk:  # closed before it asked for a kernel
                    selector.unregister(connection)
                    del waiting[connection]
                    connection.close()
                    continue
                waiting[connection] += chunk
                if not waiting[connection].endswith(b"\n"):
                    continue
                request = json.loads(waiting.pop(connection))
                hazard = fork_hazard()
                if hazard is not None:  # the server launches this kernel anew
                    with contextlib.suppress(OSError):
                        connection.sendall(f"refused {hazard}".replace("\n", " ").encode() + b"\n")
                    selector.unregister(connection)
                    connection.close()
                    continue
                pid = os.fork()
                if pid == 0:
                    connection.close()
                    close_all_in_kernel()
                    _become_kernel(request)  # leaves Python when the kernel ends
                kernels[pid] = connection
                selector.modify(connection, selectors.EVENT_READ, ("kernel", pid))
                connection.sendall(f"{pid}\n".encode())
            else:  # a kernel's connection: readable only when the server closed it
                _, pid = key.data
                if not key.fileobj.recv(1):
                    selector.unregister(key.fileobj)  # reaped (and closed) when it has ended
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)


def _reap(kernels: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    """Collect every ended kernel and tell its server connection how it ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        connection = kernels.pop(pid, None)
        if connection is None:
            continue
        with contextlib.suppress(OSError):
            connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(connection)
        connection.close()


def _become_kernel(request: dict) -> None:
    """In the forked child: take on the kernel's session, environment and name, and run it.

    The kernel ends as a launched one does, by leaving Python: ``SystemExit`` unwinds the
    template's loop (which holds nothing to clean up in the child), then Python waits for
    the kernel's threads and runs its ``atexit`` hooks, such as saving a run in flight.
    """
    _name_the_process(request["argv"])
    os.setsid()
    server = os.dup(0)  # the template's pipe from the server, which only the server's end closes
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    # ipykernel's parent poller would end the kernel with its parent, the template: 1 turns it
    # off (init never ends), and keeps the connection banner off the server's terminal. The
    # kernel watches its server instead.
    parent = "--IPKernelApp.parent_handle=1"
    # ipywidgets registers its comm targets when it is imported in a kernel; the template
    # imported it before there was one, so the kernel loads it as an extension, which does.
    widgets = "--IPKernelApp.extensions=ipywidgets"
    sys.argv = ["ipykernel_launcher", *request["argv"][3:], parent, widgets]
    _reseed()
    _end_with_server(server)
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    sys.exit(0)


def _end_with_server(pipe: int) -> None:
    """End this kernel when its server ends: the pipe's other end is the server's alone.

    Leaves Python at once, with status 1, as ipykernel's parent poller ends a launched kernel
    whose server has gone.
    """

    def watch() -> None:
        try:
            while os.read(pipe, 4096):
                pass
        except OSError:  # the kernel's own code closed it: nothing left to watch
            return
        os._exit(1)

    threading.Thread(target=watch, name="digitwidgets-server-watch", daemon=True).start()


def _name_the_process(argv: list[str]) -> None:
    """Show the kernel's own command line in ``ps`` and ``/proc`` instead of the template's.

    The title goes into the room the template's command line left (``SPT_NOENV``: not into
    the environment's, so ``/proc/<pid>/environ`` stays readable).
    """
    setproctitle = sys.modules.get("setproctitle")
    if setproctitle is not None:
        setproctitle.setproctitle(" ".join(argv))


def _reseed() -> None:
    """Give each kernel its own random numbers (``random`` reseeds itself after a fork)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


# --- the server's side ------------------------------------------------------------------


class ForkedProcess:
    """The parts of ``subprocess.Popen`` a provisioner uses, for a kernel the template forked.

    The kernel is the template's child, not the server's: its end is read from the template's
    ``exit <status>`` line on the kernel's connection while the template lives, and from the
    kernel's pidfd after (its status is then unknown, and reported as 0). Signals go through
    the pidfd, which names this process and no later one with its pid.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, connection: socket.socket):
        self.pid = pid
        self.returncode: int | None = None
        self._connection: socket.socket | None = connection  # None once the template has gone
        self._pidfd = os.pidfd_open(pid)
        self._received = b""

    def poll(self) -> int | None:
        """The exit status once the kernel has ended, else ``None``."""
        if self.returncode is None:
            self._watch(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the kernel ends and return its exit status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._watch(left)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the kernel unless it has ended."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it ended just now
                signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        """Kill the kernel."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """Ask the kernel to end."""
        self.send_signal(signal.SIGTERM)

    def _watch(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds for the template's word, or for the kernel's end."""
        watched = self._pidfd if self._connection is None else self._connection
        poller = select.poll()  # not select.select: a busy server's descriptors pass 1024
        poller.register(watched, select.POLLIN)
        if not poller.poll(None if timeout is None else max(0, int(timeout * 1000))):
            return
        if self._connection is None:
            self._ended(0)
            return
        try:
            chunk = self._connection.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:  # the template has gone; the kernel need not have
            self._connection.close()
            self._connection = None
            self._watch(0.0)
            return
        self._received += chunk
        line = self._received.decode(errors="replace")
        if line.startswith("exit ") and line.endswith("\n"):
            self._ended(int(line.split()[1]))

    def _ended(self, status: int) -> None:
        self.returncode = status
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        os.close(self._pidfd)


class Template:
    """The server's template processes, started with the server or its first kernel, and
    again if they end.

    Two processes answer for kernels: the light template, which has imported what the page
    needs (ready a fraction of a second after it starts), and the full template forked from
    it, which has imported TensorFlow too (seconds later). A kernel is forked from the full
    one once it is ready, and from the light one before that (it imports TensorFlow itself,
    in the background, as a launched kernel does). The full template imports at the lowest
    priority for its first ``LOW_PRIORITY_S`` seconds, then at the usual one, so that a busy
    server cannot starve it while every kernel imports TensorFlow on its own.

    A template that has served and then ends (killed, or its socket refusing connections) is
    replaced: the kernel that found it dead launches anew (:class:`TemplateReplaced`) while a
    new pair starts. One that ends before it was ever ready is not started again.
    """

    _shared: Template | None = None
    _shared_lock = threading.Lock()

    def __init__(self):
        # A template binder/start started before this server is this server's; its kernels
        # and a template started again later are not told of it.
        early = os.environ.pop(EARLY_FOLDER, "")
        adopted = bool(early) and os.path.isdir(early)
        self.folder = early if adopted else tempfile.mkdtemp(prefix="digitwidgets-template-")
        # The template removes it when it ends; this is for a template that was killed.
        atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        self.socket_path = os.path.join(self.folder, FULL_SOCKET)
        self.light_socket_path = os.path.join(self.folder, LIGHT_SOCKET)
        self._process: subprocess.Popen | EarlyTemplate | None = None
        self._started = 0.0
        self._start_lock = threading.Lock()
        self._failure: str | None = None  # why it could not start: kernels launch anew then
        self._low_priority = False  # the full template's, for its first LOW_PRIORITY_S
        self._served = False  # whether the running template got ready: its end is then a death
        self.replacements = 0
        self._refusal_told = False
        # Ended templates, kept for their pipes from this server: a kernel forked from one
        # watches its pipe, and ends when the pipe closes (when this server ends).
        self._retired: list[subprocess.Popen | EarlyTemplate] = []
        if adopted:
            self._process = EarlyTemplate(self.folder)
            self._started = time.monotonic()
            self._low_priority = True  # binder/start starts it at the lowest

    @classmethod
    def shared(cls) -> Template:
        """This server's template."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @staticmethod
    def can_fork(cmd: list[str]) -> bool:
        """Whether ``cmd`` is a kernel the template can fork: this Python's ipykernel, on Linux."""
        if not forking_enabled() or not _pidfds_work():
            return False
        if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"]:
            return False
        return _same_file(cmd[0], sys.executable)

    @property
    def full_pid(self) -> int | None:
        """The full template's process id, once it has started."""
        return _read_pid(os.path.join(self.folder, FULL_PID))

    def start(self) -> None:
        """Start the templates now if they are not running; do not wait for them."""
        self._start(wait=False)

    def fork(
        self, cmd: list[str], env: dict, cwd: str, *, wait: bool = False, log=log
    ) -> ForkedProcess:
        """A new kernel running ``cmd``'s ipykernel, forked from a template (blocking).

        Starts the templates if they are not running. From the full template if it is
        ready, else from the light one, or :class:`TemplateNotReady` if that is not ready
        within ``LIGHT_WAIT_S`` of their start. With ``wait=True``, from the full template,
        waiting for it (up to ``START_TIMEOUT_S``; it imports at the usual priority then).
        :class:`ForkRefused` when the template may not fork (:func:`fork_hazard`),
        :class:`TemplateReplaced` when it has died, another ``OSError`` when it failed.
        ``log`` hears once that the full template refused to start (light kernels go on).
        """
        process, path = self._ready_socket(wait=wait)
        if path == self.light_socket_path and not self._refusal_told:
            refusal = self.full_refusal
            if refusal is not None:
                self._refusal_told = True
                log.warning(
                    "digitwidgets: no full kernel template, kernels come from the light one "
                    "(it may not fork: %s)",
                    refusal,
                )
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(30)
        try:
            connection.connect(path)
        except (ConnectionRefusedError, FileNotFoundError) as error:
            connection.close()
            which = "full" if path == self.socket_path else "light"
            self._replace(process, f"the {which} kernel template has ended ({error.strerror})")
        try:
            request = {"argv": [str(part) for part in cmd], "env": dict(env), "cwd": str(cwd)}
            connection.sendall(json.dumps(request).encode() + b"\n")
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = connection.recv(4096)
                if not chunk:
                    raise OSError("the kernel template closed the connection without a kernel")
                answer += chunk
            if answer.startswith(b"refused "):
                reason = answer.decode(errors="replace").removeprefix("refused ").strip()
                raise ForkRefused(f"the kernel template may not fork: {reason}")
            return ForkedProcess(int(answer), connection)
        except BaseException:
            connection.close()
            raise

    @property
    def full_refusal(self) -> str | None:
        """Why the light template did not fork the full one (:func:`fork_hazard`), or None."""
        try:
            with open(os.path.join(self.folder, FULL_REFUSED)) as file:
                return file.read()
        except OSError:
            return None

    def _start(self, *, wait: bool) -> subprocess.Popen | EarlyTemplate:
        if self._failure:  # not tried again for every kernel, each waiting for it to fail
            raise OSError(self._failure)
        with self._start_lock:
            if self._process is None or self._process.poll() is not None:
                self._launch(low_priority=not wait)
            return self._process

    def _launch(self, *, low_priority: bool) -> None:
        """Start a new light template (which forks the full one); the lock is held."""
        if self._process is not None:
            self._retired.append(self._process)
        os.makedirs(self.folder, exist_ok=True)  # an ended template removes it
        for name in (LIGHT_SOCKET, FULL_SOCKET, FULL_PID, LIGHT_PID, FULL_REFUSED):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.folder, name))
        self._low_priority = low_priority
        self._served = False
        full_nice = f"--full-nice={LOW_PRIORITY if low_priority else 0}"
        room = "--room=" + "." * TITLE_ROOM
        command = [sys.executable, "-m", "digitwidgets.server.forking", self.folder]
        self._process = subprocess.Popen(
            [*command, full_nice, room],
            stdin=subprocess.PIPE,  # closes when this server ends, and the template too
            env={**os.environ, "SPT_NOENV": "1"},
            start_new_session=True,  # its own share of the processors
        )
        self._started = time.monotonic()

    def _replace(self, process, reason: str) -> NoReturn:
        """End what is left of the templates ``process`` led and start a new pair, unless
        another kernel already did; raise :class:`TemplateReplaced` (this kernel launches anew).

        Their kernels go on: they answer to the server. After ``MAX_REPLACEMENTS``, no more
        templates: kernels launch anew until the server restarts.
        """
        with self._start_lock:
            if self._process is process and self._failure is None:
                full = self.full_pid
                process.kill()  # its kernels are left be: they answer to this server
                process.wait()
                if full is not None and _alive(full):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(full, signal.SIGKILL)
                self.replacements += 1
                if self.replacements > MAX_REPLACEMENTS:
                    self._retired.append(process)
                    self._process = None
                    self._failure = f"{reason}, {self.replacements} times since the server started"
                    raise OSError(self._failure)
                self._launch(low_priority=True)
        raise TemplateReplaced(f"{reason}; a new one is starting")

    def _ready_socket(self, *, wait: bool) -> tuple[subprocess.Popen | EarlyTemplate, str]:
        """The running template and the socket to ask it on, once it is ready (see fork)."""
        process = self._process
        if self._served and process is not None and process.poll() is not None:
            self._replace(process, f"the kernel template has ended ({process.returncode})")
        process = self._start(wait=wait)
        deadline = self._started + START_TIMEOUT_S
        while not os.path.exists(self.socket_path):
            if process.poll() is not None:
                if self._served:
                    self._replace(process, f"the kernel template has ended ({process.returncode})")
                self._failure = f"the kernel template ended ({process.returncode})"
                raise OSError(self._failure)
            full = self.full_pid
            if full is not None and not _alive(full):
                if self._served:
                    self._replace(process, "the full kernel template ended while it imported")
                process.kill()
                self._failure = "the full kernel template ended while it imported"
                raise OSError(self._failure)
            if time.monotonic() > deadline:
                process.kill()
                self._failure = f"the kernel template was not ready in {START_TIMEOUT_S:.0f} s"
                raise OSError(self._failure)
            refusal = self.full_refusal
            if refusal is not None and wait:
                raise ForkRefused(f"the kernel template may not fork: {refusal}")
            now = time.monotonic()
            needed = wait or now > self._started + LOW_PRIORITY_S
            if self._low_priority and full is not None and needed:
                set_session_priority(full, 0)
                self._low_priority = False
            if not wait:
                if os.path.exists(self.light_socket_path):
                    self._served = True
                    return process, self.light_socket_path
                if now > self._started + LIGHT_WAIT_S:
                    raise TemplateNotReady("the kernel template is still importing")
            time.sleep(0.02)
        self._served = True
        full = self.full_pid
        if full is not None and not _alive(full):
            self._replace(process, "the full kernel template has ended")
        return process, self.socket_path


class EarlyTemplate:
    """What :class:`Template` needs of a ``Popen`` (``poll``, ``kill``, ``wait``, ``pid``) for
    a light template that ``binder/start`` started before this server, found by the
    ``light.pid`` it wrote.

    The server is its parent (``binder/start`` became the server), so an ended template is
    reaped here. A folder without a pid within ``LIGHT_WAIT_S`` has no template.
    """

    def __init__(self, folder: str):
        self._pid_path = os.path.join(folder, LIGHT_PID)
        self._since = time.monotonic()
        self.pid: int | None = None
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while the template runs, else how it ended (-signal, or 1 if unknown)."""
        if self.returncode is not None:
            return self.returncode
        if self.pid is None:
            self.pid = _read_pid(self._pid_path)
        if self.pid is None:
            if time.monotonic() > self._since + LIGHT_WAIT_S:
                self.returncode = 1
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # another process's child: alive or not is all there is
            self.returncode = None if _alive(self.pid) else 1
        else:
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        """End the template at once (its kernels go on)."""
        if self.poll() is None and self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        """Wait until the template has ended (after :meth:`kill`) and return how."""
        if self.returncode is None and self.pid is not None:
            with contextlib.suppress(ChildProcessError):  # not this process's child
                _, status = os.waitpid(self.pid, 0)
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.poll()


def forking_enabled() -> bool:
    """Whether this server forks its kernels: on Linux, unless ``DIGITWIDGETS_FORK_KERNELS=0``."""
    return os.environ.get(SWITCH, "1") != "0" and sys.platform == "linux"


def _pidfds_work() -> bool:
    """Whether this Linux has pidfds (5.3 and later), by which the server watches a kernel."""
    global _PIDFDS
    if _PIDFDS is None:
        try:
            os.close(os.pidfd_open(os.getpid()))
        except (AttributeError, OSError):
            _PIDFDS = False
        else:
            _PIDFDS = True
    return _PIDFDS


_PIDFDS: bool | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether it exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        pass
    return True


def set_session_priority(pid: int | str, nice: int) -> None:
    """Weight the processor share of the session (Linux's "autogroup") of process ``pid``.

    Linux shares the processors first between sessions, then within each by the processes'
    nice values; a process may set its session's nice value anywhere from 0 to 19, up or down.
    Where the kernel has no autogroups (not Linux, or built without them), nothing changes.
    """
    with contextlib.suppress(OSError), open(f"/proc/{pid}/autogroup", "w") as group:
        group.write(str(nice))


class TemplateNotReady(OSError):
    """The template is importing what kernels need; launch this kernel the usual way."""


class ForkRefused(OSError):
    """The template may not fork now (:func:`fork_hazard` says why); launch this kernel anew."""


class TemplateReplaced(OSError):
    """The template had died and a new one is starting; launch this kernel the usual way."""


def _same_file(one: str, other: str) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


class ForkingProvisioner(LocalProvisioner):
    """A local provisioner whose ipykernel kernels are forks of a template that has imported
    TensorFlow (see the module's docstring); any other kernel is launched the usual way."""

    async def launch_kernel(self, cmd: list[str], **kwargs):
        """Fork the kernel from the template when it can, else launch it as usual."""
        if not Template.can_fork(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        env = kwargs.get("env") or dict(os.environ)
        cwd = kwargs.get("cwd") or os.getcwd()
        template = Template.shared()
        try:
            process = await asyncio.to_thread(template.fork, cmd, env, cwd, log=self.log)
        except TemplateNotReady:  # no template ready in time: anew
            return await super().launch_kernel(cmd, **kwargs)
        except (ForkRefused, TemplateReplaced) as why:
            self.log.warning("digitwidgets: kernel launched anew: %s", why)
            return await super().launch_kernel(cmd, **kwargs)
        except OSError as error:
            self.log.warning("digitwidgets: kernel launched anew: the template failed (%s)", error)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = process
        self.pid = self.pgid = process.pid  # the kernel leads its own process group
        self.cwd = cwd
        return self.connection_info


def main(argv: list[str]) -> None:
    """``python -m digitwidgets.server.forking FOLDER [--full-nice=N] [--early] [--room=...]``

    ``--room=...``: only room in the command line for the kernels' own (``TITLE_ROOM``).
    """
    options = argv[1:]
    nices = [int(o.removeprefix("--full-nice=")) for o in options if o.startswith("--full-nice=")]
    serve(argv[0], nices[-1] if nices else 0, early="--early" in options)


if __name__ == "__main__":
    main(sys.argv[1:])
