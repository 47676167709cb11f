"""Config model (pure): the pydantic models of `.reviewbot.yml` and the checks on single
values (model strings, regexes, environment variable names). Strict, frozen, no unknown keys;
no I/O. The JSON Schema (schema.py) and the error messages (messages.py) are read off these."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .text import _did_you_mean, _show

Severity = Literal["critical", "high", "medium", "low", "info"]
FailOn = Literal["critical", "high", "medium", "low", "info", "none"]
Tier = Literal["cheap", "frontier"]

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
    # Compiled here so a typo fails at load time with its index, not mid-review in risk/score.py.
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
EnvName = Annotated[
    str, AfterValidator(_env_name), WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"})
]
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
    api_key_env: EnvName | None = Field(
        default=None, description="Name of the environment variable holding the key (never the key itself)."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with every call.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per request (default review.timeout).")
    max_input_tokens: int | None = Field(
        default=None, gt=0, description="Context window, for models litellm does not know."
    )
    allow_insecure_http: bool = Field(
        default=False,
        description="Allow sending the key over plain http:// to a host that is not this machine (a trusted network only); noted in the report.",
    )
    spend_labels: bool | None = Field(
        default=None,
        description="Send the run's spend labels (repository, pr, run_id, tier, chunk_id) in each request body as LiteLLM proxy metadata, for a gateway's spend logs. Default: on for litellm_proxy/ models only (a provider's own API may refuse the field).",
    )

    @field_validator("api_key_env")
    @classmethod
    def _not_a_runner_secret(cls, value: str | None) -> str | None:
        # A model endpoint must never be handed the GitHub token or the runner's own secrets.
        if value is not None and (value in FORBIDDEN_KEY_VARS or value.startswith(FORBIDDEN_KEY_PREFIXES)):
            raise ValueError(f"{value} holds the GitHub token or a runner secret and is never sent to a model")
        return value


FORBIDDEN_KEY_VARS: Final = frozenset({"GITHUB_TOKEN", "GH_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN"})
FORBIDDEN_KEY_PREFIXES: Final = ("ACTIONS_", "RUNNER_", "INPUT_GITHUB")


class PriceConfig(_Strict):
    """USD per million tokens (overrides litellm's price map; 0 for local models)."""

    input: float = Field(ge=0, description="USD per million input tokens.")
    output: float = Field(ge=0, description="USD per million output tokens.")
    cached_input: float | None = Field(default=None, ge=0, description="USD per million cached input tokens.")


class RiskConfig(_Strict):
    """Which files go to the frontier tier."""

    escalate_paths: list[str] = Field(
        default_factory=list, description="Globs whose files always go to the frontier tier."
    )
    escalate_patterns: list[Pattern] = Field(
        default_factory=list, description="Regexes (Python syntax); an added line matching one escalates its file."
    )
    cheap_paths: list[str] = Field(default_factory=list, description="Globs that never escalate (e.g. docs/**).")
    threshold: int = Field(
        default=50, ge=0, description="Risk score at or above which a file goes to the frontier tier."
    )
    large_change_lines: int = Field(
        default=400, gt=0, description="Changed lines at or above which a file counts as a large rewrite."
    )
    granularity: Literal["file", "hunk"] = Field(
        default="file",
        description="file: a risky file goes to the frontier tier whole. hunk: a file escalated only by risky added lines sends those hunks to the frontier tier and its other hunks to cheap (path rules, escalate rules, large rewrites and removed tests still send the whole file).",
    )


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
    max_inline_comments: int = Field(
        default=30, ge=0, description="Inline comments per GitHub review; the rest go to the summary."
    )
    request_changes_on: Severity | None = Field(
        default=None,
        description="Post REQUEST_CHANGES when a finding is at or above this severity (default: always COMMENT).",
    )
    incremental: bool = Field(
        default=True, description="On synchronize, review only files changed since the last reviewed head."
    )
    instructions: str = Field(
        default="",
        max_length=100_000,
        description="The maintainers' review rules for every file, sent to the model as trusted instructions.",
    )
    path_instructions: list[PathInstruction] = Field(
        default_factory=list,
        description="Review rules for the files matching a glob; each reaches only the chunks holding such files.",
    )
    instruction_files: list[str] = Field(
        default_factory=lambda: list(DEFAULT_INSTRUCTION_FILES),
        description="Repository files read as review rules, first found wins (from the base branch in Actions); [] turns this off.",
    )
    context: ContextMode | dict[Tier, ContextMode] = Field(
        default="none",
        description="Code around each hunk, from the head version of the file: none, enclosing (the function or class a changed line sits in, via tree-sitter) or file (the whole file when it fits context_tokens, else its enclosing definitions); one value or one per tier.",
    )
    context_calls: bool = Field(
        default=False,
        description="With context enclosing (or file falling back to it): also the definitions, in the same file, of the functions and methods the added lines call (parsed languages only).",
    )
    context_tokens: int = Field(
        default=1500,
        ge=0,
        le=100_000,
        description="Cap on the context tokens per chunk: a file's context that does not fit is left out (a whole file falls back to its enclosing definitions first).",
    )
    max_instruction_tokens: int = Field(
        default=2000,
        ge=0,
        le=50_000,
        description="Cap on the tokens of the general rules and of each path rule; a cut is noted in the report.",
    )
    cascade: bool | Annotated[int, Field(ge=0, le=100)] = Field(
        default=False,
        description="A second look: the cheap model may ask for a frontier review of its chunk (needs_frontier, with a reason), given within the budget. false, true, or a risk score: only chunks at or above it may ask.",
    )
    shadow: ModelName | None = Field(
        default=None,
        description="A second model that reviews the same chunks (where compliance lets it) without posting anything; the report shows where it agrees, what each found alone and what each cost.",
    )


class BudgetConfig(_Strict):
    """Spend limits per run."""

    max_usd: float | None = Field(default=None, ge=0, description="Hard cap on spend per run.")
    max_input_tokens: int | None = Field(default=None, ge=0, description="Hard cap on input tokens per run.")
    max_usd_per_pr: float | None = Field(
        default=None,
        ge=0,
        description="Hard cap on spend per pull request over all runs (reviewbot github; the running total is kept in the summary comment).",
    )
    on_exceed: Literal["downgrade", "skip", "fail"] = Field(
        default="downgrade", description="Over budget: use the cheap tier, skip the rest, or fail."
    )


class ComplianceRule(_Strict):
    """Files matching `paths` may only be sent to the models or providers in `allow`."""

    paths: list[str] = Field(min_length=1, description="Globs this rule applies to.")
    allow: Literal["local"] | list[ModelName] = Field(description="'local', or a list of providers or models.")


class AuditConfig(_Strict):
    """The JSON-lines audit log of model calls."""

    include_prompts: bool = Field(default=False, description="Also log prompt and reply text (they contain code).")


Association = Literal[
    "OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE"
]


DEFAULT_ASSOCIATIONS: Final[tuple[Association, ...]] = ("OWNER", "MEMBER", "COLLABORATOR")


class ConversationConfig(_Strict):
    """Commands in pull request comments (`/reviewbot review|plan|help|ignore`, questions)."""

    allowed_associations: list[Association] = Field(
        default_factory=lambda: list(DEFAULT_ASSOCIATIONS),
        description="Who may make reviewbot spend money (review, plan, a question) or silence a finding, by GitHub's author_association.",
    )
    max_usd_per_command: float = Field(
        default=0.50,
        ge=0,
        description="Hard cap on model spend for one command (a review or an answer); it also counts toward budget.max_usd_per_pr.",
    )
    answer_questions: bool = Field(
        default=True,
        description="Answer a reply ending in '?' in the thread of a reviewbot comment even without /reviewbot (allowed authors only).",
    )


class Config(_Strict):
    """reviewbot configuration (`.reviewbot.yml`)."""

    models: ModelsConfig = Field(default_factory=ModelsConfig)
    endpoints: dict[ModelName, EndpointConfig] = Field(
        default_factory=dict,
        description="Connection settings per model string.",
        json_schema_extra={"propertyNames": _MODEL_NAME_SCHEMA},
    )
    prices: dict[ModelName, PriceConfig] = Field(
        default_factory=dict,
        description="Prices per model string, for models litellm has no price for.",
        json_schema_extra={"propertyNames": _MODEL_NAME_SCHEMA},
    )
    ignore: list[str] = Field(default_factory=list, description="Extra globs to skip (added to the built-in ignores).")
    risk: RiskConfig = Field(default_factory=RiskConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    compliance: list[ComplianceRule] = Field(
        default_factory=list, description="Where sensitive paths may be sent; the first matching rule wins."
    )
    allowed_providers: list[str] | None = Field(
        default=None, description="If set, only these providers may receive code."
    )
    redact_secrets: bool = Field(
        default=True, description="Replace secrets in the diff with placeholders before sending it."
    )
    audit: AuditConfig = Field(default_factory=AuditConfig)
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    prompts_dir: str | None = Field(
        default=None, description="Folder with system.j2/chunk.j2/summary.j2 overriding the built-in prompts."
    )
