"""Which setting names exist, so that a misspelt one stops the server instead of
being silently ignored (an operator would believe it in force)."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from librarian_server.errors import ConfigurationError

ENV_PREFIX = "LIBRARIAN_SERVER_"
NESTED = "__"
# Read by the settings machinery itself rather than a field.
NOT_FIELDS = frozenset({"CONFIG_FILE"})


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (also through ``X | None``), or None for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None and get_origin(annotation) not in (list, dict):
        for arg in get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def _paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        yield path
        nested = _model_of(field.annotation)
        if nested is not None:
            yield from _paths(nested, path)


REMEDY = "Correct or remove it; the README's settings table lists every setting."


def _nearest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def _file_keys(data: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    """Every key of a settings file that names no field (nested tables included)."""
    for key, value in data.items():
        field = model.model_fields.get(key)
        if field is None:
            yield prefix + key
            continue
        nested = _model_of(field.annotation)
        if nested is not None and isinstance(value, Mapping):
            yield from _file_keys(value, nested, f"{prefix}{key}.")


def check_names(
    model: type[BaseModel], file_data: Mapping[str, Any], environ: Mapping[str, str]
) -> None:
    """Raise ConfigurationError naming the first unknown setting and the nearest valid one."""
    for key in _file_keys(file_data, model):
        known = [".".join(p) for p in _paths(model)]
        raise ConfigurationError(
            f"Unknown setting {key!r} in the settings file{_nearest(key, known)}.", REMEDY
        )
    known_env = [ENV_PREFIX + NESTED.join(p).upper() for p in _paths(model)]
    valid = set(known_env) | {ENV_PREFIX + n for n in NOT_FIELDS}
    for variable in sorted(environ):
        if variable.startswith(ENV_PREFIX) and variable.upper() not in valid:
            raise ConfigurationError(
                f"Unknown setting variable {variable}{_nearest(variable.upper(), known_env)}.",
                REMEDY,
            )
