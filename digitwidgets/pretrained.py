"""The LeNet-5 shipped with the package, so a visitor can draw before training anything.

``scripts/train_pretrained.py`` trains it on the embedded MNIST sample's 8,500 training
digits with augmentation and writes ``assets/pretrained_lenet5.keras`` and, beside it,
``assets/pretrained_lenet5.json`` with what it was trained on and what it scores:

- on the sample's 1,500 test digits (real MNIST, never trained on):
  ``info["mnist_test_accuracy"]``;
- on the project's drawn-digit set (``drawn_digits.py``, 600 digits drawn as on the pad,
  never trained on), with MNIST-style preprocessing: ``info["drawn_digits_accuracy"]["mnist"]``.

At the time of writing: 98.1% on the MNIST sample's test digits and 98.8% on the drawn digits
(``docs/handwriting.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
MODEL_PATH = ASSETS / "pretrained_lenet5.keras"
INFO_PATH = ASSETS / "pretrained_lenet5.json"


def load_pretrained():
    """A fresh copy of the shipped LeNet-5 and its facts: ``(model, info)``.

    ``info`` holds ``mnist_test_accuracy``, ``drawn_digits_accuracy`` (``{"mnist": ...,
    "plain": ...}`` by preprocessing), ``hyperparameters``, ``train_digits`` and
    ``description``, a sentence to show beside the model. Each call loads a new model, so
    fine-tuning one never changes another.
    """
    from .keras_import import keras

    model = keras.saving.load_model(MODEL_PATH, compile=True)
    return model, pretrained_info()


def pretrained_info() -> dict:
    """The shipped model's facts (see ``load_pretrained``) without loading Keras."""
    info = json.loads(INFO_PATH.read_text(encoding="utf-8"))
    info["description"] = describe(info)
    return info


def describe(info: dict) -> str:
    """A sentence for the dashboard: what the pretrained model is and how well it reads."""
    return (
        f"Pretrained LeNet-5 ({info['train_digits']:,} MNIST digits, augmented): "
        f"{info['mnist_test_accuracy']:.1%} on MNIST test digits, "
        f"{info['drawn_digits_accuracy']['mnist']:.1%} on {info['drawn_digits']['count']} "
        "digits drawn as on the pad."
    )
