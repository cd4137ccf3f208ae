"""Makes a dashboard kernel's pretrained model arrive at the worst moment for its page.

Put on ``PYTHONPATH`` of a Voila server by ``tests/browser/test_reliability.py``: in each
kernel, the model loads as usual but is handed over only when the page has asked for every
widget's state (the control comm's ``request_states``), a few milliseconds after the answer
went out, while the page is still building its widgets. Imports nothing until the kernel
imports ``digitwidgets.current_model``, so the kernel starts as it always does. Once a kernel
holds its loaded model, it writes its process id to ``$DIGITWIDGETS_LATE_MODEL_READY``.
"""

import importlib.abc
import importlib.machinery
import os
import sys
import threading

TARGET = "digitwidgets.current_model"


def _hold_the_model_until_the_page_asks(current_model) -> None:
    import ipywidgets.widgets.widget as widget_module

    from digitwidgets import pretrained

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
        with open(os.environ["DIGITWIDGETS_LATE_MODEL_READY"], "a") as ready:
            ready.write(f"{os.getpid()}\n")
        asked.wait(120)
        return use_pretrained(self, **kwargs)

    current_model.CurrentModel.use_pretrained = use_pretrained_late


class _PatchOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _hold_the_model_until_the_page_asks(module)

        spec.loader.exec_module = exec_module
        return spec


if "ipykernel_launcher" in " ".join(getattr(sys, "orig_argv", [])):
    sys.meta_path.insert(0, _PatchOnImport())
