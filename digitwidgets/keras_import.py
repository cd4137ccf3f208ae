"""Keras, imported without the optional libraries it would load for features we never use.

``import keras`` builds its whole public API, and two corners of it import large optional
libraries when they are installed: its scikit-learn wrappers (``keras.wrappers``) import
scikit-learn, which openTSNE brings along, and ``keras.visualization`` imports matplotlib's
pyplot (in the test environment). Neither is used here. On a 2-core machine they cost 1-2 of
the 7 processor-seconds of ``import keras``, paid by every dashboard kernel that shows the pad
(``bench/bench_time_to_interactive.py`` reports the load as ``in_kernel.load_pretrained_s``).

While Keras is imported for the first time, those libraries are marked as unavailable in
``sys.modules``; Keras then leaves those features out, as it does where they are not
installed. The marks are removed at once, so openTSNE and anyone else import them as usual.

In a kernel forked from a template (``digitwidgets.server.forking``), whose imports the
template froze out of Python's garbage collections, the objects Keras and TensorFlow bring
are frozen too (``gc.freeze``). A full template has them frozen already; a light one's kernel
imports Keras itself, and each full collection would walk them all: 0.2-0.3 s holding the
interpreter, such as the Trainer's after a large run (``learning/training/memory.py``).

Every module of the package that needs Keras imports it from here::

    from .keras_import import keras
"""

from __future__ import annotations

import gc
import sys

# What Keras imports only for its scikit-learn wrappers and its plotting helpers.
NOT_FOR_KERAS = ("sklearn", "matplotlib")


def _import_keras():
    """``keras``, imported without ``NOT_FOR_KERAS`` unless it is imported already.

    Runs once, while this module is imported: Python's lock on the module keeps a second
    thread out until it is done.
    """
    if "keras" in sys.modules:
        import keras

        return keras
    marked = [name for name in NOT_FOR_KERAS if name not in sys.modules]
    for name in marked:
        sys.modules[name] = None  # "import sklearn" raises ImportError while this holds
    try:
        import keras
    finally:
        for name in marked:
            if sys.modules.get(name, False) is None:
                del sys.modules[name]
    if gc.get_freeze_count():
        # A process that froze its imports (a forked kernel). Importing leaves nothing in
        # cycles to free (a full collection right after finds nothing), so nothing that
        # should be freed is kept. What the kernel built before (the page) is frozen with
        # it: any part of that page replaced later is not freed if it holds cycles (once).
        gc.freeze()
    return keras


keras = _import_keras()
