"""The package's public names resolve, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import digitwidgets


def test_every_exported_name_resolves():
    missing = [name for name in digitwidgets.__all__ if getattr(digitwidgets, name, None) is None]
    assert missing == []


def test_importing_the_package_loads_neither_tensorflow_nor_ipywidgets():
    code = (
        "import sys, digitwidgets; from digitwidgets import preprocess_digit, load_mnist; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'ipywidgets') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
