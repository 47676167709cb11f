"""Orchestration: the whole run, stage by stage. `plan_review` is pure (diff → files, risk,
chunks, routes, budget decisions, estimate); `run_review` sends the plan through an
injected LLMClient and returns the Report. The CLI and the GitHub Action share both."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import replace

from . import context
from .anchor import anchor_findings
from .budget import BudgetGuard, plan_budget
from .calling import ReviewSettings, ReviewTools, Target
from .cascade import second_looks
from .chunker import Chunk, begin_prepare, pack
from .config import Config, ContextMode, Tier
from .cost import Pricer, Usage, estimate_output_tokens, summarize
from .diff import Diff
from .findings import Finding, parse_reply
from .ignore import select_files
from .instructions import NO_RULES, RuleSet, build_rules
from .ledger import FormatMemory
from .llm import LLMClient
from .outcome import CallRecord, ReviewOutcome
from .plan import Plan
from .prompts import PromptSet
from .providers import LOCAL_PROVIDERS, is_local, provider_of
from .redact import Redactor
from .report import Report, build_report
from .reviewer import Reviewer
from .risk import assess
from .router import (
    Route,
    chunk_token_budget,
    compliance_group,
    model_window,
    route_chunks,
    summary_models,
    tier_models,
)
from .shadow import compare, run_shadow, shadow_routes
from .textutil import plural
from .tokens import count_tokens

TIERS: tuple[Tier, ...] = ("frontier", "cheap")
# Head versions of the reviewed files for review.context: the texts, or a loader asked once,
# after routing, for just the files of the chunks that get context (in Actions, every file
# fetched costs GraphQL requests).
FileTexts = Mapping[str, str] | Callable[[Sequence[str]], Mapping[str, str]]


def plan_review(
    diff: Diff,
    config: Config,
    *,
    source: str,
    pricer: Pricer,
    notes: Sequence[str] = (),
    prompts: PromptSet | None = None,
    instruction_file: tuple[str, str] | None = None,
    file_texts: FileTexts | None = None,
) -> Plan:
    """Everything up to the model call: pure, so --dry-run shows exactly what a run would do.
    `instruction_file`: (name, text) of the repository's rules file, read at the edge;
    `file_texts`: head versions of the reviewed files, for `review.context` (read at the edge,
    or a loader called once with the paths that need them)."""
    rules = _rules(config, instruction_file)
    prompts = prompts or PromptSet.load(config.prompts_dir, rules.general, config.review.cascade)
    reviewable, skipped = select_files(diff, config.ignore)
    redactor = Redactor() if config.redact_secrets else None
    # Rendered and redacted first: their tokens are counted on a worker thread meanwhile.
    finish_prepare = begin_prepare(reviewable, redactor)
    risks = {f.path: assess(f, config.risk) for f in reviewable}
    groups = {f.path: compliance_group((f.path, f.old_path or ""), config) for f in reviewable}
    scores = {p: r.score for p, r in risks.items()}
    budgets = {t: chunk_token_budget(config, t, pricer.context_window) for t in TIERS}
    overhead = _prompt_overhead(prompts)
    prepared = finish_prepare()

    def build(tiers: Mapping[str, Tier]) -> list[Route]:
        # risk.granularity: hunk splits a file only while it is on the frontier tier (a budget
        # downgrade sends it to cheap whole).
        split = {p: r.hunk_tiers for p, r in risks.items() if r.hunk_tiers and tiers.get(p) == "frontier"}
        return route_chunks(pack(prepared, tiers, groups, scores, budgets, split), config)

    rule_tokens = _rule_tokens(rules)

    def estimate(route: Route) -> tuple[float | None, int]:
        tokens = route.chunk.tokens + overhead + rule_tokens(route.chunk.files)
        if not route.models:
            return 0.0, 0
        out = estimate_output_tokens(tokens, config.review.max_output_tokens)
        return pricer.cost(route.models[0], tokens, out, 0), tokens

    budget = plan_budget(list(risks.values()), build, estimate, config.budget)
    routes = tuple(
        replace(r, chunk=replace(r.chunk, rules=rules.for_paths(r.chunk.files))) if rules.path_rules else r
        for r in budget.routes
    )
    reasons = {d.subject: d.reason for d in budget.decisions if d.action == "skipped"}
    skip = {cid: reasons.get(cid, "skipped: over budget") for cid in budget.skipped_chunks}
    readable = {f.path for f in diff.files if f.hunks and not f.binary and f.status != "deleted"}
    routes, context_notes = _with_context(routes, config, file_texts or {}, redactor, skip, readable)
    redactions = _redaction_counts(budget.routes)
    all_notes = [*notes, *budget.notes, *rules.notes, *context_notes]
    if redactions:
        total = sum(redactions.values())
        all_notes.append(f"{total} likely secret(s) replaced by placeholders before sending")
    return Plan(
        source=source,
        diff=diff,
        config=config,
        reviewable=tuple(reviewable),
        skipped=tuple(skipped),
        risks=risks,
        tiers=dict(budget.tiers),
        routes=routes,
        skip=skip,
        decisions=tuple(budget.decisions),
        estimate_inputs={
            r.chunk.id: r.chunk.tokens + r.chunk.context_tokens + overhead + rule_tokens(r.chunk.files) for r in routes
        },
        notes=tuple(all_notes),
        redactions=redactions,
        prompts=prompts,
        rules=rules,
    )


def _with_context(
    routes: tuple[Route, ...],
    config: Config,
    source: FileTexts,
    redactor: Redactor | None,
    skip: Mapping[str, str],
    readable: Set[str],
) -> tuple[tuple[Route, ...], list[str]]:
    """Each chunk gets the code around its hunks (review.context for its tier), redacted like
    the diff, capped by review.context_tokens; a note says what it cost. A loader is asked
    for the files of the chunks that will be sent with context, and only those."""
    if all(config.review.context_for(t) == "none" for t in TIERS):
        return routes, []
    needed = list(
        dict.fromkeys(
            path
            for r in routes
            if r.models and r.chunk.id not in skip and config.review.context_for(r.chunk.tier) != "none"
            for path in r.chunk.files
            if path in readable
        )
    )
    texts = source if isinstance(source, Mapping) else (source(needed) if needed else {})
    unread = [p for p in needed if p not in texts]
    out: list[Route] = []
    total = diff_tokens = capped = 0
    for route in routes:
        chunk = route.chunk
        mode = config.review.context_for(chunk.tier)
        if mode == "none" or not route.models:
            out.append(route)
            continue
        # Per file the blocks to try, best first: a whole file over the cap falls back to the
        # definitions around its hunks rather than to nothing.
        modes: tuple[ContextMode, ...] = ("file", "enclosing") if mode == "file" else (mode,)
        choices = []
        for path, (shown, added) in context.shown_lines(chunk.text, chunk.files).items():
            text = texts.get(path)
            if text is not None:
                calls = config.review.context_calls
                found = [context.regions(path, text, added, m, calls=calls) for m in modes]
                choices.append([context.render(path, text, f, shown) for f in found])
        joined, cut = context.cap(choices, config.review.context_tokens, count_tokens)
        if redactor is not None and joined:
            joined = redactor.redact(joined)[0]
        tokens = count_tokens(joined) if joined else 0
        total, diff_tokens, capped = total + tokens, diff_tokens + chunk.tokens, capped + cut
        out.append(replace(route, chunk=replace(chunk, context=joined, context_tokens=tokens)))
    note = (
        f"code context: {total:,} tokens in {sum(1 for r in out if r.chunk.context)} chunk(s), "
        f"{total / diff_tokens if diff_tokens else 0:.2f}× the diff tokens"
        + (f"; {capped} chunk(s) cut at review.context_tokens" if capped else "")
        + (
            f"; no head version for {plural(len(unread), 'file')} (locally: --git A..B, or the work tree the diff "
            "was made in; files over 512 KB or not text are left out)"
            if unread
            else ""
        )
    )
    return tuple(out), [note]


def _rules(config: Config, instruction_file: tuple[str, str] | None) -> RuleSet:
    review = config.review
    if not (review.instructions or review.path_instructions or instruction_file):
        return NO_RULES
    return build_rules(
        review.instructions,
        [(p.globs, p.instructions) for p in review.path_instructions],
        instruction_file,
        review.max_instruction_tokens,
        count_tokens,
    )


def _rule_tokens(rules: RuleSet) -> Callable[[Sequence[str]], int]:
    """Tokens the path rules add to a chunk holding `files` (the general rules are in the
    system prompt, counted in the overhead)."""
    if not rules.path_rules:
        return lambda files: 0
    sizes = {r.label: count_tokens(r.text) + 16 for r in rules.path_rules}
    return lambda files: sum(sizes[r.label] for r in rules.for_paths(files))


def estimate_usages(plan: Plan, pricer: Pricer) -> dict[str, Usage]:
    """The dry-run cost: each chunk priced on its primary model, by chunk id."""
    usages: dict[str, Usage] = {}
    for route in plan.routes:
        if not route.models or route.chunk.id in plan.skip:
            continue
        tokens = plan.estimate_inputs[route.chunk.id]
        out = estimate_output_tokens(tokens, plan.config.review.max_output_tokens)
        model = route.models[0]
        usages[route.chunk.id] = Usage(model, route.chunk.tier, tokens, out, 0, pricer.cost(model, tokens, out, 0))
    return usages


def dry_run(plan: Plan, pricer: Pricer) -> Report:
    frontier = _first(tier_models(plan.config, "frontier"))
    usages = estimate_usages(plan, pricer)
    cost = summarize(list(usages.values()), pricer, frontier, estimated=True)
    report = build_report(plan, None, cost, dry_run=True)
    chunks = tuple(replace(c, est_usd=usages[c.id].usd if c.id in usages else None) for c in report.chunks)
    return replace(report, chunks=chunks)


def run_review(
    plan: Plan,
    client: LLMClient,
    pricer: Pricer,
    targets: Callable[[str], Target],
    *,
    pr_title: str | None = None,
    pr_body: str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
    labels: Mapping[str, str] | None = None,
    formats: FormatMemory | None = None,
) -> Report:
    """Send the plan to the models and build the report. `on_call` gets every model call's
    record as soon as it is final (the audit log); `formats`: JSON modes learned by earlier
    runs of the same models (eval), else this run learns its own."""
    config = plan.config
    guard = BudgetGuard(config.budget.max_usd, config.budget.max_input_tokens)
    prompts = plan.prompts or PromptSet.load(config.prompts_dir, plan.rules.general, config.review.cascade)
    redactor = Redactor() if config.redact_secrets else None
    if redactor is not None:
        pr_title = redactor.redact(pr_title)[0] if pr_title else pr_title
        pr_body = redactor.redact(pr_body)[0] if pr_body else pr_body
    chunks = {r.chunk.id: r.chunk for r in plan.routes}

    def anchor(findings: Sequence[Finding], chunk: Chunk) -> list[Finding]:
        return anchor_findings(findings, plan.diff, chunk.files)

    tools = ReviewTools(
        targets=targets,
        price=pricer.cost,
        supports_schema=lambda model: sends_reply_schema(model, targets(model).api_base),
        context_window=lambda model: model_window(config, model, pricer.context_window),
        count_tokens=count_tokens,
        parse=parse_reply,
        anchor=anchor,
        reasons={p: r.reasons for p, r in plan.risks.items()},
        progress=progress,
        on_call=on_call,
        labels=dict(labels or {}),
        formats=formats,
    )
    settings = ReviewSettings(
        concurrency=config.review.concurrency,
        max_output_tokens=config.review.max_output_tokens,
        include_prompts=config.audit.include_prompts,
    )
    reviewer = Reviewer(client, prompts, guard, tools, settings)
    outcome = reviewer.review(plan.routes, pr_title=pr_title, pr_body=pr_body, skip=plan.skip)
    outcome = second_looks(
        reviewer, outcome, {r.chunk.id: r for r in plan.routes}, config, pr_title=pr_title, pr_body=pr_body
    )
    outcome = _with_overview(reviewer, outcome, plan, chunks)
    shadow = None
    if config.review.shadow:
        routes = shadow_routes(plan.routes, tuple(plan.skip), config.review.shadow, config)
        results = run_shadow(
            client, prompts, guard, tools, settings, reviewer.ledger, routes, pr_title=pr_title, pr_body=pr_body
        )
        outcome = reviewer.recorded(outcome)
        shadow = compare(config.review.shadow, outcome.results, results, outcome.calls)
    frontier = _first(tier_models(config, "frontier"))
    usages = [
        Usage(c.model, c.tier, c.input_tokens, c.output_tokens, c.cached_tokens or 0, c.usd) for c in outcome.calls
    ]
    cost = summarize(usages, pricer, frontier)
    return build_report(plan, outcome, cost, dry_run=False, budget=dict(guard.snapshot()), shadow=shadow)


def _with_overview(
    reviewer: Reviewer, outcome: ReviewOutcome, plan: Plan, chunks: Mapping[str, Chunk]
) -> ReviewOutcome:
    from .router import model_allowed

    models = summary_models(plan.config)
    summaries: list[tuple[str, str]] = []
    for result in outcome.results:
        chunk = chunks.get(result.chunk_id)
        if result.status != "reviewed" or not result.summary or chunk is None:
            continue
        # A chunk's summary describes its code: it may only reach models that chunk may reach.
        if all(model_allowed(m, chunk.group, plan.config) for m in models):
            summaries.append((", ".join(chunk.files), result.summary))
    counts: dict[str, int] = {}
    for result in outcome.results:
        for f in result.findings:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    # File names are content too: a local-only path must not reach a cloud summary model.
    files = [
        f.path
        for f in plan.reviewable
        if all(model_allowed(m, compliance_group((f.path, f.old_path or ""), plan.config), plan.config) for m in models)
    ]
    reviewed = [r for r in outcome.results if r.status == "reviewed"]
    if not reviewed:  # nothing reviewed: no overview is asked for, none could be true
        return reviewer.recorded(outcome)
    if len(outcome.results) == 1 and len(reviewed) == 1 and reviewed[0].summary:
        # One chunk is the whole PR: its summary is the overview, without another round trip.
        overview: str | None = reviewed[0].summary
    else:
        overview = reviewer.overview(models, summaries, counts, files) if summaries else None
    return reviewer.recorded(replace(outcome, overview=overview))


def sends_reply_schema(model: str, api_base: str | None = None) -> bool:
    """Whether review requests to `model` carry the reply's JSON Schema (`response_format`
    json_schema, then llama.cpp's form) or ask for JSON mode and rely on the shape the system
    prompt shows. Local servers (Ollama, vLLM, LM Studio, llama.cpp, llamafile — by provider or
    by an api_base on this machine or the private network) turn a schema into constrained
    decoding, and their tokens cost nothing. Hosted APIs bill the schema as ~200 prompt tokens
    on every request (OpenAI takes a non-strict schema as a hint only; strict mode would forbid
    the optional fields), so they get JSON mode: the reply is validated, and repaired once, here."""
    return provider_of(model) in LOCAL_PROVIDERS or is_local(model, api_base)


def _prompt_overhead(prompts: PromptSet) -> int:
    return int(prompts.overhead_tokens(count_tokens))


def _redaction_counts(routes: Sequence[Route]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for route in routes:
        for path, n in getattr(route.chunk, "redactions", ()):
            counts[path] = counts.get(path, 0) + n
    return counts


def _first(models: Sequence[str]) -> str | None:
    return models[0] if models else None
