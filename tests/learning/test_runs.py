"""RunStore: atomic saves, listing with damaged runs, loading models back, deleting."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest

from digitwidgets.learning.hyperparameters import Hyperparameters
from digitwidgets.learning.model import build_lenet5
from digitwidgets.learning.runs import FORMAT_VERSION, RunStore, RunStoreError, default_root


@pytest.fixture(scope="module")
def digits(sample_arrays):
    return sample_arrays["x_test"][:16].astype("float32") / 255.0


@pytest.fixture(scope="module")
def model():
    return build_lenet5(Hyperparameters(epochs=1, seed=5))


def _save(store, run_id, model, started_at="2026-01-01T10:00:00+00:00", **changes):
    fields = dict(
        run_id=run_id,
        model=model,
        hyperparameters=Hyperparameters(epochs=2),
        history={"loss": [0.5, 0.3], "val_accuracy": [0.9, 0.95]},
        data={"source": "embedded-sample", "n_train": 8500, "n_test": 1500},
        started_at=started_at,
        duration=12.5,
        status="finished",
        message="Finished.",
    )
    fields.update(changes)
    return store.save(**fields)


def test_default_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITWIDGETS_RUNS", str(tmp_path / "mine"))
    assert RunStore().root == tmp_path / "mine"
    monkeypatch.delenv("DIGITWIDGETS_RUNS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_root() == tmp_path / "xdg" / "digitwidgets" / "runs"


def test_saved_run_loads_back_with_equal_predictions(tmp_path, model, digits):
    store = RunStore(tmp_path)
    record = _save(store, "run-a", model)
    assert record.path == tmp_path / "run-a"
    assert (record.path / "model.keras").is_file()
    [listed] = store.list()
    assert listed == record
    assert listed.final("val_accuracy") == pytest.approx(0.95)
    assert listed.final("accuracy") is None
    loaded = store.load_model("run-a")
    np.testing.assert_allclose(np.asarray(loaded(digits)), np.asarray(model(digits)), rtol=1e-6)


def test_list_is_newest_first(tmp_path, model):
    store = RunStore(tmp_path)
    _save(store, "old", model, started_at="2026-01-01T10:00:00+00:00")
    _save(store, "new", model, started_at="2026-01-02T10:00:00+00:00")
    assert [record.run_id for record in store.list()] == ["new", "old"]


def test_nan_in_history_is_stored_as_json_null(tmp_path, model):
    store = RunStore(tmp_path)
    _save(store, "nan", model, history={"loss": [1.0, float("nan")]}, status="failed")
    raw = json.loads((tmp_path / "nan" / "run.json").read_text())
    assert raw["history"]["loss"] == [1.0, None]
    assert raw["format_version"] == FORMAT_VERSION
    assert np.isnan(store.get("nan").history["loss"][1])


class _ExplodingModel:
    """Stands in for a model whose saving crashes halfway through writing."""

    def save(self, path):
        with open(path, "wb") as file:
            file.write(b"half a model")
        raise OSError(28, "No space left on device")


def test_crash_mid_save_leaves_earlier_runs_and_no_half_run(tmp_path, model):
    store = RunStore(tmp_path)
    _save(store, "good", model)
    with pytest.raises(RunStoreError, match="No space left"):
        _save(store, "broken", _ExplodingModel())
    assert [record.run_id for record in store.list()] == ["good"]
    assert store.list()[0].status == "finished"
    assert not (tmp_path / "broken").exists()


def test_leftover_temp_folder_is_ignored_then_cleaned(tmp_path, model):
    store = RunStore(tmp_path)
    _save(store, "good", model)
    leftover = tmp_path / ".tmp-killed-1234"
    leftover.mkdir()
    (leftover / "model.keras").write_bytes(b"partial")
    assert [record.run_id for record in store.list()] == ["good"]
    _save(store, "next", model)
    assert not leftover.exists()
    assert {record.run_id for record in store.list()} == {"good", "next"}


def test_damaged_runs_are_listed_and_the_others_still_load(tmp_path, model, digits):
    store = RunStore(tmp_path)
    _save(store, "good", model, started_at="2026-01-01T10:00:00+00:00")
    corrupt = _save(store, "corrupt", model).path
    (corrupt / "run.json").write_text("{not json")
    older = _save(store, "older", model).path
    raw = json.loads((older / "run.json").read_text())
    raw["format_version"] = 0
    (older / "run.json").write_text(json.dumps(raw))
    (tmp_path / "empty").mkdir()

    records = {record.run_id: record for record in store.list()}
    assert set(records) == {"good", "corrupt", "older", "empty"}
    assert records["good"].status == "finished"
    assert records["corrupt"].status == "damaged" and "run.json" in records["corrupt"].message
    assert records["older"].status == "damaged" and "format version 0" in records["older"].message
    assert records["empty"].status == "damaged" and "missing" in records["empty"].message
    with pytest.raises(RunStoreError, match="damaged"):
        store.load_model("corrupt")
    assert store.load_model("good")(digits).shape == (16, 10)


def test_model_of_another_shape_is_refused(tmp_path, model):
    store = RunStore(tmp_path)
    other = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="softmax")])
    _save(store, "flat", other)
    with pytest.raises(RunStoreError, match=r"\(28, 28\)"):
        store.load_model("flat")


def test_delete_removes_the_run(tmp_path, model):
    store = RunStore(tmp_path)
    _save(store, "gone", model)
    store.delete("gone")
    assert store.list() == []
    with pytest.raises(RunStoreError, match="gone"):
        store.get("gone")
    with pytest.raises(RunStoreError):
        store.delete("../outside")


def test_unwritable_root_gives_a_clear_error(tmp_path, model):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = RunStore(blocker / "runs")
    with pytest.raises(RunStoreError, match="Cannot save runs in"):
        _save(store, "nowhere", model)
    assert store.list() == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_read_only_root_gives_a_clear_error(tmp_path, model):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(RunStoreError, match="Cannot save runs in"):
            _save(RunStore(tmp_path), "nowhere", model)
    finally:
        tmp_path.chmod(0o700)
