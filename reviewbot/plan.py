"""Stage 4's record (pure data): the plan of one run — what is reviewed, by which tier and
which models, what is skipped and why — made by `pipeline.plan_review` before any model is
called, read by the review, the dry run and the report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .budget import BudgetDecision
from .config import Config, Tier
from .diff import Diff, FileDiff
from .ignore import SkippedFile
from .instructions import NO_RULES, RuleSet
from .prompts import PromptSet
from .risk import FileRisk
from .router import Route


@dataclass(frozen=True)
class Plan:
    source: str
    diff: Diff
    config: Config
    reviewable: tuple[FileDiff, ...]
    skipped: tuple[SkippedFile, ...]
    risks: Mapping[str, FileRisk]
    tiers: Mapping[str, Tier]  # after budget downgrades
    routes: tuple[Route, ...]
    skip: Mapping[str, str]  # chunk id -> reason it is not sent (budget)
    decisions: tuple[BudgetDecision, ...]
    estimate_inputs: Mapping[str, int]  # chunk id -> estimated input tokens (prompt included)
    notes: tuple[str, ...] = ()
    redactions: Mapping[str, int] = field(default_factory=dict)
    prompts: PromptSet | None = None
    rules: RuleSet = NO_RULES  # the maintainers' review rules of this run
