"""Training LeNet-5 in the background, split by role.

- ``events``: ``EventKind`` and ``TrainingEvent``, what listeners are told.
- ``trainer``: ``Trainer``, the training thread's life, finishing and saving a run.
- ``progress``: ``ProgressCallback`` (the thin Keras callback) and ``RunProgress``.
- ``copies``: the inference copy of a training model that each epoch hands over.
- ``data``: the checked arrays and the ``tf.data`` pipelines.
- ``memory``: handing a finished run's memory back to the system.
"""

from __future__ import annotations

from ...lazy import lazy_exports
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
    "inference_copy": "copies",
}


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

__getattr__, __dir__ = lazy_exports(globals(), _LAZY)
