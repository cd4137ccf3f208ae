"""Saved training runs: one folder per run with ``model.keras`` and ``run.json``.

A run is written into a hidden temporary folder inside the root, flushed to disk and then
renamed into place, so a crash mid-save never leaves a half run among the listed ones.
Leftover temporary folders are skipped by ``list()`` and removed by the next ``save()``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .distributions import Distributions
from .hyperparameters import FIELDS, Hyperparameters

FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
RUN_FILE = "run.json"
_TEMP_PREFIX = ".tmp-"

log = logging.getLogger(__name__)


class RunStoreError(RuntimeError):
    """A run cannot be saved, found or loaded; the message says why, fit for a status line."""


@dataclass(frozen=True)
class RunRecord:
    """What ``run.json`` says about one saved run."""

    run_id: str
    path: Path
    status: str  # "finished" | "stopped" | "failed" | "interrupted" | "damaged"
    hyperparameters: Hyperparameters | None
    history: dict[str, list[float]] = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    started_at: str = ""
    duration: float = 0.0
    message: str = ""
    # The sweep the run belongs to: {"id", "name", "settings", "index" (1-based), "count"}.
    sweep: dict | None = None
    # Where the learning rate was steered while the run trained: {"epoch": 0-based epoch,
    # "batch": 0-based first batch at the new rate, "learning_rate": the new rate}, in order.
    lr_changes: list[dict] = field(default_factory=list)
    # How each layer's weights and gradients moved, epoch by epoch (None: not recorded).
    distributions: Distributions | None = None

    @property
    def steered(self) -> bool:
        """Whether the learning rate was changed while the run trained."""
        return bool(self.lr_changes)

    def final(self, metric: str) -> float | None:
        """The last epoch's value of ``metric`` ("val_accuracy", ...), or None if never measured."""
        values = self.history.get(metric) or []
        return values[-1] if values else None


def default_root() -> Path:
    """``$DIGITWIDGETS_RUNS``, else ``$XDG_DATA_HOME/digitwidgets/runs`` (~/.local/share)."""
    explicit = os.environ.get("DIGITWIDGETS_RUNS")
    if explicit:
        return Path(explicit).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home).expanduser() / "digitwidgets" / "runs"


class RunStore:
    """Saves, lists, loads and deletes training runs under one root folder."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root is not None else default_root()

    def save(
        self,
        *,
        run_id: str,
        model: Any,
        hyperparameters: Hyperparameters,
        history: dict[str, list[float]],
        data: dict,
        started_at: str,
        duration: float,
        status: str,
        message: str = "",
        sweep: dict | None = None,
        lr_changes: list[dict] | tuple = (),
        distributions: Distributions | None = None,
    ) -> RunRecord:
        """Write one run atomically and return its record; raises ``RunStoreError``.

        ``sweep`` tags a run trained as part of a sweep (see ``RunRecord.sweep``);
        ``distributions`` is how its weights moved (``RunRecord.distributions``).
        """
        _check_run_id(run_id)
        final_path = self.root / run_id
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._remove_leftovers()
            if final_path.exists():
                raise RunStoreError(f"A run named {run_id!r} already exists in {self.root}.")
            temp = self.root / f"{_TEMP_PREFIX}{run_id}-{uuid.uuid4().hex[:8]}"
            temp.mkdir()
        except OSError as exc:
            raise RunStoreError(f"Cannot save runs in {self.root}: {exc.strerror or exc}.") from exc
        record = RunRecord(
            run_id=run_id,
            path=final_path,
            status=status,
            hyperparameters=hyperparameters,
            history={name: [float(v) for v in values] for name, values in history.items()},
            data=dict(data),
            started_at=started_at,
            duration=float(duration),
            message=message,
            sweep=_sweep_tag(sweep),
            lr_changes=[_lr_change(change) for change in lr_changes],
            distributions=distributions,
        )
        try:
            if model is not None:
                model.save(temp / MODEL_FILE)
                _fsync_file(temp / MODEL_FILE)
            with open(temp / RUN_FILE, "w", encoding="utf-8") as file:
                json.dump(_to_json(record), file, indent=2, allow_nan=False)
                file.flush()
                os.fsync(file.fileno())
            _fsync_dir(temp)
            os.rename(temp, final_path)
            _fsync_dir(self.root)
        except Exception as exc:
            shutil.rmtree(temp, ignore_errors=True)
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise RunStoreError(f"Could not save run {run_id} in {self.root}: {reason}.") from exc
        return record

    def list(self) -> list[RunRecord]:
        """All runs, newest first; unreadable ones are listed with status "damaged"."""
        if not self.root.is_dir():
            return []
        records = [
            self._read(path)
            for path in self.root.iterdir()
            if path.is_dir() and not path.name.startswith(".")
        ]
        return sorted(records, key=lambda record: (record.started_at, record.run_id), reverse=True)

    def get(self, run_id: str) -> RunRecord:
        """The record of one run; raises ``RunStoreError`` if there is no such run."""
        _check_run_id(run_id)
        path = self.root / run_id
        if not path.is_dir():
            raise RunStoreError(f"No saved run named {run_id!r} in {self.root}.")
        return self._read(path)

    def load_model(self, run_id: str):
        """The run's Keras model; raises ``RunStoreError`` for a damaged or unsuitable run."""
        from ..keras_import import keras
        from . import model as _registers_custom_layers  # noqa: F401

        record = self.get(run_id)
        if record.status == "damaged":
            raise RunStoreError(f"Run {run_id} is damaged: {record.message}")
        model_path = record.path / MODEL_FILE
        if not model_path.is_file():
            raise RunStoreError(f"Run {run_id} has no saved model.")
        try:
            model = keras.models.load_model(model_path)
        except Exception as exc:
            raise RunStoreError(f"Cannot load the model of run {run_id}: {exc}") from exc
        input_shape = tuple(model.inputs[0].shape[1:]) if model.inputs else None
        output_shape = tuple(model.outputs[0].shape[1:]) if model.outputs else None
        if input_shape != (28, 28) or output_shape != (10,):
            raise RunStoreError(
                f"Run {run_id} holds a model for {input_shape} -> {output_shape}, "
                "not a digit model for (28, 28) -> (10,)."
            )
        return model

    def delete(self, run_id: str) -> None:
        """Remove a run and its files; raises ``RunStoreError`` if there is no such run."""
        _check_run_id(run_id)
        path = self.root / run_id
        if not path.is_dir():
            raise RunStoreError(f"No saved run named {run_id!r} in {self.root}.")
        shutil.rmtree(path)

    def _read(self, path: Path) -> RunRecord:
        try:
            with open(path / RUN_FILE, encoding="utf-8") as file:
                raw = json.load(file)
            if not isinstance(raw, dict):
                return _damaged(path, "run.json does not hold a run record.")
            version = raw.get("format_version")
            if version != FORMAT_VERSION:
                return _damaged(
                    path,
                    f"run.json has format version {version!r}; this version reads "
                    f"{FORMAT_VERSION}.",
                )
            return RunRecord(
                run_id=path.name,
                path=path,
                status=str(raw["status"]),
                hyperparameters=Hyperparameters.from_dict(raw["hyperparameters"]),
                history={str(k): [_float(v) for v in vs] for k, vs in raw["history"].items()},
                data=dict(raw.get("data") or {}),
                started_at=str(raw.get("started_at", "")),
                duration=float(raw.get("duration", 0.0)),
                message=str(raw.get("message", "")),
                sweep=_sweep_tag(raw.get("sweep")),
                # Runs saved before steering existed have none.
                lr_changes=[_lr_change(change) for change in raw.get("lr_changes") or []],
                # Runs saved before distributions were recorded have none.
                distributions=Distributions.from_dict(raw.get("distributions")),
            )
        except FileNotFoundError:
            return _damaged(path, "run.json is missing.")
        except KeyError as exc:
            return _damaged(path, f"run.json has no {exc.args[0]!r}.")
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            return _damaged(path, f"run.json cannot be read: {exc}")

    def _remove_leftovers(self) -> None:
        # Temporary folders left by a crash mid-save; never listed, so safe to remove.
        for path in self.root.glob(f"{_TEMP_PREFIX}*"):
            log.info("Removing %s, left over from an interrupted save", path)
            shutil.rmtree(path, ignore_errors=True)


def _damaged(path: Path, message: str) -> RunRecord:
    return RunRecord(
        run_id=path.name, path=path, status="damaged", hyperparameters=None, message=message
    )


def _to_json(record: RunRecord) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "run_id": record.run_id,
        "status": record.status,
        "message": record.message,
        "started_at": record.started_at,
        "duration": record.duration,
        "hyperparameters": record.hyperparameters.to_dict(),
        "history": {
            name: [_finite_or_none(v) for v in values] for name, values in record.history.items()
        },
        "data": record.data,
        "sweep": record.sweep,
        "lr_changes": record.lr_changes,
        "distributions": _finite_distributions(record.distributions),
    }


def _finite_distributions(distributions: Distributions | None) -> dict | None:
    # A diverged run's weights may hold NaN or infinities; JSON has none: stored as null,
    # and such a run's quantiles are dropped whole rather than half kept.
    if distributions is None:
        return None
    raw = distributions.to_dict()
    numbers = [
        v
        for layer in raw["layers"]
        for key in ("weights", "gradients")
        for quantiles in layer[key]
        for v in quantiles
    ]
    numbers += [v for layer in raw["layers"] for v in layer["update_ratios"] if v is not None]
    return raw if all(math.isfinite(v) for v in numbers) else None


def _lr_change(change: dict) -> dict:
    """One learning-rate change with its three fields typed (KeyError/ValueError if not)."""
    return {
        "epoch": int(change["epoch"]),
        "batch": int(change["batch"]),
        "learning_rate": float(change["learning_rate"]),
    }


_SWEEP_KEYS = {"id": str, "name": str, "settings": list, "index": int, "count": int}


def _sweep_tag(raw) -> dict | None:
    """A run's sweep tag with exactly the known keys, or None (no sweep, or not a tag).

    Runs saved before sweeps existed have none; a malformed tag is dropped, not the run.
    """
    if not isinstance(raw, dict):
        return None
    tag = {}
    for key, kind in _SWEEP_KEYS.items():
        value = raw.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            return None
        tag[key] = [str(name) for name in value] if kind is list else value
    return tag


def _check_run_id(run_id: str) -> None:
    # Run ids become folder names: refuse anything that could point outside the root.
    if not run_id or run_id.startswith(".") or "/" in run_id or "\\" in run_id:
        raise RunStoreError(f"{run_id!r} is not a valid run id.")


def _finite_or_none(value) -> float | None:
    # JSON has no NaN: a diverged loss is stored as null.
    number = float(value)
    return number if math.isfinite(number) else None


def _float(value) -> float:
    return math.nan if value is None else float(value)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as file:
        os.fsync(file.fileno())


def _fsync_dir(path: Path) -> None:
    # Directory fsync makes the rename durable on POSIX; Windows cannot open folders.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def local_time(started_at: str) -> str:
    """An ISO 8601 time as local "2026-05-01 14:03"; as given if it does not parse."""
    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return started_at or "?"
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M")


def _field_value(hp: Hyperparameters, name: str, other_value) -> str:
    """``hp``'s value of one field in ``describe_changes``'s words ("lr 0.1", "sgd")."""
    base = Hyperparameters()
    return base.replace(**{name: getattr(hp, name)}).describe_changes(
        base.replace(**{name: other_value})
    )


def curve_labels(records: list[RunRecord]) -> list[str]:
    """One distinct label per run saying what differs between them: "sgd, lr 0.1"."""
    settings = [record.hyperparameters for record in records]
    known = [hp for hp in settings if hp is not None]
    varying = [name for name in FIELDS if len({getattr(hp, name) for hp in known}) > 1]
    labels = []
    for record, hp in zip(records, settings, strict=True):
        if hp is None:
            labels.append(record.run_id)
        elif varying:
            parts = []
            for name in varying:
                other = next(
                    getattr(o, name) for o in known if getattr(o, name) != getattr(hp, name)
                )
                parts.append(_field_value(hp, name, other))
            labels.append(", ".join(parts))
        else:
            labels.append(hp.describe_changes())
    # Runs with the same settings would share a label: tell each of them apart by when it ran.
    shared = {label for label in labels if labels.count(label) > 1}
    return [
        f"{label} ({local_time(record.started_at)}, {record.run_id[-6:]})"
        if label in shared
        else label
        for label, record in zip(labels, records, strict=True)
    ]
