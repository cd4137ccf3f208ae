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
another interpreter, another kernel, no ``fork`` (not Linux or macOS), the template failing
to start, or ``DIGITWIDGETS_FORK_KERNELS=0`` in the server's environment. The template starts
with the server's first kernel. A kernel that Voila preheats (nobody waits for it yet) waits
for the template rather than importing on its own beside it, as the two imports would only
compete for the processors (on 2 cores: 14-15 processor-seconds used by the server by its
first page's model instead of 24-30, and that page no later). A kernel a visitor is waiting
for, such as the first visit on a Binder or JupyterHub server (no preheating there), is
launched the usual way while the template imports: waiting made that visit 2 s slower. The
template then imports at the lowest priority, in a session of its own (Linux's scheduler shares
the processors between sessions by their nice values), so that it takes only the processor time
that visitor's kernel and page leave; a kernel that waits for it raises it to the usual one.

The forked kernel is what a launched one would be: its own session and process group, the
kernel's environment and working directory, a command line naming ``ipykernel_launcher`` and
its connection file (so ``ps`` and tools that look for kernels find it), fresh random seeds.
Its life is tied to the server twice: the template kills a kernel whose server connection
closes, and ipykernel's parent poller ends a kernel whose template has gone.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import gc
import importlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from jupyter_client.provisioning import LocalProvisioner

from ..settings_link import PREHEAT_VARIABLE  # "True" in a kernel Voila preheats

# What a dashboard kernel imports; the template imports it once for every kernel.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipywidgets",
    "digitwidgets.widgets",
    "digitwidgets.keras_import",
    "digitwidgets.training",
    "digitwidgets.inference",
    "setproctitle",  # it finds argv from the environment, so before a kernel changes that
)
SWITCH = "DIGITWIDGETS_FORK_KERNELS"  # "0" in the server's environment: launch kernels anew
# The template's command line carries this much blank room, which each kernel overwrites with
# its own command line (setproctitle writes only into the room argv had).
TITLE_ROOM = 512
START_TIMEOUT_S = 180.0
LOW_PRIORITY = 19  # the nice value of the template's session while only leftovers are its

log = logging.getLogger(__name__)


# --- the template process ---------------------------------------------------------------


def serve(socket_path: str) -> None:
    """Import what a kernel needs, then fork a kernel for each request on ``socket_path``.

    Each request is one JSON line, ``{"argv": [...], "env": {...}, "cwd": "..."}``, on its own
    connection; the answer is the kernel's process id, and later ``exit <status>`` when it
    ends. A connection that closes first gets its kernel killed. The template ends, killing
    its kernels and removing its socket's folder, when its standard input closes (its server
    is gone).
    """
    template = os.getpid()
    try:
        _serve(socket_path)
    finally:
        if os.getpid() == template:  # not a kernel forked from it, leaving Python
            shutil.rmtree(os.path.dirname(socket_path), ignore_errors=True)


def _serve(socket_path: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C on the server's terminal: the server
    for name in PRELOAD:  # decides what happens to its kernels
        with contextlib.suppress(ImportError):  # a kernel would import it (and fail) itself
            importlib.import_module(name)
    gc.collect()
    gc.freeze()  # kernels share these objects' pages instead of copying them on the first GC
    set_session_priority("self", 0)  # forking a kernel must not wait behind the visitors

    wake_read, wake_write = socket.socketpair()
    wake_write.setblocking(False)
    signal.set_wakeup_fd(wake_write.fileno())
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wake-up byte is written

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".new")
    os.rename(socket_path + ".new", socket_path)  # the path exists once it accepts
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

    while True:
        for key, _ in selector.select():
            if key.data == "listener":
                connection, _ = listener.accept()
                waiting[connection] = b""
                selector.register(connection, selectors.EVENT_READ, "request")
            elif key.data == "child":
                wake_read.recv(4096)
                _reap(kernels, selector)
            elif key.data == "server":
                if not os.read(sys.stdin.fileno(), 4096):
                    for pid in kernels:
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(pid, signal.SIGKILL)
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
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # not the template's pipe from the server
    os.close(null)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    # ipykernel read JPY_PARENT_PID when the template imported it; its parent poller ends
    # the kernel if the template (its parent) goes, as it would for a server's kernel.
    parent = f"--IPKernelApp.parent_handle={os.getppid()}"
    # ipywidgets registers its comm targets when it is imported in a kernel; the template
    # imported it before there was one, so the kernel loads it as an extension, which does.
    widgets = "--IPKernelApp.extensions=ipywidgets"
    sys.argv = ["ipykernel_launcher", *request["argv"][3:], parent, widgets]
    _reseed()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    sys.exit(0)


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
    ``exit <status>`` line on the kernel's connection.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, connection: socket.socket):
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection
        self._received = b""

    def poll(self) -> int | None:
        """The exit status once the kernel has ended, else ``None``."""
        if self.returncode is None:
            self._read(blocking=False)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the kernel ends and return its exit status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._read(blocking=True, timeout=0.1)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        """Signal the kernel unless it has ended (its pid may then belong to another)."""
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        """Kill the kernel."""
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        """Ask the kernel to end."""
        self.send_signal(signal.SIGTERM)

    def _read(self, *, blocking: bool, timeout: float = 0.0) -> None:
        self._connection.settimeout(timeout if blocking else 0.0)
        try:
            chunk = self._connection.recv(4096)
        except (BlockingIOError, TimeoutError):
            return
        except OSError:
            chunk = b""
        self._received += chunk
        line = self._received.decode(errors="replace")
        if line.startswith("exit ") and line.endswith("\n"):
            self.returncode = int(line.split()[1])
        elif not chunk:  # the template ended without a word: the kernel ended with it
            self.returncode = -signal.SIGKILL
        if self.returncode is not None:
            self._connection.close()


class Template:
    """The server's template process, started on the first kernel launch and again if it ends."""

    _shared: Template | None = None
    _shared_lock = threading.Lock()

    def __init__(self):
        self._folder = tempfile.mkdtemp(prefix="digitwidgets-template-")
        # The template removes it when it ends; this is for a template that was killed.
        atexit.register(shutil.rmtree, self._folder, ignore_errors=True)
        self.socket_path = os.path.join(self._folder, "fork.sock")
        self._process: subprocess.Popen | None = None
        self._started = 0.0
        self._start_lock = threading.Lock()
        self._failure: str | None = None  # why it could not start: kernels launch anew then
        self._low_priority = False

    @classmethod
    def shared(cls) -> Template:
        """This server's template."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @staticmethod
    def can_fork(cmd: list[str]) -> bool:
        """Whether ``cmd`` is a kernel the template can fork: this Python's ipykernel."""
        if os.environ.get(SWITCH, "1") == "0" or not hasattr(os, "fork"):
            return False
        if len(cmd) < 3 or cmd[1:3] != ["-m", "ipykernel_launcher"]:
            return False
        return _same_file(cmd[0], sys.executable)

    def fork(self, cmd: list[str], env: dict, cwd: str, *, wait: bool = True) -> ForkedProcess:
        """A new kernel running ``cmd``'s ipykernel, forked from the template (blocking).

        Starts the template if it is not running. While it imports, waits for it (up to
        ``START_TIMEOUT_S``), or with ``wait=False`` raises :class:`TemplateNotReady`.
        """
        self._ensure_started(wait=wait)
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(30)
        connection.connect(self.socket_path)
        request = {"argv": [str(part) for part in cmd], "env": dict(env), "cwd": str(cwd)}
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = b""
        while not answer.endswith(b"\n"):
            chunk = connection.recv(64)
            if not chunk:
                raise OSError("the kernel template closed the connection without a kernel")
            answer += chunk
        return ForkedProcess(int(answer), connection)

    def _ensure_started(self, *, wait: bool) -> None:
        if self._failure:  # not tried again for every kernel, each waiting for it to fail
            raise OSError(self._failure)
        with self._start_lock:
            if self._process is None or self._process.poll() is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.socket_path)
                room = "--room=" + "." * TITLE_ROOM
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "digitwidgets.server.forking", self.socket_path, room],
                    stdin=subprocess.PIPE,  # closes when this server ends, and the template too
                    env={**os.environ, "SPT_NOENV": "1"},
                    start_new_session=True,  # its own share of the processors, weighted below
                )
                self._started = time.monotonic()
                self._low_priority = not wait  # a visitor's kernel is launched beside it
                if self._low_priority:  # a new session's nice value is 0 already
                    set_session_priority(self._process.pid, LOW_PRIORITY)
            elif wait and self._low_priority:  # somebody now waits for it
                self._low_priority = False
                set_session_priority(self._process.pid, 0)
            process = self._process
        deadline = self._started + START_TIMEOUT_S
        while not os.path.exists(self.socket_path):
            if process.poll() is not None:
                self._failure = f"the kernel template ended ({process.returncode})"
                raise OSError(self._failure)
            if time.monotonic() > deadline:
                process.kill()
                self._failure = f"the kernel template was not ready in {START_TIMEOUT_S:.0f} s"
                raise OSError(self._failure)
            if not wait:
                raise TemplateNotReady("the kernel template is still importing")
            time.sleep(0.05)


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
        # A visitor waits for this kernel unless Voila preheats it for a visitor to come.
        preheated = env.get(PREHEAT_VARIABLE) == "True"
        fork = functools.partial(Template.shared().fork, wait=preheated)
        try:
            process = await asyncio.to_thread(fork, cmd, env, cwd)
        except TemplateNotReady:  # a visitor's kernel while the template imports: anew
            return await super().launch_kernel(cmd, **kwargs)
        except OSError as error:
            log.warning("Starting the kernel anew: the kernel template failed (%s)", error)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = process
        self.pid = self.pgid = process.pid  # the kernel leads its own process group
        self.cwd = cwd
        return self.connection_info


if __name__ == "__main__":
    serve(sys.argv[1])
