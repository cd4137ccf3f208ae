"""Training LeNet-5 in the background, split by role.

- ``events``: ``EventKind`` and ``TrainingEvent``, what listeners are told.
- ``trainer``: ``Trainer``, the training thread's life, finishing and saving a run.
- ``progress``: ``ProgressCallback`` (the thin Keras callback) and ``RunProgress``.
- ``data``: the checked arrays and the ``tf.data`` pipelines.
- ``memory``: handing a finished run's memory back to the system.
"""

from __future__ import annotations

import importlib

from .data import training_arrays
from .events import EventKind, TrainingEvent
from .memory import release_memory
from .trainer import Trainer, TrainingInProgressError

# Names whose modules import TensorFlow: loaded on first use, so that importing the package
# (and building a Trainer) stays cheap.
_LAZY = {
    "datasets": "data",
    "EXPLODED_LOSS": "progress",
    "HISTORY_KEYS": "progress",
    "ModelSnapshot": "progress",
    "ProgressCallback": "progress",
    "RunProgress": "progress",
    "inference_copy": "progress",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "EXPLODED_LOSS",
    "HISTORY_KEYS",
    "EventKind",
    "ModelSnapshot",
    "ProgressCallback",
    "RunProgress",
    "Trainer",
    "TrainingEvent",
    "TrainingInProgressError",
    "datasets",
    "inference_copy",
    "release_memory",
    "training_arrays",
]
