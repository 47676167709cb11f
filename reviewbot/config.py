"""Support (boundary): the `.reviewbot.yml` model. Input: a YAML file, YAML text or nothing,
plus CLI/action overrides and the environment (for default models). Output: a validated,
frozen Config. pydantic lives here and nowhere else in the pipeline; every problem becomes a
one-line ConfigError naming the file and key path, with a "did you mean" for unknown keys.
Pure apart from reading the one file; imports nothing heavy (no litellm, no PyGithub)."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Union
from urllib.parse import urlsplit, urlunsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .errors import ConfigError
from .providers import KEY_ENV

Severity = Literal["critical", "high", "medium", "low", "info"]
FailOn = Literal["critical", "high", "medium", "low", "info", "none"]
Tier = Literal["cheap", "frontier"]

CONFIG_FILENAMES: Final = (".reviewbot.yml", ".reviewbot.yaml")
SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
TIERS: Final = ("cheap", "frontier")


# --- value checks shared by several fields ----------------------------------------------


def _model_string(value: str) -> str:
    """A litellm model string ("provider/model[:tag]"): one word, no spaces, no empty part."""
    if not value or any(ch.isspace() for ch in value) or value.startswith("/") or value.endswith("/"):
        raise PydanticCustomError(
            "model_string",
            "{value} is not a model string (expected e.g. openai/gpt-5.4-mini, no spaces)",
            {"value": _show(value)},
        )
    return value


def _regex(value: str) -> str:
    # Compiled here so a typo fails at load time with its index, not mid-review in risk.py.
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as exc:
        raise PydanticCustomError(
            "regex", "invalid regular expression {value}: {reason}", {"value": _show(value), "reason": str(exc)}
        ) from None
    return value


def _env_name(value: str) -> str:
    # The value is deliberately not echoed: someone may have pasted the key itself here.
    if not _ENV_NAME.match(value):
        raise PydanticCustomError(
            "env_name", "must be the name of an environment variable (e.g. MY_GATEWAY_KEY), not a key"
        )
    return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_MODEL_NAME_SCHEMA: dict[str, Any] = {"type": "string", "pattern": r"^[^\s/](\S*[^\s/])?$"}
ModelName = Annotated[str, AfterValidator(_model_string), WithJsonSchema(_MODEL_NAME_SCHEMA)]
EnvName = Annotated[str, AfterValidator(_env_name), WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"})]
Pattern = Annotated[str, AfterValidator(_regex), WithJsonSchema({"type": "string", "format": "regex"})]

_SUMMARY_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "enum": list(TIERS)},
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
    ]
}


class _Strict(BaseModel):
    # strict: YAML already carries types, so "8", true or 1.5 where an integer belongs is a
    # mistake to report, not to coerce; this also keeps validation identical to the schema.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class ModelsConfig(_Strict):
    """Ordered model lists per task slot: the first is primary, the rest are fallbacks.
    An empty list gets the defaults of the provider whose API key is set."""

    cheap: list[ModelName] = Field(default_factory=list, description="Routine review, in failover order.")
    frontier: list[ModelName] = Field(default_factory=list, description="Escalated (risky) files, in failover order.")
    summary: Annotated[str | list[ModelName], WithJsonSchema(_SUMMARY_SCHEMA)] = Field(
        default="cheap", description="PR overview: a tier name ('cheap' or 'frontier') or a list of models."
    )

    @field_validator("summary")
    @classmethod
    def _summary_tier(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            if not value:
                raise PydanticCustomError("summary_empty", "give a tier name or at least one model")
            return value
        if value not in TIERS:
            raise PydanticCustomError(
                "summary_tier",
                "must be 'cheap' or 'frontier', got {value}{suggestion}",
                {"value": _show(value), "suggestion": _did_you_mean(value, TIERS)},
            )
        return value


class EndpointConfig(_Strict):
    """Per-model connection settings: own keys, gateways, local servers."""

    api_base: str | None = Field(default=None, description="Base URL, e.g. http://127.0.0.1:11434 or a LiteLLM proxy.")
    api_key_env: EnvName | None = Field(default=None, description="Name of the environment variable holding the key (never the key itself).")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with every call.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per request (default review.timeout).")
    max_input_tokens: int | None = Field(default=None, gt=0, description="Context window, for models litellm does not know.")
    allow_insecure_http: bool = Field(default=False, description="Allow sending the key over plain http:// to a host that is not this machine (a trusted network only); noted in the report.")

    @field_validator("api_key_env")
    @classmethod
    def _not_a_runner_secret(cls, value: str | None) -> str | None:
        # A model endpoint must never be handed the GitHub token or the runner's own secrets.
        if value is not None and (value in FORBIDDEN_KEY_VARS or value.startswith(FORBIDDEN_KEY_PREFIXES)):
            raise ValueError(f"{value} holds the GitHub token or a runner secret and is never sent to a model")
        return value


FORBIDDEN_KEY_VARS: Final = frozenset({"GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"})
FORBIDDEN_KEY_PREFIXES: Final = ("ACTIONS_", "RUNNER_", "INPUT_GITHUB")


def _loopback_name(host: str) -> bool:
    return host == "localhost" or host.startswith("127.") or host == "::1"


def check_transport(config: Config, env: Mapping[str, str],
                    loopback: Callable[[str], bool] = _loopback_name) -> list[str]:
    """A key never travels over plain http:// to a host other than this machine, unless the
    endpoint opts in (`allow_insecure_http: true`); then a note says so. `loopback` tells
    whether a host is this machine (the edge passes one that resolves the name)."""
    from .providers import provider_of

    notes: list[str] = []
    for model, endpoint in config.endpoints.items():
        base = endpoint.api_base or ""
        host = (urlsplit(base).hostname or "").lower() if base.lower().startswith("http://") else ""
        if not host or _loopback_name(host) or loopback(host):
            continue
        key_env = endpoint.api_key_env or KEY_ENV.get(provider_of(model))
        if not key_env or not env.get(key_env):
            continue  # no key goes with the request
        if not endpoint.allow_insecure_http:
            raise ConfigError(
                f"endpoints.{model}.api_base: {base} is plain http to {host}, so the key in {key_env} would travel unencrypted",
                "use https, or set allow_insecure_http: true on this endpoint if the network is trusted",
            )
        notes.append(f"the key for {model} is sent over plain http to {host} (allow_insecure_http)")
    return notes


def check_key_sources(config: Config, env: Mapping[str, str]) -> None:
    """At run time: a key variable whose value is the GitHub token is refused (exit 2)."""
    github = {env[n] for n in ("GITHUB_TOKEN", "GH_TOKEN") if env.get(n)}
    for model, endpoint in config.endpoints.items():
        name = endpoint.api_key_env
        if name and github and env.get(name) in github:
            raise ConfigError(
                f"endpoints.{model}.api_key_env: {name} holds the GitHub token, which is never sent to a model",
                "point api_key_env at the provider's key",
            )


class PriceConfig(_Strict):
    """USD per million tokens (overrides litellm's price map; 0 for local models)."""

    input: float = Field(ge=0, description="USD per million input tokens.")
    output: float = Field(ge=0, description="USD per million output tokens.")
    cached_input: float | None = Field(default=None, ge=0, description="USD per million cached input tokens.")


class RiskConfig(_Strict):
    """Which files go to the frontier tier."""

    escalate_paths: list[str] = Field(default_factory=list, description="Globs whose files always go to the frontier tier.")
    escalate_patterns: list[Pattern] = Field(default_factory=list, description="Regexes (Python syntax); an added line matching one escalates its file.")
    cheap_paths: list[str] = Field(default_factory=list, description="Globs that never escalate (e.g. docs/**).")
    threshold: int = Field(default=50, ge=0, description="Risk score at or above which a file goes to the frontier tier.")
    large_change_lines: int = Field(default=400, gt=0, description="Changed lines at or above which a file counts as a large rewrite.")


DEFAULT_INSTRUCTION_FILES: Final = ("REVIEW.md", "AGENTS.md", ".github/copilot-instructions.md")


class PathInstruction(_Strict):
    """Review rules for the files one or more globs match."""

    path: str | list[str] = Field(description="A glob, or a list of globs (git-style: ** spans folders).")
    instructions: str = Field(min_length=1, max_length=20_000, description="The rules, in plain words.")

    @property
    def globs(self) -> tuple[str, ...]:
        return (self.path,) if isinstance(self.path, str) else tuple(self.path)


ContextMode = Literal["none", "enclosing", "file"]


class ReviewConfig(_Strict):
    """How the review runs and what it reports."""

    def context_for(self, tier: str) -> ContextMode:
        if isinstance(self.context, str):
            return self.context
        return self.context.get(tier, "none")  # type: ignore[call-overload,no-any-return]

    concurrency: int = Field(default=8, ge=1, le=64, description="Model requests in flight at once.")
    max_chunk_tokens: int = Field(default=6000, ge=500, description="Diff tokens per model request.")
    min_severity: Severity = Field(default="low", description="Findings below this severity are dropped.")
    fail_on: FailOn = Field(default="none", description="Exit 1 when a finding is at or above this severity.")
    timeout: float = Field(default=120, gt=0, description="Seconds per model request.")
    max_output_tokens: int = Field(default=4096, ge=256, description="Reply tokens per model request.")
    max_inline_comments: int = Field(default=30, ge=0, description="Inline comments per GitHub review; the rest go to the summary.")
    request_changes_on: Severity | None = Field(default=None, description="Post REQUEST_CHANGES when a finding is at or above this severity (default: always COMMENT).")
    incremental: bool = Field(default=True, description="On synchronize, review only files changed since the last reviewed head.")
    instructions: str = Field(default="", max_length=100_000, description="The maintainers' review rules for every file, sent to the model as trusted instructions.")
    path_instructions: list[PathInstruction] = Field(default_factory=list, description="Review rules for the files matching a glob; each reaches only the chunks holding such files.")
    instruction_files: list[str] = Field(default_factory=lambda: list(DEFAULT_INSTRUCTION_FILES), description="Repository files read as review rules, first found wins (from the base branch in Actions); [] turns this off.")
    context: ContextMode | dict[Tier, ContextMode] = Field(default="none", description="Code around each hunk, from the head version of the file: none, enclosing (the function or class a changed line sits in, via tree-sitter) or file; one value or one per tier.")
    context_tokens: int = Field(default=1500, ge=0, le=100_000, description="Cap on the context tokens per chunk; whole regions are left out past it.")
    max_instruction_tokens: int = Field(default=2000, ge=0, le=50_000, description="Cap on the tokens of the general rules and of each path rule; a cut is noted in the report.")
    cascade: bool | Annotated[int, Field(ge=0, le=100)] = Field(default=False, description="A second look: the cheap model may ask for a frontier review of its chunk (needs_frontier, with a reason), given within the budget. false, true, or a risk score: only chunks at or above it may ask.")
    shadow: ModelName | None = Field(default=None, description="A second model that reviews the same chunks (where compliance lets it) without posting anything; the report shows where it agrees, what each found alone and what each cost.")


class BudgetConfig(_Strict):
    """Spend limits per run."""

    max_usd: float | None = Field(default=None, ge=0, description="Hard cap on spend per run.")
    max_input_tokens: int | None = Field(default=None, ge=0, description="Hard cap on input tokens per run.")
    max_usd_per_pr: float | None = Field(default=None, ge=0, description="Hard cap on spend per pull request over all runs (reviewbot github; the running total is kept in the summary comment).")
    on_exceed: Literal["downgrade", "skip", "fail"] = Field(default="downgrade", description="Over budget: use the cheap tier, skip the rest, or fail.")


class ComplianceRule(_Strict):
    """Files matching `paths` may only be sent to the models or providers in `allow`."""

    paths: list[str] = Field(min_length=1, description="Globs this rule applies to.")
    allow: Literal["local"] | list[ModelName] = Field(description="'local', or a list of providers or models.")


class AuditConfig(_Strict):
    """The JSON-lines audit log of model calls."""

    include_prompts: bool = Field(default=False, description="Also log prompt and reply text (they contain code).")


class Config(_Strict):
    """reviewbot configuration (`.reviewbot.yml`)."""

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    endpoints: dict[ModelName, EndpointConfig] = Field(
        default_factory=dict, description="Connection settings per model string.", json_schema_extra={"propertyNames": _MODEL_NAME_SCHEMA}
    )
    prices: dict[ModelName, PriceConfig] = Field(
        default_factory=dict, description="Prices per model string, for models litellm has no price for.", json_schema_extra={"propertyNames": _MODEL_NAME_SCHEMA}
    )
    ignore: list[str] = Field(default_factory=list, description="Extra globs to skip (added to the built-in ignores).")
    risk: RiskConfig = Field(default_factory=RiskConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    compliance: list[ComplianceRule] = Field(default_factory=list, description="Where sensitive paths may be sent; the first matching rule wins.")
    allowed_providers: list[str] | None = Field(default=None, description="If set, only these providers may receive code.")
    redact_secrets: bool = Field(default=True, description="Replace secrets in the diff with placeholders before sending it.")
    audit: AuditConfig = Field(default_factory=AuditConfig)
    prompts_dir: str | None = Field(default=None, description="Folder with system.j2/chunk.j2/summary.j2 overriding the built-in prompts.")


# --- loading -----------------------------------------------------------------------------


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
        raise ConfigError(f"{path}: cannot read: {_one_line(str(exc))}", "the config must be a UTF-8 text file") from None
    return _parse(content, str(path))


# A real config is a few KiB; anything this large is a mistake or an attack on the parser.
MAX_CONFIG_BYTES: Final = 256 * 1024


def _too_large(source: str) -> ConfigError:
    return ConfigError(f"{source}: larger than {MAX_CONFIG_BYTES // 1024} KiB",
                       "a .reviewbot.yml is a few KiB: check that --config names the right file")


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


def _validate(data: Mapping[Any, Any], source: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        # from None: a --debug traceback would otherwise print the raw input values.
        raise _to_config_error(exc, source) from None
    except RecursionError:  # a self-referencing YAML alias
        raise ConfigError(f"{source}: the config refers to itself (recursive YAML alias)", "remove the alias") from None


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
                "while constructing a mapping", node.start_mark, f"found duplicate key {_show(key)}", key_node.start_mark
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


# --- turning pydantic errors into one line ------------------------------------------------

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
    return _Problem(kind, tuple(keys), f"{where}: {err['msg'].removeprefix('Value error, ')}{suggestion}", _description(keys))


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


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def _format_path(keys: list[Any]) -> str:
    """review.concurrency, compliance[0].paths, endpoints['openai/gpt-5.4-mini'].api_base"""
    out = ""
    for key in keys:
        if isinstance(key, int) and not isinstance(key, bool):
            out += f"[{key}]"
        elif isinstance(key, str) and _PLAIN_KEY.match(key):
            out += f".{key}" if out else key
        else:
            out += f"[{_show(key)}]"
    return out


def _closest(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = _closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def _show(value: object, limit: int = 60) -> str:
    """repr() keeps the message on one line: it escapes newlines and other non-printables."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def _kind(value: object) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the JSON Schema -----------------------------------------------------------------------


def config_schema() -> dict[str, Any]:
    """JSON Schema of `.reviewbot.yml`, for editors (yaml-language-server) and the docs."""
    schema = Config.model_json_schema()
    schema["$schema"] = SCHEMA_DIALECT
    schema["title"] = "reviewbot configuration"
    schema["description"] = (
        "`.reviewbot.yml` at the repository root. Every key is optional; unknown keys are errors."
    )
    return schema


def config_schema_json() -> str:
    """The exact text of the committed `reviewbot.schema.json` (sorted, trailing newline)."""
    # Same bytes as `reviewbot config schema` (json.dumps with indent=2, sort_keys=True).
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"


# --- default models from the environment ----------------------------------------------------

# provider -> (cheap, frontier). Checked against litellm 1.110.2's bundled price map: every
# pair is a chat model with response-schema support and no deprecation date (gpt-5/-mini,
# gemini-2.5-* and claude-sonnet-4-5 are listed for retirement by early 2027, so not these).
# The map has no openrouter/ entries: OpenRouter cost stays "unknown" unless `prices:` sets it.
DEFAULT_MODELS: Final[Mapping[str, tuple[str, str]]] = types.MappingProxyType({
    "anthropic": ("anthropic/claude-haiku-5-5", "anthropic/claude-opus-5-5"),
    "openai": ("openai/gpt-5.4-mini", "openai/gpt-5.5"),
    "gemini": ("gemini/gemini-3.8-flash", "gemini/gemini-pro-latest"),
    "openrouter": ("openrouter/openai/gpt-5.4-mini", "openrouter/openai/gpt-5.5"),
    "ollama": ("ollama_chat/qwen2.5-coder:7b", "ollama_chat/qwen2.5-coder:32b"),
})
OLLAMA_ENV: Final = "OLLAMA_API_BASE"
OLLAMA_DEFAULT_BASE: Final = "http://localhost:11434"
# The order a provider is picked in when several keys are set.
PROVIDER_ORDER: Final = ("anthropic", "openai", "gemini", "openrouter", "ollama")
FALLBACK_PROVIDER: Final = "openai"


def _env_var(provider: str) -> str:
    return OLLAMA_ENV if provider == "ollama" else KEY_ENV[provider]


def _allowed(provider: str, allowed: list[str] | None) -> bool:
    if allowed is None:
        return True
    names = {name.lower() for name in allowed}
    return provider in names or (provider == "ollama" and "ollama_chat" in names)


def resolve_models(config: Config, env: Mapping[str, str]) -> tuple[Config, list[str]]:
    """Fill empty `models.cheap`/`models.frontier` from the first provider whose key is in
    `env` (ANTHROPIC, OPENAI, GEMINI, OPENROUTER, then OLLAMA_API_BASE), skipping providers
    `allowed_providers` excludes. Returns the new config and notes saying what was chosen
    and why. Configured lists are never touched."""
    missing = [tier for tier in TIERS if not getattr(config.models, tier)]
    if not missing:
        return config, []
    provider, reason = _pick_provider(config, env, missing)
    pair = dict(zip(TIERS, DEFAULT_MODELS[provider], strict=True))
    changes: dict[str, object] = {f"models.{tier}": [pair[tier]] for tier in missing}
    if provider == "ollama":
        changes.update(_ollama_changes(config, [pair[tier] for tier in missing], env))
    chosen = " and ".join(f"{pair[tier]} ({tier})" for tier in missing)
    what = "models" if len(missing) == 2 else f"models.{missing[0]}"
    return override(config, changes), [f"{what} not configured: using {chosen} {reason}"]


def _pick_provider(config: Config, env: Mapping[str, str], missing: list[str]) -> tuple[str, str]:
    """(provider, "because ...") for the defaults; an empty variable counts as unset."""
    candidates = [p for p in PROVIDER_ORDER if _allowed(p, config.allowed_providers)]
    if not candidates:
        raise ConfigError(
            f"models.{' and models.'.join(missing)} not configured, and allowed_providers "
            f"{config.allowed_providers} has no default models",
            "set models.cheap and models.frontier in .reviewbot.yml",
        )
    excluded = [f"{_env_var(p)} is set but allowed_providers excludes {p}"
                for p in PROVIDER_ORDER if p not in candidates and env.get(_env_var(p))]
    provider = next((p for p in candidates if env.get(_env_var(p))), None)
    if provider is not None:
        reason = f"because {_env_var(provider)} is set"
    else:
        provider = FALLBACK_PROVIDER if FALLBACK_PROVIDER in candidates else candidates[0]
        looked = ", ".join(_env_var(p) for p in candidates)
        reason = f"because no provider key was found (looked for {looked})"
    return provider, "; ".join([reason, *excluded])


def _ollama_changes(config: Config, models: list[str], env: Mapping[str, str]) -> dict[str, object]:
    """Local models need an api_base and cost nothing; keep whatever the user configured."""
    base = env.get(OLLAMA_ENV) or OLLAMA_DEFAULT_BASE
    changes: dict[str, object] = {}
    for model in models:
        if model not in config.endpoints:
            changes[f"endpoints[{model}]"] = {"api_base": base}
        if model not in config.prices:
            changes[f"prices[{model}]"] = {"input": 0.0, "output": 0.0}
    return changes


# --- overrides -------------------------------------------------------------------------------

# A key, then `.key` or `[key]` parts; brackets hold keys with dots (model names).
_PATH = re.compile(r"(?:[^.\[\]]+|\[[^\]]+\])(?:\.[^.\[\]]+|\[[^\]]+\])*\Z")
_PART = re.compile(r"\[([^\]]+)\]|([^.\[\]]+)")


def _split_path(path: str) -> list[str]:
    """'budget.max_usd' -> [budget, max_usd]; 'endpoints[openai/gpt-5.4-mini].api_base' ->
    [endpoints, openai/gpt-5.4-mini, api_base]."""
    if not _PATH.match(path):
        raise ConfigError(f"override {_show(path)}: not a key path", "use dotted keys, e.g. review.fail_on")
    return [m.group(1) or m.group(2) for m in _PART.finditer(path)]


def override(config: Config, changes: Mapping[str, object] | None = None, /, **more: object) -> Config:
    """A new Config with values set by dotted path, given as a mapping or as keywords:
    override(cfg, {"models.cheap": ["x"], "budget.max_usd": 0.5}). The result is validated
    again, so a bad override is a ConfigError like a bad file."""
    data: dict[str, Any] = config.model_dump(mode="python")
    for dotted, value in {**(changes or {}), **more}.items():
        *parents, leaf = _split_path(dotted)
        node = data
        for i, key in enumerate(parents):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                where = _format_path(parents[: i + 1])
                raise ConfigError(f"override {_show(dotted)}: {where} is not a section", "set the whole value instead")
            node = child
        node[leaf] = value
    return _validate(data, "overrides")


def parse_assignment(text: str) -> tuple[str, object]:
    """'budget.max_usd=0.5' -> ("budget.max_usd", 0.5): the value is read as YAML, so
    lists ([a, b]), numbers and booleans arrive typed (for `--set` and action inputs)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {_show(text)}: expected KEY=VALUE", "e.g. --set review.fail_on=high")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


# --- showing the effective config -----------------------------------------------------------

_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|password|session", re.IGNORECASE)


def config_to_yaml(config: Config) -> str:
    """The effective config as YAML, keys in schema order. Keys only ever appear as env var
    names, but a header value or a URL's password may hold a secret: those are masked."""
    data = config.model_dump(mode="json")
    for endpoint in data["endpoints"].values():
        if endpoint["api_base"]:
            endpoint["api_base"] = _mask_url(endpoint["api_base"])
        endpoint["headers"] = {
            name: "***" if _SECRET_HEADER.search(name) else value for name, value in endpoint["headers"].items()
        }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)


def _mask_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # unparseable: show it as written, there is no password we can find
        return url
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))
