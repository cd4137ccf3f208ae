"""Kernels forked from the templates: a real kernel each, tied to its server and its template.

One template serves the module (it imports TensorFlow once, about 7 s here); each test forks
its own kernels from it and talks to them with a plain Jupyter client.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

from digitwidgets.server import forking
from digitwidgets.server.forking import SWITCH, Template
from digitwidgets.server.kernels import CappedKernelManager

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kernels are forked on POSIX")

KERNEL = [sys.executable, "-m", "ipykernel_launcher", "-f"]
BINDER_START = Path(__file__).resolve().parents[2] / "binder" / "start"


@pytest.fixture(scope="module")
def template():
    made = Template()
    yield made
    full = made.full_pid
    made._process.stdin.close()  # as when its server ends
    made._process.wait(30)
    assert not os.path.exists(made.folder), "its folder is left"
    assert gone(full), "the full template outlived its server"


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


def run(client, code: str) -> str:
    """What ``code`` prints in the kernel."""
    printed = []
    reply = client.execute_interactive(
        code,
        timeout=60,
        output_hook=lambda message: printed.append(message["content"].get("text", "")),
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(printed).strip()


def gone(pid: int, timeout: float = 30.0) -> bool:
    """Whether the process ``pid`` ends (or is only a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def wait_for_end(process, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return process.poll()


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
        loaded, name, folder, number = run(one, probe).split()
        assert loaded == "True", "the kernel imported TensorFlow itself: nothing was preloaded"
        assert name == "first" and Path(folder) == tmp_path
        _, other_name, _, other_number = run(two, probe).split()
        assert other_name == "second"
        assert number != other_number, "two kernels drew the same random numbers"
        # Tools that look for kernels find them by their command line.
        command = " ".join(psutil.Process(first.pid).cmdline())
        assert "ipykernel_launcher" in command and one.connection_file in command
        assert psutil.Process(first.pid).ppid() != os.getpid()  # the template's child
        # A real model trains in it (TensorFlow works after the fork).
        trained = run(
            one,
            "from digitwidgets.keras_import import keras; import numpy as np; "
            "m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]); "
            "m.compile('sgd', 'mse'); h = m.fit(np.ones((8, 4)), np.ones((8, 2)), verbose=0); "
            "print(len(h.history['loss']))",
        )
        assert trained == "1"
        # ipywidgets' comm targets are there (a page builds its widgets through them).
        targets = run(one, "print(sorted(get_ipython().kernel.comm_manager.targets))")
        assert "'jupyter.widget'" in targets and "'jupyter.widget.control'" in targets
    finally:
        for client in (one, two):
            client.shutdown()
            client.stop_channels()
    assert wait_for_end(first) == 0 and wait_for_end(second) == 0


def test_an_interrupt_reaches_the_kernel(template, tmp_path):
    process, client = start_kernel(template, tmp_path)
    try:
        message_id = client.execute("import time; time.sleep(60)")
        time.sleep(1)
        process.send_signal(signal.SIGINT)
        reply = client.get_shell_msg(timeout=30)
        while reply["parent_header"]["msg_id"] != message_id:  # e.g. wait_for_ready's replies
            reply = client.get_shell_msg(timeout=30)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
    finally:
        client.shutdown()
        client.stop_channels()
    assert wait_for_end(process) == 0


def test_a_kernel_whose_server_connection_closes_is_killed(template, tmp_path):
    process, client = start_kernel(template, tmp_path)
    # A connection that closes before asking for anything is forgotten, not polled forever.
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.connect(template.socket_path)
    silent.close()
    time.sleep(0.5)
    busy = psutil.Process(template.full_pid)
    before = sum(busy.cpu_times()[:2])
    time.sleep(1.0)
    assert sum(busy.cpu_times()[:2]) - before < 0.5, "the template spins on a closed connection"
    client.stop_channels()
    process._connection.close()  # what the server's death does to it
    assert gone(process.pid)


def test_a_visitors_kernel_is_forked_before_tensorflow_is_in_and_all_end_with_the_template(
    monkeypatch, tmp_path
):
    monkeypatch.setattr(forking, "LIGHT_WAIT_S", 120.0)  # however slow this machine is today
    template = Template()
    # A visitor's kernel does not wait for TensorFlow: the light template forks it at once,
    # and it imports TensorFlow itself when it needs it, as a kernel launched anew does.
    light, light_client = start_kernel(template, tmp_path, wait=False)
    assert psutil.Process(light.pid).ppid() == template._process.pid
    probe = "import sys; print('tensorflow' in sys.modules)"
    assert run(light_client, probe) == "False"
    run(light_client, "from digitwidgets.keras_import import keras")
    assert run(light_client, probe) == "True"
    process, client = start_kernel(template, tmp_path)  # waits for the full template
    assert psutil.Process(process.pid).ppid() == template.full_pid
    for each in (light_client, client):
        each.stop_channels()
    full = template.full_pid
    template._process.kill()  # no word to anybody: the full template and the kernels notice
    template._process.wait(30)
    assert gone(full)
    for kernel in (light, process):
        assert wait_for_end(kernel) is not None
        assert gone(kernel.pid)


def session_nice(pid) -> int:
    """The nice value of process ``pid``'s session on Linux's scheduler (its autogroup)."""
    return int(Path(f"/proc/{pid}/autogroup").read_text().split()[-1])


def wait_for_full_pid(template, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while template.full_pid is None:
        assert time.monotonic() < deadline, "the full template did not start"
        time.sleep(0.01)
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
        template._process.stdin.close()
        template._process.wait(30)


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
        template._process.stdin.close()
        template._process.wait(30)


def test_a_server_that_ends_while_the_full_template_imports_leaves_no_process_or_noise(capfd):
    template = Template()
    template.start()
    full = wait_for_full_pid(template)  # it has just begun to import TensorFlow
    template._process.stdin.close()  # the server ends: the light template removes the folder
    template._process.wait(30)
    assert gone(full, timeout=30)
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
        template._process.stdin.close()
        template._process.wait(30)


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
        assert run(client, "import sys; print('bqplot' in sys.modules)") == "True"
        command = " ".join(psutil.Process(kernel.pid).cmdline())
        assert client.connection_file in command, "no room for the kernel's command line"
        assert "PATH" in psutil.Process(kernel.pid).environ(), "its title overwrote /proc environ"
        client.stop_channels()
        full = wait_for_full_pid(template)
    finally:
        server.stdin.close()  # the server ends: the template's input closes
        server.wait(30)
    for pid in (light, full, kernel.pid):
        assert gone(pid), "a process outlived the server"
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
        template._process.stdin.close()
        template._process.wait(30)


def test_a_template_that_binder_start_could_not_start_is_replaced_at_once(tmp_path):
    # binder/start takes the Python beside the server's command: here one that fails at once.
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    server = """import time
from digitwidgets.server import forking
template = forking.Template()
adopted = type(template._process).__name__
time.sleep(1.0)  # the template binder/start started has failed by now
began = time.monotonic()
template.start()
print(adopted, type(template._process).__name__, time.monotonic() - began, flush=True)
template._process.stdin.close()
template._process.wait(30)
"""
    process, line = start_with_binder(tmp_path, server)
    assert process.wait(60) == 0
    adopted, now, seconds = line.split()
    assert adopted == "EarlyTemplate"
    assert now == "Popen", "the server kept a template that had failed"
    assert float(seconds) < 1.0, "it waited for the failed template"
