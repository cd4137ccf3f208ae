"""Inference copies of a training model: the model a page reads while the training goes on.

A training hands a copy over at every epoch's end. Building one from its recipe (the model's
config, with each training-only layer an identity) costs about 20 ms; Keras spends it
creating layers and variables. So the copies are kept in a few slots per recipe (runs with
the same settings share them), and a slot whose last copy nobody holds any more is used
again. Its layers take the new weights (about a millisecond), and it is handed out as a new
functional model on those layers (under a millisecond). Being a new object, it is never
taken for the old copy by anything that remembers a model (traced functions, remembered
readings, a view's last model).

"Nobody holds it" is CPython's reference count: the handed-out model's count is back at what
the slot's own hold gives it. A copy that anyone keeps (the current model, a view's last
shown model, a reaction under way, a finished run's model) is never changed; when every
slot is held a new one is built.
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections import OrderedDict
from copy import deepcopy

from ...keras_import import keras
from ...reading import inference
from .. import augmentation

# Slots kept per recipe: the copy on show, the one before it and a view's older one are
# held; beyond that a slot is dropped (its copy lives on, never reused).
SLOTS = 4


def inference_copy(model, weights=None):
    """A copy of ``model`` with ``weights`` (default: its own), safe to use while it trains.

    Augmentation layers act only in training, so the copy has identities in their place
    (they hold no weights): the copy, and the run saved from it, load with plain Keras.
    """
    return _copies_of(model).copy(weights if weights is not None else model.get_weights())


class _Slot:
    """A copy built from the recipe (``base``, never handed out) and the model last handed
    out on its layers."""

    def __init__(self, base):
        self.base = base
        self.model = None
        self._held = 0

    def hand_out(self, weights):
        """Put ``weights`` in the layers and return a new model on them."""
        inference.assign_weights(self.base, weights)
        self.model = keras.Model(
            inputs=self.base.input, outputs=self.base.output, name=self.base.name
        )
        inference.adopt(self.model, self.base)
        self._held = self._references()
        return self.model

    def free(self) -> bool:
        """Whether no one but this slot holds the model handed out last."""
        return self.model is not None and self._references() <= self._held

    def _references(self) -> int:
        return sys.getrefcount(self.model)


class _Copies:
    """The slots of one recipe."""

    def __init__(self, kind: type, config: dict):
        self.kind, self.config = kind, config
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()

    def copy(self, weights):
        if self.kind is not keras.Model:
            # A functional model on existing layers describes itself as a functional recipe
            # does; a sequential one would not: its copies are built each time.
            copy = self._build()
            copy.set_weights(weights)
            return copy
        with self._lock:
            slot = next((slot for slot in self._slots if slot.free()), None)
            if slot is None:
                slot = _Slot(self._build())
                self._slots = [*self._slots, slot][-SLOTS:]
            return slot.hand_out(weights)

    def _build(self):
        return self.kind.from_config(deepcopy(self.config))  # from_config takes it apart


# Each training model's slots, found through its recipe: a run's copies use the slots that
# the runs before it with the same settings left free (a run of a few epochs would otherwise
# build most of its copies anew). The last few recipes are kept.
_of_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_of_recipe: OrderedDict[str, _Copies] = OrderedDict()
RECIPES = 4
_lock = threading.Lock()


def _copies_of(model) -> _Copies:
    with _lock:
        copies = _of_model.get(model)
    if copies is not None:
        return copies
    kind, config = _recipe(model)
    key = inference.config_signature(kind.__name__, config)
    with _lock:
        copies = _of_recipe.get(key)
        if copies is None:
            copies = _of_recipe[key] = _Copies(kind, config)
            while len(_of_recipe) > RECIPES:
                _of_recipe.popitem(last=False)
        _of_recipe.move_to_end(key)
        _of_model[model] = copies
    return copies


def _recipe(model) -> tuple[type, dict]:
    """The class and config of ``model``'s inference copy: its config with each
    training-only layer's entry made an ``Identity`` of the same name."""
    kind = keras.Sequential if isinstance(model, keras.Sequential) else keras.Model
    training_only = {
        layer.name for layer in model.layers if isinstance(layer, augmentation.TRAINING_ONLY_LAYERS)
    }
    config = model.get_config()
    if training_only and kind is keras.Model:
        config["layers"] = [
            _identity(entry) if entry.get("name") in training_only else entry
            for entry in config["layers"]
        ]
    elif training_only:  # Keras's own way, for a model described otherwise
        copy = keras.models.clone_model(model, clone_function=_inference_layer)
        config = copy.get_config()
    return kind, config


def _identity(entry: dict) -> dict:
    """A functional config's layer entry as an ``Identity`` with the same name and inputs."""
    name = entry["name"]
    return {
        "module": "keras.layers",
        "class_name": "Identity",
        "config": {"name": name, "trainable": True, "dtype": entry["config"].get("dtype")},
        "registered_name": None,
        "name": name,
        "inbound_nodes": entry["inbound_nodes"],
    }


def _inference_layer(layer):
    if isinstance(layer, augmentation.TRAINING_ONLY_LAYERS):
        return keras.layers.Identity(name=layer.name)
    return layer.__class__.from_config(layer.get_config())
