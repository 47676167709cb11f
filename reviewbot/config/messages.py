"""Config errors (pure): validating data into a Config, with pydantic's errors turned into
one ConfigError line that names the source and the key path as the user writes it, says what
was expected and suggests the nearest key ("did you mean"). No I/O."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Union

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from .model import Config
from .text import _PLAIN_KEY, _closest, _did_you_mean, _format_path, _kind, _one_line, _show


def _validate(data: Mapping[Any, Any], source: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # from None: a --debug traceback would otherwise print the raw input values.
        raise _to_config_error(exc, source) from None
    except RecursionError:  # a self-referencing YAML alias
        raise ConfigError(f"{source}: the config refers to itself (recursive YAML alias)", "remove the alias") from None


_TYPE_ERRORS: Final = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
# Fields whose type is a union: pydantic reports one error per arm, we report one.
_UNION_EXPECTED: Final = {
    ("models", "summary"): "'cheap', 'frontier' or a list of models",
    ("compliance", "*", "allow"): "'local' or a list of providers or models",
}


def _to_config_error(exc: ValidationError, source: str) -> ConfigError:
    problems = [_describe(err) for err in exc.errors(include_url=False)]
    # A union reports one error per arm; keep the arm that got further, or one summary line.
    problems = [p for p in problems if not (p.generic_union and any(_deeper(q, p) for q in problems))]
    # `allwo: local` also makes `allow` missing: the typo explains it, so report it once.
    suggested = {p.suggests for p in problems if p.suggests}
    problems = [p for p in problems if not (p.kind == "missing" and p.keys in suggested)]
    chosen: dict[str, _Problem] = {}
    for problem in problems:
        if problem.path not in chosen or (chosen[problem.path].generic_union and not problem.generic_union):
            chosen[problem.path] = problem
    first, *others = chosen.values()
    more = f" (and {len(others)} more error{'s' if len(others) > 1 else ''})" if others else ""
    hint = first.hint or "`reviewbot config schema` prints every key with its type"
    return ConfigError(_one_line(f"{source}: {first.message}{more}"), _one_line(hint))


@dataclass(frozen=True)
class _Problem:
    kind: str  # pydantic's error type
    keys: tuple[Any, ...]
    message: str
    hint: str | None = None
    generic_union: bool = False  # a wrong-type error from one arm of a union field
    suggests: tuple[Any, ...] | None = None  # an unknown key's did-you-mean, as keys

    @property
    def path(self) -> str:
        return _format_path(list(self.keys))


def _deeper(other: _Problem, problem: _Problem) -> bool:
    prefix = other.keys[: len(problem.keys)] == problem.keys
    return other is not problem and prefix and (len(other.keys) > len(problem.keys) or not other.generic_union)


def _describe(err: Any) -> _Problem:
    keys, tp, in_union = _walk(err["loc"])
    kind, value = err["type"], err.get("input")
    where = _format_path(keys) or "top level"
    parent = _format_path(keys[:-1]) or "top level"
    if kind == "extra_forbidden":
        return _unknown_key(keys)
    if kind == "invalid_key":
        return _Problem(kind, tuple(keys), f"{parent}: keys must be strings, got {_show(value)}")
    if kind == "missing":
        return _Problem(kind, tuple(keys), f"{parent}: missing required key {keys[-1]!r}", _description(keys))
    if in_union and (kind in _TYPE_ERRORS or kind == "literal_error"):
        message = f"{where}: expected {_union_expected(keys)}, got {_kind(value)}"
        return _Problem(kind, tuple(keys), message, _description(keys), generic_union=True)
    if kind in _TYPE_ERRORS:
        wrapped = kind == "list_type" and isinstance(value, str)
        hint = f"write a list: [{_show(value)}]" if wrapped else _description(keys)
        return _Problem(kind, tuple(keys), f"{where}: expected {_TYPE_ERRORS[kind]}, got {_kind(value)}", hint)
    suggestion = ""
    if kind == "literal_error" and isinstance(value, str):
        suggestion = _did_you_mean(value, [str(a) for a in typing.get_args(_unwrap(tp))])
    return _Problem(
        kind, tuple(keys), f"{where}: {err['msg'].removeprefix('Value error, ')}{suggestion}", _description(keys)
    )


def _description(keys: list[Any]) -> str | None:
    """The field's own description, as the hint for a wrong value."""
    if not keys or not isinstance(keys[-1], str):
        return None
    model = _model_of(_walk(tuple(keys[:-1]))[1])
    field = model.model_fields.get(keys[-1]) if model is not None else None
    if field is None or not field.description:
        return None
    return f"{_format_path(keys)}: {field.description}"


def _unknown_key(keys: list[Any]) -> _Problem:
    *parent, key = keys
    allowed = _field_names(_model_of(_walk(tuple(parent))[1]))
    path = _format_path(keys)
    shown = f"'{path}'" if isinstance(key, str) and _PLAIN_KEY.match(key) else path
    close = _closest(str(key), allowed)
    suggests = (*parent, close) if close else _elsewhere(str(key), parent)
    suggestion = f" (did you mean '{_format_path(list(suggests))}'?)" if suggests else ""
    hint = f"allowed keys here: {', '.join(allowed)}" if allowed else None
    return _Problem("extra_forbidden", tuple(keys), f"unknown key {shown}{suggestion}", hint, suggests=suggests)


def _elsewhere(key: str, parent: list[Any]) -> tuple[str, str] | None:
    """`concurrency:` at the top level: the key exists, one section down."""
    if parent:
        return None
    for section, field in Config.model_fields.items():
        if key in _field_names(_model_of(field.annotation)):
            return section, key
    return None


def _walk(loc: tuple[Any, ...]) -> tuple[list[Any], Any, bool]:
    """Follow an error location through the Config types: drop pydantic's union-arm tags and
    dict-key markers, keep real keys and indexes. Returns (keys, type reached, inside a union)."""
    keys: list[Any] = []
    tp: Any = Config
    in_union = False
    for item in loc:
        tp = _unwrap(tp)
        if item == "[key]":  # the dict key itself failed; it is already in keys
            tp = None
            continue
        args = typing.get_args(tp)
        origin = typing.get_origin(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = tp.model_fields
            keys.append(item)
            tp = fields[item].annotation if item in fields else None
        elif origin is dict:
            keys.append(item)
            tp = args[1]
        elif origin is list:
            keys.append(item)
            tp = args[0]
        elif origin in (Union, types.UnionType):
            in_union = True  # `item` names the arm ("str", "list[str]"): not a key
            tp = next((arm for arm in args if _arm_tag(arm) == item), None)
        else:
            keys.append(item)
            tp = None
    return keys, tp, in_union


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional: `X | None` is one nullable type to pydantic, no arm tag."""
    while True:
        if typing.get_origin(tp) is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if typing.get_origin(tp) in (Union, types.UnionType):
            arms = [arm for arm in typing.get_args(tp) if arm is not type(None)]
            if len(arms) == 1:
                tp = arms[0]
                continue
        return tp


def _arm_tag(arm: Any) -> str:
    arm = _unwrap(arm)
    if typing.get_origin(arm) is Literal:
        return "literal[" + ",".join(repr(a) for a in typing.get_args(arm)) + "]"
    if typing.get_origin(arm) is list:
        return "list[str]"
    return getattr(arm, "__name__", str(arm))


def _model_of(tp: Any) -> type[BaseModel] | None:
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _field_names(model: type[BaseModel] | None) -> list[str]:
    return list(model.model_fields) if model is not None else []


def _union_expected(keys: list[Any]) -> str:
    pattern = tuple("*" if isinstance(k, int) else k for k in keys)
    return _UNION_EXPECTED.get(pattern, "a different type")
