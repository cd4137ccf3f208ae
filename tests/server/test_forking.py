"""Kernels forked from the templates: a real kernel each, tied to its server, not its template.

One template serves the module (it imports TensorFlow once, about 7 s here); each test forks
its own kernels from it and talks to them with a plain Jupyter client or a kernel manager.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from jupyter_client import AsyncKernelManager, BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.provisioning import KernelProvisionerFactory

from digitwidgets.server import forking
from digitwidgets.server.forking import SWITCH, ForkedProcess, Template
from digitwidgets.server.kernels import CappedKernelManager
from tests.server.waiting import ended, run, wait_until

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="kernels are forked on Linux")

KERNEL = [sys.executable, "-m", "ipykernel_launcher", "-f"]
BINDER_START = Path(__file__).resolve().parents[2] / "binder" / "start"
PROBE_TENSORFLOW = "import sys; print('tensorflow' in sys.modules)"
PARENT_POLLERS = (
    "import threading; "
    "print([t.name for t in threading.enumerate() if 'Poller' in type(t).__name__])"
)


def end_server(template: Template) -> None:
    """Close the server's end of every template's pipe, as when the server ends."""
    for process in (*template._retired, template._process):
        if isinstance(process, subprocess.Popen):
            process.stdin.close()
            process.wait(30)


@pytest.fixture(scope="module")
def template():
    made = Template()
    yield made
    full = made.full_pid
    end_server(made)
    assert not os.path.exists(made.folder), "its folder is left"
    assert ended(full), "the full template outlived its server"


def start_kernel(template, folder: Path, *, wait: bool = True, **env):
    """A forked kernel and a client connected to it (``wait=False``: as for a visitor)."""
    name = folder / f"kernel-{time.monotonic_ns()}.json"
    connection_file, _ = write_connection_file(str(name))
    process = template.fork(
        [*KERNEL, connection_file], {**os.environ, **env}, str(folder), wait=wait
    )
    client = BlockingKernelClient(connection_file=connection_file)
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return process, client


def execute(client, code: str) -> str:
    """What ``code`` prints in the kernel."""
    printed = []
    reply = client.execute_interactive(
        code,
        timeout=60,
        output_hook=lambda message: printed.append(message["content"].get("text", "")),
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(printed).strip()


def parent_of(pid: int) -> int:
    return psutil.Process(pid).ppid()


def test_a_forked_kernel_runs_with_its_own_environment_folder_name_and_random_numbers(
    template, tmp_path
):
    first, one = start_kernel(template, tmp_path, DIGITWIDGETS_PROBE="first")
    second, two = start_kernel(template, tmp_path, DIGITWIDGETS_PROBE="second")
    try:
        probe = (
            "import os, sys, numpy; "
            "print('tensorflow' in sys.modules, os.environ['DIGITWIDGETS_PROBE'], "
            "os.getcwd(), numpy.random.randint(1 << 30))"
        )
        loaded, name, folder, number = execute(one, probe).split()
        assert loaded == "True", "the kernel imported TensorFlow itself: nothing was preloaded"
        assert name == "first" and Path(folder) == tmp_path
        _, other_name, _, other_number = execute(two, probe).split()
        assert other_name == "second"
        assert number != other_number, "two kernels drew the same random numbers"
        # Tools that look for kernels find them by their command line.
        command = " ".join(psutil.Process(first.pid).cmdline())
        assert "ipykernel_launcher" in command and one.connection_file in command
        assert parent_of(first.pid) == template.full_pid  # the template's child
        # A real model trains in it (TensorFlow works after the fork).
        trained = execute(
            one,
            "from digitwidgets.keras_import import keras; import numpy as np; "
            "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]); "
            "m.compile('sgd', 'mse'); h = m.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0); "
            "print(len(h.history['loss']))",
        )
        assert trained == "1"
        # ipywidgets' comm targets are there (a page builds its widgets through them).
        targets = execute(one, "print(sorted(get_ipython().kernel.comm_manager.targets))")
        assert "'jupyter.widget'" in targets and "'jupyter.widget.control'" in targets
    finally:
        for client in (one, two):
            client.shutdown()
            client.stop_channels()
    assert first.wait(30) == 0 and second.wait(30) == 0


@pytest.fixture
def forking_provisioner(monkeypatch, template):
    """Kernel managers made in the test fork their kernels from ``template``."""
    monkeypatch.setattr(Template, "_shared", template)
    factory = KernelProvisionerFactory.instance()
    monkeypatch.setattr(factory, "default_provisioner_name", "digitwidgets-forking")
    return template


async def printed(client, message_id: str, text: str) -> None:
    """Wait until the cell ``message_id`` has printed ``text``."""
    while True:
        message = await client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        if text in message["content"].get("text", ""):
            return


async def reply_to(client, message_id: str) -> dict:
    """The shell reply to the request ``message_id``."""
    while True:
        reply = await client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == message_id:
            return reply


async def answer(client, code: str) -> str:
    """What ``code`` prints in the kernel, through an asynchronous client."""
    message_id = client.execute(code)
    output = []
    while True:
        message = await client.get_iopub_msg(timeout=60)
        if message["parent_header"].get("msg_id") != message_id:
            continue
        output.append(message["content"].get("text", ""))
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return "".join(output).strip()


def test_a_kernel_manager_starts_interrupts_restarts_and_shuts_down_a_forked_kernel(
    forking_provisioner, tmp_path
):
    template = forking_provisioner

    async def scenario():
        km = AsyncKernelManager(kernel_name="python3")
        await km.start_kernel(cwd=str(tmp_path))
        client = km.client()
        try:
            first = km.provisioner.pid
            assert isinstance(km.provisioner.process, ForkedProcess), "launched, not forked"
            assert parent_of(first) in (template._process.pid, template.full_pid)
            client.start_channels()
            await client.wait_for_ready(timeout=60)
            assert await answer(client, "import os; print(os.getcwd())") == str(tmp_path)

            message_id = client.execute(
                "print('sleeping', flush=True); import time; time.sleep(60)"
            )
            await printed(client, message_id, "sleeping")
            await km.interrupt_kernel()
            reply = await reply_to(client, message_id)
            assert reply["content"]["ename"] == "KeyboardInterrupt"

            await km.restart_kernel()
            second = km.provisioner.pid
            assert second != first and ended(first), "the kernel before the restart lives on"
            assert isinstance(km.provisioner.process, ForkedProcess)
            assert parent_of(second) in (template._process.pid, template.full_pid)
            await client.wait_for_ready(timeout=60)
            assert await answer(client, "print(6 * 7)") == "42"
        finally:
            client.stop_channels()
            await km.shutdown_kernel()
        assert ended(second) and not await km.is_alive()

    run(scenario())


ANOTHER_THREAD = """import threading
threading.Thread(target=threading.Event().wait, name="another-thread", daemon=True).start()
"""


def test_a_template_with_a_second_thread_forks_nothing_and_the_kernel_starts_anew(
    monkeypatch, tmp_path, caplog
):
    # Every Python started with this path runs another thread from its start: the template too.
    (tmp_path / "sitecustomize.py").write_text(ANOTHER_THREAD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setattr(forking, "LIGHT_WAIT_S", 120.0)  # however slow this machine is today
    threaded = Template()
    monkeypatch.setattr(Template, "_shared", threaded)
    factory = KernelProvisionerFactory.instance()
    monkeypatch.setattr(factory, "default_provisioner_name", "digitwidgets-forking")

    async def scenario():
        km = AsyncKernelManager(kernel_name="python3", log=logging.getLogger("server"))
        await km.start_kernel(cwd=str(tmp_path))
        client = km.client()
        try:
            assert not isinstance(km.provisioner.process, ForkedProcess), "forked all the same"
            assert parent_of(km.provisioner.pid) == os.getpid(), "not launched by the server"
            client.start_channels()
            await client.wait_for_ready(timeout=60)
            assert await answer(client, "print(6 * 7)") == "42"
        finally:
            client.stop_channels()
            await km.shutdown_kernel()

    try:
        with caplog.at_level(logging.WARNING, logger="server"):
            run(scenario())
        assert "may not fork: 2 Python threads run in it (another-thread)" in caplog.text
        assert "no full kernel template" in caplog.text
        assert "another-thread" in threaded.full_refusal, "the full template was forked"
        assert threaded.full_pid is None
    finally:
        end_server(threaded)


FORK_HAZARDS = """import _thread, sys, threading, types
import numpy  # its OpenBLAS starts a pool of worker threads
from digitwidgets.server.forking import fork_hazard
print(fork_hazard())
eager = types.ModuleType("context")
eager._context = types.SimpleNamespace(_context_handle=object())  # an operation has run
sys.modules["tensorflow.python.eager.context"] = eager
print(fork_hazard())
del sys.modules["tensorflow.python.eager.context"]
_thread.start_new_thread(threading.Event().wait, ())  # a thread Python's count does not see
print(fork_hazard())
"""


def test_a_process_may_fork_only_with_one_thread_and_no_tensorflow_operation_run():
    lines = subprocess.run(
        [sys.executable, "-c", FORK_HAZARDS], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert lines[0] == "None", "numpy's idle BLAS threads were not ended before the count"
    assert lines[1] == "TensorFlow has run an operation in it"
    assert lines[2] == "2 threads run in it (native threads of a library it imported)"


def test_a_kernel_whose_server_connection_closes_is_killed(template, tmp_path):
    process, client = start_kernel(template, tmp_path)
    full = psutil.Process(template.full_pid)
    files = full.num_fds()
    # A connection that closes before asking for anything is closed and forgotten, not
    # polled forever: by the time the template has forked the next kernel (it reads that
    # request after the silent connection's end), it holds one connection more, not two.
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(template.socket_path)
    silent.close()
    other = template.fork([*KERNEL, str(tmp_path / "other.json")], dict(os.environ), str(tmp_path))
    assert full.num_fds() == files + 1, "the template kept the silent connection"
    other.kill()
    assert other.wait(30) == -signal.SIGKILL
    client.stop_channels()
    process._connection.close()  # what the server's death does to it
    assert ended(process.pid)


def test_kernels_outlive_their_templates_which_are_replaced(monkeypatch, tmp_path):
    monkeypatch.setattr(forking, "LIGHT_WAIT_S", 120.0)  # however slow this machine is today
    template = Template()
    clients = []
    try:
        # A visitor's kernel does not wait for TensorFlow: the light template forks it at
        # once, and it imports TensorFlow itself when it needs it, as a kernel launched anew.
        light, light_client = start_kernel(template, tmp_path, wait=False)
        clients.append(light_client)
        first_light = template._process.pid
        assert parent_of(light.pid) == first_light
        assert execute(light_client, PROBE_TENSORFLOW) == "False"
        full_kernel, full_client = start_kernel(template, tmp_path)  # waits for the full one
        clients.append(full_client)
        first_full = template.full_pid
        assert parent_of(full_kernel.pid) == first_full

        os.kill(first_full, signal.SIGKILL)  # as the OOM killer would
        assert ended(first_full)
        assert execute(full_client, "print(6 * 7)") == "42", "its kernel ended with it"
        # Nothing in it watches its parent, which would end it a second later (ipykernel's
        # parent poller checks once a second).
        assert execute(full_client, PARENT_POLLERS) == "[]"
        # The next kernel finds the full template dead: it starts anew (the provisioner
        # launches it) while a new pair of templates replaces the old one.
        with pytest.raises(forking.TemplateReplaced, match="the full kernel template has ended"):
            template.fork([*KERNEL, str(tmp_path / "k.json")], dict(os.environ), str(tmp_path))
        assert ended(first_light), "the old light template was left running"
        assert execute(light_client, "print(6 * 7)") == "42", "its kernel ended with it"
        later, later_client = start_kernel(template, tmp_path, wait=False)
        clients.append(later_client)
        assert parent_of(later.pid) == template._process.pid != first_light
        assert template.replacements == 1

        # The kernels of the dead templates answer to their server still: when it ends
        # (its end of their pipe closes), they end, and it sees them end.
        template._retired[0].stdin.close()
        assert light.wait(30) is not None and full_kernel.wait(30) is not None
        assert ended(light.pid) and ended(full_kernel.pid)

        # Templates that keep dying are not replaced forever: kernels launch anew.
        monkeypatch.setattr(forking, "MAX_REPLACEMENTS", 1)
        os.kill(template._process.pid, signal.SIGKILL)
        assert ended(template._process.pid)
        for _ in range(2):
            with pytest.raises(OSError, match="2 times since the server started"):
                template.fork([*KERNEL, str(tmp_path / "k.json")], dict(os.environ), str(tmp_path))
        assert execute(later_client, "print(6 * 7)") == "42"
    finally:
        for client in clients:
            client.stop_channels()
        end_server(template)
    assert ended(later.pid), "a kernel outlived its server"


def session_nice(pid) -> int:
    """The nice value of process ``pid``'s session on Linux's scheduler (its autogroup)."""
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


def wait_for_full_pid(template) -> int:
    """The full template's pid, once its pid file is written."""
    wait_until(lambda: template.full_pid is not None, "the full template's pid")
    return template.full_pid


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="Linux autogroups")
def test_the_full_template_takes_only_spare_processor_time_until_it_is_needed(tmp_path):
    template = Template()
    template.start()  # as the server starts: nobody waits for a kernel yet
    try:
        full = wait_for_full_pid(template)  # it writes its pid once its priority is set
        assert session_nice(full) == 19
        assert session_nice(template._process.pid) == 0, "kernels wait for the light template"
        process, client = start_kernel(template, tmp_path)  # this one waits: priority back
        client.stop_channels()
        assert session_nice(full) == 0
        assert session_nice(process.pid) == 0, "a kernel would inherit the low priority"
        process.kill()
    finally:
        end_server(template)


@pytest.mark.skipif(not Path("/proc/self/autogroup").exists(), reason="Linux autogroups")
def test_a_busy_server_cannot_starve_the_full_template(monkeypatch, tmp_path):
    monkeypatch.setattr(forking, "LOW_PRIORITY_S", 0.0)  # its time at the lowest is over
    template = Template()
    template.start()
    try:
        full = wait_for_full_pid(template)
        light, client = start_kernel(template, tmp_path, wait=False)
        client.stop_channels()
        assert session_nice(full) == 0
        light.kill()
    finally:
        end_server(template)


def test_a_server_that_ends_while_the_full_template_imports_leaves_no_process_or_noise(capfd):
    template = Template()
    template.start()
    full = wait_for_full_pid(template)  # it has just begun to import TensorFlow
    end_server(template)  # the server ends: the light template removes the folder
    assert ended(full)
    assert "Traceback" not in capfd.readouterr().err


def test_a_visitors_kernel_is_launched_anew_when_no_template_is_ready_in_time(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(forking, "LIGHT_WAIT_S", 0.0)
    template = Template()
    try:
        with pytest.raises(forking.TemplateNotReady):
            template.fork(
                [*KERNEL, str(tmp_path / "k.json")], dict(os.environ), str(tmp_path), wait=False
            )
    finally:
        end_server(template)


def test_the_server_starts_the_template_when_configured(monkeypatch):
    started = []
    monkeypatch.setattr(Template, "start", lambda self: started.append(self))
    CappedKernelManager()
    assert not started, "started although not configured"
    CappedKernelManager(start_kernel_template=True)
    assert started == [Template.shared()]
    monkeypatch.setenv(SWITCH, "0")
    CappedKernelManager(start_kernel_template=True)
    assert len(started) == 1, "started although kernels are not forked"


def test_only_this_pythons_ipykernel_is_forked(monkeypatch):
    assert Template.can_fork([*KERNEL, "kernel.json"])
    assert not Template.can_fork(["/usr/bin/python3-other", "-m", "ipykernel_launcher"])
    assert not Template.can_fork([sys.executable, "-m", "other_kernel", "-f", "k.json"])
    monkeypatch.setenv(SWITCH, "0")
    assert not Template.can_fork([*KERNEL, "kernel.json"])


def test_kernels_are_forked_on_linux_only(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert not forking.forking_enabled()
    assert not Template.can_fork([*KERNEL, "kernel.json"])


def test_a_template_that_fails_to_start_is_not_tried_again_for_every_kernel(monkeypatch, tmp_path):
    template = Template()
    monkeypatch.setattr(sys, "executable", "/bin/false")  # a template that ends at once
    with pytest.raises(OSError, match="ended"):
        template.fork([*KERNEL, str(tmp_path / "k.json")], dict(os.environ), str(tmp_path))
    failed = template._process
    with pytest.raises(OSError, match="ended"):
        template.fork([*KERNEL, str(tmp_path / "k.json")], dict(os.environ), str(tmp_path))
    assert template._process is failed, "a second template was started"


PRINT_THE_FOLDER = """import os, sys
print(os.environ.get("DIGITWIDGETS_TEMPLATE_FOLDER", ""), flush=True)
sys.stdin.read()
"""


def start_with_binder(
    tmp_path: Path, server: str = PRINT_THE_FOLDER, **env
) -> tuple[subprocess.Popen, str]:
    """``binder/start`` running a stand-in Jupyter server, and the first line it prints.

    The stand-in (named ``jupyter-server``, as binder/start expects of a server) runs the
    Python code ``server``: by default it prints ``DIGITWIDGETS_TEMPLATE_FOLDER`` and runs
    until its standard input closes.
    """
    standin = tmp_path / "jupyter-server"
    standin.write_text(f"#!{sys.executable}\n{server}")
    standin.chmod(0o755)
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    server = subprocess.Popen(
        [str(BINDER_START), str(standin)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PATH": path, **env},
    )
    return server, server.stdout.readline().strip()


def test_binder_start_starts_the_template_before_the_server_which_adopts_it(monkeypatch, tmp_path):
    monkeypatch.setattr(forking, "LIGHT_WAIT_S", 120.0)  # however slow this machine is today
    server, folder = start_with_binder(tmp_path)
    try:
        assert folder and Path(folder).is_dir(), "binder/start started no template"
        monkeypatch.setenv(forking.EARLY_FOLDER, folder)  # as the server's environment has it
        template = Template()
        assert template.folder == folder and forking.EARLY_FOLDER not in os.environ
        assert isinstance(template._process, forking.EarlyTemplate)
        # The first visitor's kernel: forked from it, with the dashboard's modules imported.
        kernel, client = start_kernel(template, tmp_path, wait=False)
        light = template._process.pid
        assert light is not None and psutil.Process(light).ppid() == server.pid
        assert psutil.Process(kernel.pid).ppid() in (light, template.full_pid)
        assert execute(client, "import sys; print('bqplot' in sys.modules)") == "True"
        command = " ".join(psutil.Process(kernel.pid).cmdline())
        assert client.connection_file in command, "no room for the kernel's command line"
        assert "PATH" in psutil.Process(kernel.pid).environ(), "its title overwrote /proc environ"
        client.stop_channels()
        full = wait_for_full_pid(template)
    finally:
        server.stdin.close()  # the server ends: the template's input closes
        server.wait(30)
    for pid in (light, full, kernel.pid):
        assert ended(pid), "a process outlived the server"
    assert not Path(folder).exists(), "its folder is left"


def test_binder_start_starts_no_template_when_kernels_are_not_forked(tmp_path):
    server, folder = start_with_binder(tmp_path, **{SWITCH: "0"})
    server.stdin.close()
    assert server.wait(30) == 0
    assert folder == ""


def test_a_template_binder_start_could_not_start_is_replaced(monkeypatch, tmp_path):
    early = tmp_path / "early"
    early.mkdir()  # binder/start made the folder, but no pid was ever written there
    monkeypatch.setenv(forking.EARLY_FOLDER, str(early))
    monkeypatch.setattr(forking, "LIGHT_WAIT_S", 0.0)
    template = Template()
    assert template.folder == str(early)
    template.start()
    try:
        assert isinstance(template._process, subprocess.Popen), "no template of its own"
        assert template._process.poll() is None
    finally:
        end_server(template)


def test_a_template_that_binder_start_could_not_start_is_replaced_at_once(tmp_path):
    # binder/start takes the Python beside the server's command: here one that fails at once.
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    # The stand-in server waits for that template's end (its pidfd; binder/start may have
    # reaped it already), then asks for a template: the pid binder/start wrote tells it the
    # template has ended, with no wait for LIGHT_WAIT_S (an hour here) as for a template that
    # never wrote one.
    server = """import os, select
from digitwidgets.server import forking
forking.LIGHT_WAIT_S = 3600.0
template = forking.Template()
adopted = template._process
pid = forking._read_pid(os.path.join(template.folder, forking.LIGHT_PID))
try:
    select.select([os.pidfd_open(pid)], [], [], 60)
except ProcessLookupError:
    pass
ended = adopted.poll()
template.start()
print(type(adopted).__name__, ended, type(template._process).__name__, flush=True)
template._process.stdin.close()
template._process.wait(30)
"""
    process, line = start_with_binder(tmp_path, server)
    assert process.wait(60) == 0
    adopted, status, now = line.split()
    assert adopted == "EarlyTemplate"
    assert status == "1", "the server did not see that the template had ended"
    assert now == "Popen", "the server kept a template that had failed"
