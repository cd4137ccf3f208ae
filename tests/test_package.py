"""The package's public names resolve, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import digitwidgets


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` run in a fresh Python (nothing imported yet); fails the test if it fails."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


def test_every_exported_name_resolves():
    missing = [name for name in digitwidgets.__all__ if getattr(digitwidgets, name, None) is None]
    assert missing == []


def test_importing_the_package_loads_neither_tensorflow_nor_ipywidgets():
    code = (
        "import sys, digitwidgets; from digitwidgets import preprocess_digit, load_mnist; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'ipywidgets') if m in sys.modules))"
    )
    result = run_python(code)
    assert result.stdout.strip() == "[]"


def test_every_widget_component_is_exported_from_digitwidgets_widgets():
    import digitwidgets.widgets as components
    from digitwidgets.widgets import HandwritingPanel
    from digitwidgets.widgets.handwriting_panel import HandwritingPanel as defined

    assert HandwritingPanel is defined is digitwidgets.HandwritingPanel
    missing = [name for name in components.__all__ if getattr(components, name, None) is None]
    assert missing == []
    assert "HandwritingPanel" in dir(components)
    # Every component class in the package is among them.
    import ipywidgets

    for name in components.__all__:
        assert issubclass(getattr(components, name), ipywidgets.Box), name


def test_importing_one_component_does_not_import_the_others():
    code = (
        "import sys; import digitwidgets.widgets as w; "
        "from digitwidgets.widgets import DrawingPad; "
        "print(sorted(m for m in set(w._EXPORTS.values()) "
        "if 'digitwidgets.widgets.' + m in sys.modules))"
    )
    result = run_python(code)
    assert result.stdout.strip() == "['drawing_pad']"


def test_training_names_resolve_lazily():
    import digitwidgets.learning.training as training

    missing = [name for name in training.__all__ if getattr(training, name, None) is None]
    assert missing == []
    assert "ProgressCallback" in dir(training)


def test_an_unknown_name_is_an_attribute_error_naming_the_package():
    import pytest

    import digitwidgets.widgets as components

    with pytest.raises(AttributeError, match="digitwidgets.widgets"):
        components.NoSuchPanel  # noqa: B018
    with pytest.raises(AttributeError, match="'digitwidgets'"):
        digitwidgets.NoSuchThing  # noqa: B018


def test_loading_the_model_skips_keras_extras_and_leaves_them_importable():
    # Keras would import scikit-learn (its wrappers) and matplotlib (its plots) on the way;
    # digitwidgets imports Keras without them, and both still import normally afterwards.
    code = (
        "import sys; from digitwidgets.learning.pretrained import load_pretrained; "
        "load_pretrained(); "
        "print(sorted(m for m in ('sklearn', 'matplotlib') if m in sys.modules)); "
        "import sklearn, matplotlib, openTSNE; print(sklearn.__name__, matplotlib.__name__)"
    )
    result = run_python(code)
    assert result.stdout.split() == ["[]", "sklearn", "matplotlib"], result.stderr[-2000:]


def test_keras_imported_after_scikit_learn_keeps_it():
    code = (
        "import gc, sys, sklearn; from digitwidgets.keras_import import keras; "
        "print(sys.modules['sklearn'] is sklearn, gc.get_freeze_count())"
    )
    result = run_python(code)
    # A process that froze nothing (not a forked kernel) has nothing frozen by the import.
    assert result.stdout.split() == ["True", "0"], result.stderr[-2000:]


def test_a_kernel_that_froze_its_imports_freezes_keras_too():
    # A light kernel (server/forking.py): its template froze what it had imported, and the
    # kernel imports Keras itself; full collections then leave Keras's objects out.
    code = (
        "import gc; gc.freeze(); from digitwidgets.keras_import import keras; "
        "print(any(o is keras.Model for o in gc.get_objects()), gc.get_freeze_count() > 0)"
    )
    result = run_python(code)
    assert result.stdout.split() == ["False", "True"], result.stderr[-2000:]
