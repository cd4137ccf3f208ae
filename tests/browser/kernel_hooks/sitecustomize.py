"""Hooks the browser tests put into a dashboard server's kernels, chosen by environment.

The tests' Voila servers get this folder on their ``PYTHONPATH``; Python imports this file in
every process they start, and it acts only in kernels (launched anew, or the kernel template
of ``digitwidgets.server.forking``, whose forks inherit what it patched). Each hook patches a
module right after the kernel imports it, so the kernel starts as it always does:

- ``$DIGITWIDGETS_EPOCH_GATE`` (``tests/browser/conftest.py``'s ``epoch_gate``): while that
  file holds a number N, a run waits at the end of its N-th epoch (its epoch event already
  sent, so the page shows it) until the number grows, the file goes, or the run is stopped
  (Stop, or the kernel shutting down). So "Stop lands mid-run" and "the page closes during
  training" hold on any machine, however fast, instead of counting on a long run lasting.
- ``$DIGITWIDGETS_LATE_MODEL_READY`` (``test_reliability.py``): the pretrained model loads as
  usual but is handed over only when the page has asked for every widget's state (the control
  comm's ``request_states``), while the page is still building its widgets. Once a kernel
  holds its loaded model, it tells the test (below).
- ``$DIGITWIDGETS_MODEL_LOADED`` (``test_crowd.py``): once a kernel has taken the pretrained
  model as its current one, it tells the test.

A kernel tells the test by sending its process id, a datagram, to the Unix socket the
variable names (``tests/browser/kernel_messages.py`` listens there).
"""

import contextlib
import importlib.abc
import importlib.machinery
import os
import socket
import sys
import threading


def _allowed_epochs() -> float:
    try:
        with open(os.environ["DIGITWIDGETS_EPOCH_GATE"]) as gate:
            return float(gate.read().strip() or "inf")
    except (KeyError, OSError, ValueError):
        return float("inf")


def _gate_epoch_ends(progress) -> None:
    callback = progress.ProgressCallback
    on_epoch_end = callback.on_epoch_end

    def on_epoch_end_gated(self, epoch, logs=None):
        on_epoch_end(self, epoch, logs)
        # Stop wakes the run at once; the gate file, which the test rewrites, is read again
        # every 50 ms meanwhile.
        while epoch + 1 >= _allowed_epochs() and not self.stop_requested.wait(0.05):
            pass

    callback.on_epoch_end = on_epoch_end_gated


def _tell_the_test(variable: str) -> None:
    """Send this process's id to the Unix socket that ``$variable`` names."""
    # An OSError: the test has stopped listening.
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as message, contextlib.suppress(OSError):
        message.sendto(str(os.getpid()).encode(), os.environ[variable])


def _hold_the_model_until_the_page_asks(current_model) -> None:
    import ipywidgets.widgets.widget as widget_module

    from digitwidgets.learning import pretrained

    asked = threading.Event()
    answer_states = widget_module.Widget._handle_control_comm_msg.__func__

    def handle_control_message(cls, message):
        answer_states(cls, message)
        asked.set()

    widget_module.Widget._handle_control_comm_msg = classmethod(handle_control_message)
    use_pretrained = current_model.CurrentModel.use_pretrained

    def use_pretrained_late(self, **kwargs):
        loaded = pretrained.load_pretrained()
        pretrained.load_pretrained = lambda: loaded
        _tell_the_test("DIGITWIDGETS_LATE_MODEL_READY")
        asked.wait(120)
        return use_pretrained(self, **kwargs)

    current_model.CurrentModel.use_pretrained = use_pretrained_late


def _tell_when_the_model_is_loaded(current_model) -> None:
    use_pretrained = current_model.CurrentModel.use_pretrained

    def use_pretrained_and_tell(self, **kwargs):
        used = use_pretrained(self, **kwargs)
        if self.model is not None:
            _tell_the_test("DIGITWIDGETS_MODEL_LOADED")
        return used

    current_model.CurrentModel.use_pretrained = use_pretrained_and_tell


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Calls each of ``patches[name]`` on the module ``name`` right after it first runs."""

    def __init__(self, patches):
        self.patches = patches

    def find_spec(self, name, path, target=None):
        if name not in self.patches:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            for patch in self.patches[name]:
                patch(module)

        spec.loader.exec_module = exec_module
        return spec


def _patches() -> dict:
    chosen = {
        "DIGITWIDGETS_EPOCH_GATE": ("digitwidgets.learning.training.progress", _gate_epoch_ends),
        "DIGITWIDGETS_LATE_MODEL_READY": (
            "digitwidgets.learning.current_model",
            _hold_the_model_until_the_page_asks,
        ),
        "DIGITWIDGETS_MODEL_LOADED": (
            "digitwidgets.learning.current_model",
            _tell_when_the_model_is_loaded,
        ),
    }
    patches = {}
    for variable, (module, patch) in chosen.items():
        if variable in os.environ:
            patches.setdefault(module, []).append(patch)
    return patches


_ARGV = " ".join(getattr(sys, "orig_argv", []))
if "ipykernel_launcher" in _ARGV or "digitwidgets.server.forking" in _ARGV:
    _PATCHES = _patches()
    if _PATCHES:
        sys.meta_path.insert(0, _PatchOnImport(_PATCHES))
