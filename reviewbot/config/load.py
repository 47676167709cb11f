"""Config loading (boundary: reads the one file, nothing else): find `.reviewbot.yml`, read
it capped at MAX_CONFIG_BYTES, parse the YAML with duplicate keys refused and dates left as
strings, and validate it into a Config. Every problem is a one-line ConfigError."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import yaml

from ..errors import ConfigError
from .messages import _validate
from .model import Config
from .text import _kind, _one_line, _show

CONFIG_FILENAMES: Final = (".reviewbot.yml", ".reviewbot.yaml")


def find_config_file(directory: str | Path = ".") -> Path | None:
    """`.reviewbot.yml` (or `.yaml`) in `directory`; None when there is neither."""
    found = [Path(directory) / name for name in CONFIG_FILENAMES if (Path(directory) / name).is_file()]
    if len(found) > 1:
        raise ConfigError(
            f"both {found[0].name} and {found[1].name} exist in {directory}",
            "keep one of them; reviewbot would otherwise silently ignore the other",
        )
    return found[0] if found else None


def load_config(path: str | Path | None = None, *, text: str | None = None) -> Config:
    """Load and validate. path=None looks for `.reviewbot.yml` (or `.yaml`) in the current
    directory; no file means defaults. `text=` parses YAML text instead of reading a file
    (the action reads it from the base branch); a path given with it only names the text in
    errors. Raises ConfigError with the file, the key path and a did-you-mean."""
    if text is not None:
        source = str(path) if path is not None else "config text"
        if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
            raise _too_large(source)
        return _parse(text, source)
    if path is None:
        path = find_config_file()
        if path is None:
            return Config()
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)  # never more: the path may be a device or a huge file
        if len(raw) > MAX_CONFIG_BYTES:
            raise _too_large(str(path))
        content = raw.decode("utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", "check the --config path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read: {_one_line(str(exc))}", "the config must be a UTF-8 text file"
        ) from None
    return _parse(content, str(path))


# A real config is a few KiB; anything this large is a mistake or an attack on the parser.
MAX_CONFIG_BYTES: Final = 256 * 1024


def _too_large(source: str) -> ConfigError:
    return ConfigError(
        f"{source}: larger than {MAX_CONFIG_BYTES // 1024} KiB",
        "a .reviewbot.yml is a few KiB: check that --config names the right file",
    )


def _parse(text: str, source: str) -> Config:
    try:
        data = yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(f"{source}: {_yaml_problem(exc)}", "fix the YAML syntax at that line") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"{source}: invalid YAML: {_one_line(str(exc))}", "fix the YAML syntax") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. `!!int abc`: PyYAML lets these escape
        raise ConfigError(f"{source}: invalid YAML value: {_one_line(str(exc))}", "fix or quote the value") from None
    if data is None:  # empty, or only comments: every default applies
        return Config()
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys (models:, review:, ...), got {_kind(data)}",
            "`reviewbot config schema` prints every key with its type",
        )
    return _validate(data, source)


class _Loader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys: PyYAML keeps the last one silently, so a
    second `review:` block would quietly discard the first."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may legitimately repeat keys
            continue
        key = loader.construct_object(key_node)
        try:
            duplicate = key in seen
        except TypeError:  # unhashable key: construct_mapping reports it below
            continue
        if duplicate:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {_show(key)}",
                key_node.start_mark,
            )
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
# No key takes a date: leave 2024-01-01 a string rather than build (and fail on) a date.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = exc.problem or exc.context or "invalid YAML"
    # An unclosed bracket is reported at the end of the file; say where it was opened.
    if exc.problem and exc.context and exc.context_mark is not None and exc.context_mark is not mark:
        problem += f" ({exc.context} started at line {exc.context_mark.line + 1})"
    return _one_line(f"invalid YAML at {where}{problem}")
