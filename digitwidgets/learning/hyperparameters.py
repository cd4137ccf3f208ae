"""The settings of one training run, validated once so the rest of the code can trust them.

Each setting is described once, beside its default in ``Hyperparameters``: a ``FieldSpec``
with its label, help, kind, choices or range, its words in run names and the control that
edits it. ``FIELDS`` collects them in order; the controls, run names, run tables and the
reproduction script are all built from it. Adding a setting means a field here and its use
in the model code (``digitwidgets.learning.model.lenet5``), nothing else.
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
# All of full MNIST's training digits; a run given fewer trains on all it has.
ALL_TRAINING_DIGITS = 60_000

KINDS = ("choice", "int", "float", "bool")
# The control a user interface shows for each kind unless a field asks for another.
CONTROLS = {"choice": "dropdown", "int": "int_text", "float": "float_text", "bool": "checkbox"}


@dataclass(frozen=True)
class FieldSpec:
    """How one hyperparameter is shown, bounded and named: a choice, an int, a float or a flag.

    Attributes:
        label: the control's label, "Learning rate".
        help: one sentence for a tooltip.
        kind: one of ``KINDS``.
        choices: the allowed values of a choice.
        min, max: the allowed range of a number (``min`` excluded if ``min_exclusive``).
        step: the step of a number's control.
        short: its name in run names, before the value ("lr" gives "lr 0.1"); for a flag
            the words when it is on ("augmented"); empty for a choice: the value alone.
        short_off: a flag's words when it is off ("no augmentation").
        control: which control edits it (a value of ``CONTROLS``); by default the kind's.
        log_scale: whether its values are compared on a log axis (a sweep's chart), as
            rates and counts spanning decades are.
    """

    label: str
    help: str
    kind: str
    choices: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    min_exclusive: bool = False
    short: str = ""
    short_off: str = ""
    control: str = ""
    log_scale: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {self.kind!r}.")
        if not self.control:
            object.__setattr__(self, "control", CONTROLS[self.kind])

    def describe_range(self) -> str:
        """The allowed values in words, for error messages."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(choice) for choice in self.choices or ())
        if self.kind == "bool":
            return "True or False"
        low = "(" if self.min_exclusive else "["
        kind = "an integer" if self.kind == "int" else "a finite number"
        return f"{kind} in {low}{_number(self.min)}, {_number(self.max)}]"

    def describe_value(self, value: Any) -> str:
        """``value`` in run names' words: "sgd", "lr 0.1", "augmented"."""
        if self.kind == "bool":
            return self.short if value else self.short_off
        text = _number(value) if isinstance(value, float) else str(value)
        return f"{self.short} {text}" if self.short else text

    def check(self, name: str, value: Any) -> Any:
        """``value`` if allowed (an int given for a float made a float), else ``ValueError``."""
        error = ValueError(f"{name} must be {self.describe_range()}, not {value!r}.")
        if self.kind == "choice":
            if not isinstance(value, str) or value not in (self.choices or ()):
                raise error
            return value
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise error
            return value
        # bool is an int subclass: True as an epoch count is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error
        if self.kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise error
                value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise error
        too_low = value <= self.min if self.min_exclusive else value < self.min
        if too_low or value > self.max:
            raise error
        return value


def _setting(default: Any, spec: FieldSpec) -> Any:
    """A dataclass field with its default and its ``FieldSpec`` (in the field's metadata)."""
    return dataclasses.field(default=default, metadata={"spec": spec})


@dataclass(frozen=True)
class Hyperparameters:
    """The settings of one LeNet-5 training run; invalid values raise ``ValueError``."""

    architecture: str = _setting(
        "modern",
        FieldSpec(
            "Architecture",
            "modern: ReLU-friendly, max pooling on 28x28; classic: LeNet-5 as in 1998, "
            "average pooling on the image padded to 32x32.",
            "choice",
            choices=ARCHITECTURES,
        ),
    )
    activation: str = _setting(
        "relu",
        FieldSpec(
            "Activation",
            "The non-linearity after each convolution and hidden dense layer.",
            "choice",
            choices=ACTIVATIONS,
        ),
    )
    optimizer: str = _setting(
        "adam",
        FieldSpec(
            "Optimizer", "How the weights follow the gradient.", "choice", choices=OPTIMIZERS
        ),
    )
    learning_rate: float = _setting(
        1e-3,
        FieldSpec(
            "Learning rate",
            "Size of each optimizer step; too large and the loss diverges.",
            "float",
            min=0.0,
            max=10.0,
            step=1e-4,
            min_exclusive=True,
            short="lr",
            log_scale=True,
        ),
    )
    epochs: int = _setting(
        20,
        FieldSpec(
            "Epochs",
            "Passes over the training digits.",
            "int",
            min=1,
            max=100,
            step=1,
            short="epochs",
        ),
    )
    batch_size: int = _setting(
        64,
        FieldSpec(
            "Batch size",
            "Digits per optimizer step.",
            "int",
            min=1,
            max=2048,
            step=1,
            short="batch",
        ),
    )
    dropout: float = _setting(
        0.2,
        FieldSpec(
            "Dropout",
            "Fraction of the last hidden layer dropped at random while training.",
            "float",
            min=0.0,
            max=0.9,
            step=0.05,
            short="dropout",
        ),
    )
    validation_split: float = _setting(
        0.1,
        FieldSpec(
            "Validation split",
            "Fraction of the training digits held out to measure progress on unseen digits.",
            "float",
            min=0.0,
            max=0.5,
            step=0.05,
            short="val",
        ),
    )
    train_digits: int = _setting(
        ALL_TRAINING_DIGITS,
        FieldSpec(
            "Training digits",
            "How many digits it learns from (the validation digits are held out first, the "
            "same for every count): 60000 means all of them.",
            "int",
            min=100,
            max=ALL_TRAINING_DIGITS,
            step=100,
            short="digits",
            log_scale=True,
        ),
    )
    augmentation: bool = _setting(
        False,
        FieldSpec(
            "Augmentation",
            "Shift, turn, zoom, thicken or thin training digits at random: drawn digits "
            "read better.",
            "bool",
            short="augmented",
            short_off="no augmentation",
        ),
    )
    seed: int = _setting(
        0,
        FieldSpec(
            "Seed",
            "Random seed: the same seed and settings give the same run.",
            "int",
            min=0,
            max=MAX_SEED,
            step=1,
            short="seed",
        ),
    )

    def __post_init__(self) -> None:
        for name, spec in FIELDS.items():
            value = getattr(self, name)
            checked = spec.check(name, value)
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
        parts = [
            spec.describe_value(getattr(self, name))
            for name, spec in FIELDS.items()
            if getattr(self, name) != getattr(other, name)
        ]
        return ", ".join(parts) if parts else "defaults"


FIELDS: dict[str, FieldSpec] = {
    field.name: field.metadata["spec"] for field in dataclasses.fields(Hyperparameters)
}
"""Every setting's ``FieldSpec``, in the order of ``Hyperparameters``' fields."""


def _number(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
