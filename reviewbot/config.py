"""Support (boundary): the `.reviewbot.yml` model. Input: a YAML file (or none). Output: a
validated, frozen Config. pydantic lives here and nowhere else in the pipeline; unknown keys
are rejected with a "did you mean" and errors name the key path."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Severity = Literal["critical", "high", "medium", "low", "info"]
FailOn = Literal["critical", "high", "medium", "low", "info", "none"]
Tier = Literal["cheap", "frontier"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelsConfig(_Strict):
    """Ordered model lists per task slot: the first is primary, the rest are fallbacks."""

    cheap: list[str] = Field(default_factory=list, description="Routine review, in failover order.")
    frontier: list[str] = Field(default_factory=list, description="Escalated (risky) files, in failover order.")
    summary: str | list[str] = Field(default="cheap", description="PR overview: a tier name or a list of models.")


class EndpointConfig(_Strict):
    """Per-model connection settings: own keys, gateways, local servers."""

    api_base: str | None = Field(default=None, description="Base URL, e.g. http://127.0.0.1:11434 or a LiteLLM proxy.")
    api_key_env: str | None = Field(default=None, description="Name of the environment variable holding the key.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with every call.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per request (default review.timeout).")
    max_input_tokens: int | None = Field(default=None, gt=0, description="Context window, for models litellm does not know.")


class PriceConfig(_Strict):
    """USD per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)


class RiskConfig(_Strict):
    escalate_paths: list[str] = Field(default_factory=list, description="Globs whose files always go to the frontier tier.")
    escalate_patterns: list[str] = Field(default_factory=list, description="Regexes; an added line matching one escalates its file.")
    cheap_paths: list[str] = Field(default_factory=list, description="Globs that never escalate (e.g. docs/**).")
    threshold: int = Field(default=50, ge=0, description="Risk score at or above which a file goes to the frontier tier.")
    large_change_lines: int = Field(default=400, gt=0, description="Changed lines at or above which a file counts as a large rewrite.")


class ReviewConfig(_Strict):
    concurrency: int = Field(default=8, ge=1, le=64)
    max_chunk_tokens: int = Field(default=6000, ge=500)
    min_severity: Severity = "low"
    fail_on: FailOn = "none"
    timeout: float = Field(default=120, gt=0, description="Seconds per model request.")
    max_output_tokens: int = Field(default=4096, ge=256)
    max_inline_comments: int = Field(default=30, ge=0, description="Inline comments per GitHub review; the rest go to the summary.")
    request_changes_on: Severity | None = Field(default=None, description="Post REQUEST_CHANGES when a finding is at or above this severity (default: always COMMENT).")
    incremental: bool = Field(default=True, description="On synchronize, review only files changed since the last reviewed head.")


class BudgetConfig(_Strict):
    max_usd: float | None = Field(default=None, ge=0, description="Hard cap on spend per run.")
    max_input_tokens: int | None = Field(default=None, ge=0, description="Hard cap on input tokens per run.")
    on_exceed: Literal["downgrade", "skip", "fail"] = "downgrade"


class ComplianceRule(_Strict):
    paths: list[str] = Field(min_length=1, description="Globs this rule applies to.")
    allow: Literal["local"] | list[str] = Field(description="'local', or a list of providers or models.")


class AuditConfig(_Strict):
    include_prompts: bool = False


class Config(_Strict):
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    endpoints: dict[str, EndpointConfig] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)
    ignore: list[str] = Field(default_factory=list, description="Extra globs to skip (added to the built-in ignores).")
    risk: RiskConfig = Field(default_factory=RiskConfig)
    review: ReviewConfig = Field(default_factory=ReviewConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    compliance: list[ComplianceRule] = Field(default_factory=list)
    allowed_providers: list[str] | None = Field(default=None, description="If set, only these providers may receive code.")
    redact_secrets: bool = True
    audit: AuditConfig = Field(default_factory=AuditConfig)
    prompts_dir: str | None = Field(default=None, description="Folder with system.j2/chunk.j2/summary.j2 overriding the built-in prompts.")


def load_config(path: str | Path | None = None, *, text: str | None = None) -> Config:
    """Load and validate. path=None looks for `.reviewbot.yml` in the current directory;
    no file means defaults. Raises ConfigError with the key path and a did-you-mean."""
    raise NotImplementedError
