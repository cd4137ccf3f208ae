"""Links that open the dashboard with chosen settings: ``?optimizer=sgd&learning_rate=0.1``.

``parse_settings_query`` reads a page's query string into ``Hyperparameters``: known setting
names only, each value checked against its range in ``FIELDS``; whatever is unknown, malformed
or out of range is named in one message and its default is kept. Nothing in a query can do
anything but set a hyperparameter. ``settings_query`` is the reverse: only the settings that
differ from the defaults. ``digitwidgets.page_query`` hands a Voila page's query string over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .hyperparameters import FIELDS, Hyperparameters

MAX_QUERY_LENGTH = 2000  # characters; a longer query is ignored whole
MAX_VALUE_LENGTH = 40  # characters of one value; longer values are ignored
_MAX_NAMED = 5  # unknown names quoted in a message; more are counted
# The server's own arguments (Voila's token, template and theme): not settings, not reported.
SERVER_KEYS = ("token", "template", "theme")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_value(name: str, text: str) -> Any:
    """One setting's value from text ("1e-3", "sgd", "true"); ``ValueError`` says why not.

    Only parses and checks the range of ``name``; the result is fit for
    ``Hyperparameters.replace``.
    """
    spec = FIELDS.get(name)
    if spec is None:
        raise ValueError(f"unknown setting {_quote(name)}")
    cleaned = text.strip()
    if len(cleaned) > MAX_VALUE_LENGTH:
        raise ValueError(f"{name}: a value longer than {MAX_VALUE_LENGTH} characters")
    if spec.kind == "choice":
        value: Any = cleaned.lower()
    elif spec.kind == "bool":
        lowered = cleaned.lower()
        if lowered not in _TRUE + _FALSE:
            raise ValueError(f"{name} must be true or false, not {_quote(cleaned)}")
        value = lowered in _TRUE
    else:
        try:
            number = float(cleaned.replace("_", "!"))  # float("1_0") is 10: not a typed number
        except ValueError:
            raise ValueError(
                f"{name} must be {spec.describe_range()}, not {_quote(cleaned)}"
            ) from None
        if spec.kind == "int" and math.isfinite(number) and number.is_integer():
            number = int(number)
        value = number
    Hyperparameters().replace(**{name: value})  # the range check, with its message
    return value


def format_value(value: Any) -> str:
    """A setting's value as it is written in a link or a list ("0.001", "sgd", "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


@dataclass(frozen=True)
class LinkSettings:
    """What a query string asked for: the settings to use and what was ignored, and why."""

    hyperparameters: Hyperparameters
    applied: dict  # name -> value taken from the query
    message: str  # "" when everything was used


def parse_settings_query(query: str, base: Hyperparameters | None = None) -> LinkSettings:
    """The settings a query string asks for, on top of ``base`` (default: the defaults).

    A leading "?" is allowed. Names are the fields of ``Hyperparameters``; a name given twice
    takes its first value; the server's own arguments (``SERVER_KEYS``) are passed over.
    Every unknown name, repeated name and bad value is listed in ``message`` and changes
    nothing.
    """
    base = base if base is not None else Hyperparameters()
    query = (query or "").lstrip("?")
    if len(query) > MAX_QUERY_LENGTH:
        return LinkSettings(
            base, {}, f"Ignored the link's settings: longer than {MAX_QUERY_LENGTH} characters."
        )
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=len(FIELDS) * 2)
    except ValueError:
        return LinkSettings(base, {}, "Ignored the link's settings: too many of them.")
    applied: dict[str, Any] = {}
    problems: list[str] = []
    unknown: list[str] = []
    for name, text in pairs:
        if name in SERVER_KEYS:
            continue
        if name not in FIELDS:
            unknown.append(name)
        elif name in applied or any(p.startswith(f"{name}=") for p in problems):
            problems.append(f"{name} given twice (only the first is read)")
        else:
            try:
                applied[name] = parse_value(name, text)
            except ValueError as error:
                problems.append(f"{name}={_quote(text, bare=True)}: {_reason(error)}")
    if unknown:
        named = ", ".join(_quote(name) for name in unknown[:_MAX_NAMED])
        more = f" and {len(unknown) - _MAX_NAMED} more" if len(unknown) > _MAX_NAMED else ""
        problems.append(f"unknown setting{'s' if len(unknown) > 1 else ''} {named}{more}")
    message = ""
    if problems:
        message = "Ignored from the link: " + "; ".join(problems) + ". The default is used instead."
    return LinkSettings(base.replace(**applied), applied, message)


def settings_query(hp: Hyperparameters) -> str:
    """The query string of the settings in ``hp`` that differ from the defaults ("" if none)."""
    defaults = Hyperparameters()
    changed = {
        name: format_value(getattr(hp, name))
        for name in FIELDS
        if getattr(hp, name) != getattr(defaults, name)
    }
    return urlencode(changed)


def _quote(text: str, *, bare: bool = False) -> str:
    shown = text if len(text) <= MAX_VALUE_LENGTH else text[:MAX_VALUE_LENGTH] + "…"
    shown = "".join(c if c.isprintable() else "?" for c in shown)
    return shown if bare else f"'{shown}'"


def _reason(error: ValueError) -> str:
    return str(error).rstrip(".")
