"""Lets a browser test decide how many epochs a dashboard kernel's run may finish.

Put on the ``PYTHONPATH`` of the tests' Voila servers (``tests/browser/conftest.py``). While
the file ``$DIGITWIDGETS_EPOCH_GATE`` exists and holds a number N, a run in a kernel of that
server waits at the end of its N-th epoch (its epoch event already sent, so the page shows it)
until the number grows, the file goes, or the run is stopped (Stop, or the kernel shutting
down). So "Stop lands mid-run" and "the page closes during training" hold on any machine,
however fast, instead of counting on a long run lasting. Without the file nothing changes.

The patch is made when ``digitwidgets.training.progress`` is imported: in a kernel launched
anew, or once in the kernel template (``digitwidgets.server.forking``), whose forks inherit it.
"""

import importlib.abc
import importlib.machinery
import os
import sys
import time

TARGET = "digitwidgets.training.progress"


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
        while epoch + 1 >= _allowed_epochs() and not self.stop_requested.is_set():
            time.sleep(0.05)

    callback.on_epoch_end = on_epoch_end_gated


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _gate_epoch_ends(module)

        spec.loader.exec_module = exec_module
        return spec


_ARGV = " ".join(getattr(sys, "orig_argv", []))
if "ipykernel_launcher" in _ARGV or "digitwidgets.server.forking" in _ARGV:
    sys.meta_path.insert(0, _PatchOnImport())
