"""The settings of one training run, validated once so the rest of the code can trust them.

``FIELDS`` describes every setting (label, help, kind, choices or range) so that user
interfaces can build their controls from it instead of repeating the ranges.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

ARCHITECTURES = ("modern", "classic")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu")
OPTIMIZERS = ("adam", "sgd", "rmsprop", "adagrad", "nadam")
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class FieldSpec:
    """How one hyperparameter is shown and bounded: a choice, an int, a float or a flag."""

    label: str
    help: str
    kind: str  # "choice" | "int" | "float" | "bool"
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    min_exclusive: bool = False

    def describe_range(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(choice) for choice in self.choices or ())
        if self.kind == "bool":
            return "True or False"
        low = "(" if self.min_exclusive else "["
        kind = "an integer" if self.kind == "int" else "a finite number"
        return f"{kind} in {low}{_number(self.min)}, {_number(self.max)}]"


FIELDS: dict[str, FieldSpec] = {
    "architecture": FieldSpec(
        "Architecture",
        "modern: ReLU-friendly, max pooling on 28x28; classic: LeNet-5 as in 1998, "
        "average pooling on the image padded to 32x32.",
        "choice",
        choices=ARCHITECTURES,
    ),
    "activation": FieldSpec(
        "Activation",
        "The non-linearity after each convolution and hidden dense layer.",
        "choice",
        choices=ACTIVATIONS,
    ),
    "optimizer": FieldSpec(
        "Optimizer", "How the weights follow the gradient.", "choice", choices=OPTIMIZERS
    ),
    "learning_rate": FieldSpec(
        "Learning rate",
        "Size of each optimizer step; too large and the loss diverges.",
        "float",
        min=0.0,
        max=10.0,
        step=1e-4,
        min_exclusive=True,
    ),
    "epochs": FieldSpec(
        "Epochs", "Passes over the training digits.", "int", min=1, max=100, step=1
    ),
    "batch_size": FieldSpec(
        "Batch size", "Digits per optimizer step.", "int", min=1, max=2048, step=1
    ),
    "dropout": FieldSpec(
        "Dropout",
        "Fraction of the last hidden layer dropped at random while training.",
        "float",
        min=0.0,
        max=0.9,
        step=0.05,
    ),
    "validation_split": FieldSpec(
        "Validation split",
        "Fraction of the training digits held out to measure progress on unseen digits.",
        "float",
        min=0.0,
        max=0.5,
        step=0.05,
    ),
    "augmentation": FieldSpec(
        "Augmentation",
        "Shift, turn, zoom, thicken or thin training digits at random: drawn digits read better.",
        "bool",
    ),
    "seed": FieldSpec(
        "Seed",
        "Random seed: the same seed and settings give the same run.",
        "int",
        min=0,
        max=MAX_SEED,
        step=1,
    ),
}


@dataclass(frozen=True)
class Hyperparameters:
    """The settings of one LeNet-5 training run; invalid values raise ``ValueError``."""

    architecture: str = "modern"
    activation: str = "relu"
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    epochs: int = 20
    batch_size: int = 64
    dropout: float = 0.2
    validation_split: float = 0.1
    augmentation: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        for name, spec in FIELDS.items():
            value = getattr(self, name)
            checked = _check(name, spec, value)
            if checked is not value:
                # Frozen: normalize ints given for floats (learning_rate=1) the dataclass way.
                object.__setattr__(self, name, checked)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values, field by field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Hyperparameters:
        """Rebuild from ``to_dict()`` output; missing keys take their defaults (older runs)."""
        unknown = sorted(set(values) - set(FIELDS))
        if unknown:
            raise ValueError(
                f"Unknown hyperparameter(s): {', '.join(unknown)}. Known ones: {', '.join(FIELDS)}."
            )
        return cls(**values)

    def replace(self, **changes: Any) -> Hyperparameters:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def describe_changes(self, other: Hyperparameters | None = None) -> str:
        """A short label of what differs from ``other`` (default: the defaults): "sgd, lr 0.1"."""
        other = other if other is not None else Hyperparameters()
        parts = []
        for name in FIELDS:
            value = getattr(self, name)
            if value != getattr(other, name):
                parts.append(_short(name, value))
        return ", ".join(parts) if parts else "defaults"


def _check(name: str, spec: FieldSpec, value: Any) -> Any:
    allowed = spec.describe_range()
    if spec.kind == "choice":
        if not isinstance(value, str) or value not in (spec.choices or ()):
            raise ValueError(f"{name} must be {allowed}, not {value!r}.")
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be {allowed}, not {value!r}.")
        return value
    # bool is an int subclass: True as an epoch count is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be {allowed}, not {value!r}.")
    if spec.kind == "int":
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{name} must be {allowed}, not {value!r}.")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be {allowed}, not {value!r}.")
    too_low = value <= spec.min if spec.min_exclusive else value < spec.min
    if too_low or value > spec.max:
        raise ValueError(f"{name} must be {allowed}, not {value!r}.")
    return value


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_SHORT_NAMES = {
    "learning_rate": "lr",
    "epochs": "epochs",
    "batch_size": "batch",
    "dropout": "dropout",
    "validation_split": "val",
    "seed": "seed",
}


def _short(name: str, value: Any) -> str:
    if name in ("architecture", "activation", "optimizer"):
        return str(value)
    if name == "augmentation":
        return "augmented" if value else "no augmentation"
    return f"{_SHORT_NAMES[name]} {_number(value) if isinstance(value, float) else value}"
