"""A package's public names imported on first use, so that importing the package stays cheap.

``digitwidgets``, ``digitwidgets.learning.training`` and ``digitwidgets.widgets`` name their public
classes and functions up front, but import a module (and TensorFlow or ipywidgets with it)
only when one of its names is first used (PEP 562's module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package whose globals are ``namespace``.

    ``exports`` maps each public name to the module that defines it, relative to the
    package ("model", "widgets.controls"). A name is imported on first use and then kept
    in the package's globals, so the next use is an ordinary attribute. At the end of the
    package's ``__init__.py``::

        __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
    """
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
