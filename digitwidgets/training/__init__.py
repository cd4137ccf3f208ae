"""Training LeNet-5 in the background, split by role.

- ``events``: ``EventKind`` and ``TrainingEvent``, what listeners are told.
- ``trainer``: ``Trainer``, the training thread's life, finishing and saving a run.
- ``progress``: ``ProgressCallback`` (the thin Keras callback) and ``RunProgress``.
- ``data``: the checked arrays and the ``tf.data`` pipelines.
- ``memory``: handing a finished run's memory back to the system.
"""

from __future__ import annotations

from .data import datasets, training_arrays
from .events import EventKind, TrainingEvent
from .memory import release_memory
from .progress import (
    EXPLODED_LOSS,
    HISTORY_KEYS,
    ModelSnapshot,
    ProgressCallback,
    RunProgress,
    inference_copy,
)
from .trainer import Trainer, TrainingInProgressError

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
