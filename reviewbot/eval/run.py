"""Eval orchestration: every case through every policy, on the same pipeline as `reviewbot
review` (plan_review → run_review: same routing, prompts, redaction and per-run budget), cases
concurrently. The whole evaluation has one hard cap: each case run is allotted a fair share of
what is left (unspent money returns to the pool), so the allotments never add up to more than
--budget-usd. The model client is injected (the CLI passes litellm, behind the reply cache)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .. import __version__
from ..calling import Target
from ..config import Config, override
from ..cost import Pricer
from ..diff import parse_diff
from ..errors import ReviewbotError
from ..ledger import FormatMemory
from ..llm import LLMClient
from ..pipeline import plan_review, run_review
from ..plan import Plan
from ..prompts import PromptSet
from ..report import Report, not_reviewed_reason
from .cases import Case
from .matching import MatchSettings, match_case
from .scoring import CaseRun, PolicyScore, score_policy

Targets = Callable[[Config, Plan], Callable[[str], Target]]


@dataclass(frozen=True)
class Policy:
    name: str  # e.g. the config file's stem: all-cheap, routed, all-frontier
    config: Config


@dataclass(frozen=True)
class EvalSettings:
    concurrency: int = 8  # cases in flight at once
    budget_usd: float | None = None  # hard cap on the whole evaluation
    match: MatchSettings = field(default_factory=MatchSettings)


@dataclass(frozen=True)
class EvalResult:
    policies: tuple[PolicyScore, ...]
    version: str
    prompt_hashes: Mapping[str, str]  # policy -> hash of the prompt templates it used
    models: Mapping[str, tuple[str, ...]]  # policy -> models it may call
    settings: EvalSettings
    cases: int
    budget_spent_usd: float
    cache: Mapping[str, int] = field(default_factory=dict)  # hits / misses when a cache was used


class _Pool:
    """The evaluation's money: fair-share allotments that never exceed the cap in total."""

    def __init__(self, cap: float | None, runs: int) -> None:
        self.cap, self.left_runs = cap, runs
        self.reserved = self.spent = 0.0
        self.lock = threading.Lock()

    def allot(self) -> float | None:
        with self.lock:
            self.left_runs -= 1
            if self.cap is None:
                return None
            free = self.cap - self.spent - self.reserved
            share = max(0.0, free / (self.left_runs + 1))
            self.reserved += share
            return share

    def settle(self, allotted: float | None, spent: float) -> None:
        with self.lock:
            self.spent += spent
            if allotted is not None:
                self.reserved -= allotted


def run_eval(
    cases: Sequence[Case],
    policies: Sequence[Policy],
    client: LLMClient,
    targets: Targets,
    settings: EvalSettings = EvalSettings(),
    progress: Callable[[int, int, float], None] | None = None,
) -> EvalResult:
    jobs = [(p, c) for p in policies for c in cases]
    pool = _Pool(settings.budget_usd, len(jobs))
    # A server that refuses a JSON mode is asked once per policy, not once per case (each
    # refusal is a failed call in the scores).
    formats = {p.name: FormatMemory() for p in policies}
    done = [0]
    lock = threading.Lock()

    def one(job: tuple[Policy, Case]) -> CaseRun:
        run = _run_case(job[0], job[1], client, targets, pool, settings.match, formats[job[0].name])
        with lock:
            done[0] += 1
            if progress is not None:
                progress(done[0], len(jobs), pool.spent)
        return run

    with ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as executor:
        runs = list(executor.map(one, jobs))
    scores = tuple(score_policy(p.name, [r for r in runs if r.policy == p.name]) for p in policies)
    return EvalResult(
        policies=scores,
        version=__version__,
        prompt_hashes={p.name: PromptSet.load(p.config.prompts_dir).template_hash for p in policies},
        models={p.name: _models(p.config) for p in policies},
        settings=settings,
        cases=len(cases),
        budget_spent_usd=pool.spent,
    )


def _run_case(
    policy: Policy,
    case: Case,
    client: LLMClient,
    targets: Targets,
    pool: _Pool,
    match: MatchSettings,
    formats: FormatMemory | None = None,
) -> CaseRun:
    allotted = pool.allot()
    spent = 0.0
    try:
        if allotted is not None and allotted <= 0:
            return CaseRun(policy.name, case, None, None, "skipped: the evaluation's budget is spent")
        config = _capped(policy.config, allotted)
        diff = parse_diff(case.diff)
        pricer = Pricer(config.prices)
        plan = plan_review(diff, config, source=case.id, pricer=pricer, file_texts=case.head_files or None)
        report = run_review(
            plan, client, pricer, targets(config, plan), pr_title=case.title, pr_body=case.description, formats=formats
        )
        spent = _known_spend(report)
        changed = sum(f.additions + f.deletions for f in diff.files)
        # A case nothing reviewed still counts its labels as missed (a failing model must not
        # look better by failing) and is named as failed.
        reason = not_reviewed_reason(report)
        sent = {c.id for c in report.chunks if c.status in ("reviewed", "partial", "failed")}
        routes = [r for r in plan.routes if r.chunk.id in sent]
        return CaseRun(
            policy.name,
            case,
            report,
            match_case(case, report.findings, changed, match),
            None if reason is None else f"not reviewed: {reason}",
            diff_tokens=sum(r.chunk.tokens for r in routes),
            context_tokens=sum(r.chunk.context_tokens for r in routes),
        )
    except ReviewbotError as exc:
        return CaseRun(policy.name, case, None, None, exc.message)
    finally:
        pool.settle(allotted, spent)


def _capped(config: Config, allotted: float | None) -> Config:
    if allotted is None:
        return config
    current = config.budget.max_usd
    return override(config, {"budget.max_usd": allotted if current is None else min(current, allotted)})


def _known_spend(report: Report) -> float:
    return sum(c.usd for c in report.calls if c.usd is not None)


def _models(config: Config) -> tuple[str, ...]:
    summary = config.models.summary
    extra = (
        [summary]
        if isinstance(summary, str) and summary not in ("cheap", "frontier")
        else (list(summary) if not isinstance(summary, str) else [])
    )
    return tuple(dict.fromkeys([*config.models.cheap, *config.models.frontier, *extra]))
