"""Edge: `reviewbot eval` — policies from config files (and --model), the reply cache, the
model client, then `run_eval` and a renderer. The CLI prints; this module returns text and
an exit code. Every case runs through the same pipeline as `reviewbot review`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config, override
from ..errors import EXIT_FINDINGS, EXIT_OK, EXIT_SERVICE, UsageError
from ..llm import LLMClient
from .cases import attach_head_files, load_cases
from .matching import MatchSettings
from .run import EvalResult, EvalSettings, Policy, run_eval

OFFLINE_KEY = "offline-replay-no-key"  # never sent: offline, the cache answers or the call fails


@dataclass(frozen=True)
class EvalOptions:
    cases: tuple[str, ...]
    configs: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    budget_usd: float | None = None
    cache: str | None = None
    offline: bool = False
    tolerance: int = 1
    match_category: bool = False
    concurrency: int = 8
    fmt: str = "text"
    min_recall: float | None = None
    head_files: str | None = None  # a folder of head files per case id, for the cases that carry none


def policies(opts: EvalOptions, load: Callable[[str | None], Config]) -> list[Policy]:
    """Each --config is a policy named by its file's stem (none: the default config); each
    --model turns every policy into one per model, that model in every tier."""
    bases = [(Path(p).stem, load(p)) for p in opts.configs] or [("default", load(None))]
    names = [name for name, _ in bases]
    if len(set(names)) != len(names):
        raise UsageError(
            "two --config files have the same name: " + ", ".join(sorted(names)),
            hint="policies are named by the config file's stem; rename one",
        )
    if not opts.models:
        return [Policy(name, cfg) for name, cfg in bases]
    out = []
    for name, cfg in bases:
        for model in opts.models:
            changes = {"models.cheap": [model], "models.frontier": [model], "models.summary": "cheap"}
            label = model if len(bases) == 1 and not opts.configs else f"{name}:{model}"
            out.append(Policy(label, override(cfg, changes)))
    return out


def run(
    opts: EvalOptions,
    load: Callable[[str | None], Config],
    client: LLMClient | None,
    env: Mapping[str, str] = os.environ,
    progress: Callable[[int, int, float], None] | None = None,
) -> tuple[EvalResult, Any]:
    """The evaluation with `client` (None: litellm), behind the cache when one is given."""
    from .cache import CachingClient

    if opts.offline and not opts.cache:
        raise UsageError("--offline replays recorded replies: it needs --cache DIR")
    if opts.budget_usd is not None and opts.budget_usd < 0:
        raise UsageError(f"--budget-usd must be 0 or more, not {opts.budget_usd}")
    if opts.min_recall is not None and not 0 <= opts.min_recall <= 1:
        raise UsageError(f"--min-recall is a fraction from 0 to 1, not {opts.min_recall}")
    cases = load_cases(opts.cases)
    if opts.head_files:
        cases = attach_head_files(cases, opts.head_files)
    if not cases:
        raise UsageError(
            "no eval cases found in " + ", ".join(opts.cases),
            hint="pass case files (.yaml, .jsonl) or folders holding them; see docs/eval-format.md",
        )
    pols = policies(opts, load)
    if client is None and not opts.offline:
        from ..llm import LiteLLMClient

        client = LiteLLMClient()
    from ..ownkeys import ScrubbingClient

    client = None if client is None else ScrubbingClient(client)
    cached = CachingClient(None if opts.offline else client, opts.cache, offline=opts.offline) if opts.cache else None
    active: LLMClient = cached if cached is not None else client  # type: ignore[assignment]
    settings = EvalSettings(
        concurrency=opts.concurrency,
        budget_usd=opts.budget_usd,
        match=MatchSettings(tolerance=opts.tolerance, category=opts.match_category),
    )
    result = run_eval(cases, pols, active, _targets(env, offline=opts.offline), settings, progress)
    if cached is not None:
        from dataclasses import replace

        result = replace(result, cache={"hits": cached.hits, "misses": cached.misses})
    return result, cases


def _targets(env: Mapping[str, str], *, offline: bool) -> Any:
    """Offline, a missing key is no error: the cache answers, nothing is sent anywhere."""
    from ..llm import missing_keys
    from ..router import summary_models
    from ..session import make_targets

    def targets(config: Config, plan: Any) -> Any:
        scope = env
        if offline:
            models = [m for r in plan.routes for m in r.models] + list(summary_models(config))
            scope = {**env, **{var: OFFLINE_KEY for _, var in missing_keys(models, config.endpoints, env)}}
        return make_targets(config, plan, scope)

    return targets


def render(result: EvalResult, fmt: str) -> str:
    from . import render as renderers

    return {"json": renderers.render_json, "markdown": renderers.render_markdown, "html": renderers.render_html}.get(
        fmt, renderers.render_text
    )(result)


def exit_code(result: EvalResult, min_recall: float | None) -> tuple[int, str | None]:
    """3 when no case run reviewed anything; 1 when a policy's recall is under --min-recall."""
    runs = [r for p in result.policies for r in p.runs]
    if runs and all(r.error for r in runs):
        return EXIT_SERVICE, f"no case run produced a review; the first: {runs[0].error}"
    if min_recall is not None:
        low = [p for p in result.policies if (p.scores.recall or 0.0) < min_recall]
        if low:
            worst = min(low, key=lambda p: p.scores.recall or 0.0)
            return EXIT_FINDINGS, (
                f"recall {100 * (worst.scores.recall or 0.0):.0f}% for policy "
                f"{worst.policy} is under --min-recall {100 * min_recall:.0f}%"
            )
    return EXIT_OK, None
