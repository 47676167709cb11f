"""Edge: one session of reviewbot — what the CLI, the GitHub Action and a comment command
share to run a review: the effective config (file, overrides, default models), the plan,
the dry run or the real run through litellm, the audit log (a line per call as it
finishes), the exit code. (`pipeline` is the stages in order, `reviewer` the model stage,
`github/run` the Action's flow.)
Imports heavy modules lazily so `reviewbot --help` stays fast."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import EXIT_FINDINGS, EXIT_OK, EXIT_SERVICE

if TYPE_CHECKING:
    from .calling import Target
    from .config import Config
    from .llm import LLMClient
    from .pipeline import FileTexts
    from .report import Report


def load_effective_config(
    opts: dict[str, Any],
    *,
    text: str | None = None,
    origins: dict[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> tuple[Config, list[str]]:
    """The config file (or `text`), CLI overrides, then default models for the keys present.
    With `origins`, fills it with where each non-default value came from: key path -> the
    config file, the option or `REVIEWBOT_*` variable (`opts["_sources"]` names them), or the
    environment for default models. `env`: the environment to read keys from (default: the
    process's)."""
    from .config import find_config_file, load_config, override, resolve_models

    # With `text`, the path only names the text in errors (e.g. ".reviewbot.yml at base 1a2b3c4").
    path = opts.get("config_path")
    if path is None and text is None:
        path = find_config_file()
    cfg = load_config(path, text=text)
    sources: dict[str, str] = opts.get("_sources") or {}
    if origins is not None and path is not None:
        where = f"{path} (via {sources['config_path']})" if "config_path" in sources else str(path)
        origins.update(dict.fromkeys(_keys_set(cfg), where))
    changes: dict[str, Any] = {}
    flags: dict[str, str] = {}
    for flag, key in (("cheap_model", "models.cheap"), ("frontier_model", "models.frontier")):
        if opts.get(flag):
            changes[key], flags[key] = list(opts[flag]), flag
    summary = opts.get("summary_model")
    if summary:
        changes["models.summary"] = (
            summary[0] if len(summary) == 1 and summary[0] in ("cheap", "frontier") else list(summary)
        )
        flags["models.summary"] = "summary_model"
    for flag, key in (
        ("budget_usd", "budget.max_usd"),
        ("fail_on", "review.fail_on"),
        ("min_severity", "review.min_severity"),
        ("concurrency", "review.concurrency"),
        ("shadow", "review.shadow"),
    ):
        if opts.get(flag) is not None:
            changes[key], flags[key] = opts[flag], flag
    if changes:
        cfg = override(cfg, changes)
    from .config import check_key_sources, check_transport
    from .ownkeys import SCRUB

    env = os.environ if env is None else env
    check_key_sources(cfg, env)
    insecure = check_transport(cfg, env, _resolves_to_loopback)
    # Every variable the config names as a key is the run's own secret from here on.
    SCRUB.add_env(env, [e.api_key_env for e in cfg.endpoints.values() if e.api_key_env])
    resolved, notes = resolve_models(cfg, env)
    if origins is not None:
        origins.update({key: sources.get(flag, "--" + flag.replace("_", "-")) for key, flag in flags.items()})
        for tier in ("cheap", "frontier"):
            if getattr(resolved.models, tier) != getattr(cfg.models, tier):
                origins[f"models.{tier}"] = "default for the provider key in the environment (see the note)"
    return resolved, [*notes, *insecure]


def _resolves_to_loopback(host: str) -> bool:
    """Every address the name resolves to is this machine's (unresolvable: not loopback)."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    addrs = {info[4][0] for info in infos}
    return bool(addrs) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addrs)


def _keys_set(model: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the fields a loaded config set explicitly (pydantic's fields_set)."""
    from pydantic import BaseModel

    keys: list[str] = []
    for name in sorted(model.model_fields_set, key=list(type(model).model_fields).index):
        value = getattr(model, name)
        if isinstance(value, BaseModel) and value.model_fields_set:
            keys += _keys_set(value, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def execute(
    diff: Any,
    cfg: Config,
    *,
    source: str,
    notes: Sequence[str],
    dry_run: bool,
    audit_log: str | None,
    progress: Callable[[int, int, float], None] | None = None,
    pr_title: str | None = None,
    pr_body: str | None = None,
    run_id: str | None = None,
    instruction_file: tuple[str, str] | None = None,
    file_texts: FileTexts | None = None,
    on_plan: Callable[[PlanSummary], None] | None = None,
    env: Mapping[str, str] | None = None,
    client: LLMClient | None = None,
    labels: Mapping[str, str] | None = None,
) -> Report:
    """Plan the review of `diff` and run it (or only price it, `dry_run`). `env` holds the keys
    (default: the process's environment); `client` sends the model requests (default:
    litellm, with the run's own keys scrubbed from what goes and comes); `labels` (e.g.
    repository, pr) go with the run id to gateways that take spend labels."""
    from .cost import Pricer
    from .pipeline import dry_run as make_dry_run
    from .pipeline import plan_review, run_review

    pricer = Pricer(cfg.prices)
    plan = plan_review(
        diff, cfg, source=source, pricer=pricer, notes=notes, instruction_file=instruction_file, file_texts=file_texts
    )
    if dry_run or not plan.routes:  # nothing to send (an empty diff, all ignored): no key needed
        return make_dry_run(plan, pricer) if dry_run else run_review(plan, _NoClient(), pricer, _no_target)
    targets = make_targets(cfg, plan, env)
    if on_plan is not None:  # before the first model call (and the seconds of the litellm import)
        on_plan(summarize_plan(plan, pricer))
    if client is None:
        from .llm import LiteLLMClient
        from .ownkeys import ScrubbingClient

        client = ScrubbingClient(LiteLLMClient())
    run_id = run_id or uuid.uuid4().hex[:12]
    labels = {**(labels or {}), "run_id": run_id}
    if not audit_log:
        return run_review(
            plan, client, pricer, targets, pr_title=pr_title, pr_body=pr_body, progress=progress, labels=labels
        )
    from .audit import AuditLog

    # Opened before any model is called (an unwritable path costs nothing); each call's line
    # is appended as soon as the call is final, so an interrupted run keeps what it paid for.
    log = AuditLog(audit_log, run_id)
    try:
        report = run_review(
            plan,
            client,
            pricer,
            targets,
            pr_title=pr_title,
            pr_body=pr_body,
            progress=progress,
            on_call=log.write,
            labels=labels,
        )
    except BaseException:
        log.close()  # interrupted or failed: the lines of the finished calls are in the file
        raise
    log.finish(report.calls)  # anything not handed over yet; raises if a write failed
    return report


@dataclass(frozen=True)
class PlanSummary:
    """What a run is about to do, for the progress display."""

    files: int
    tiers: tuple[tuple[str, int], ...]  # tier -> files
    chunks: int  # to be sent
    estimated_usd: float | None  # None when a model has no price
    cap_usd: float | None


def summarize_plan(plan: Any, pricer: Any) -> PlanSummary:
    from .pipeline import estimate_usages

    usages = estimate_usages(plan, pricer)
    prices = [u.usd for u in usages.values()]
    counts: dict[str, int] = {}
    for tier in plan.tiers.values():
        counts[tier] = counts.get(tier, 0) + 1
    return PlanSummary(
        len(plan.reviewable),
        tuple(sorted(counts.items())),
        len(usages),
        None if any(p is None for p in prices) else sum(p for p in prices if p is not None),
        plan.config.budget.max_usd,
    )


class _NoClient:
    """The client of a run with nothing to send: never asked (a bug if it is)."""

    def complete(self, request: Any) -> Any:
        raise AssertionError("no model call was planned")


def _no_target(model: str) -> Any:
    raise AssertionError(f"no model call was planned ({model})")


def make_targets(cfg: Config, plan: Any, env: Mapping[str, str] | None = None) -> Callable[[str], Target]:
    """Resolve every model a request may go to, failing early (exit 2) on a missing key."""
    from .errors import MissingKeyError
    from .llm import missing_keys
    from .router import summary_models

    models = list(
        dict.fromkeys(
            [m for r in plan.routes if r.chunk.id not in plan.skip for m in r.models] + list(summary_models(cfg))
        )
    )
    env = os.environ if env is None else env
    missing = missing_keys(models, cfg.endpoints, env)
    if missing:
        model, var = missing[0]
        raise MissingKeyError(
            f"no API key for {model}: set {var}",
            hint="or run with --dry-run to see the plan and its estimated cost without calling a model",
        )
    resolved = {}
    for model in models:
        resolved[model] = target_for(cfg, model, env)

    def target(model: str) -> Target:
        if model not in resolved:
            resolved[model] = target_for(cfg, model, env)
        return resolved[model]

    return target


def target_for(cfg: Config, model: str, env: Mapping[str, str]) -> Target:
    """Where `model`'s requests go (api_base, key, headers, timeout, spend labels), from the config and `env`."""
    from .calling import Target
    from .llm import endpoint_host, resolve_connection
    from .providers import provider_of

    conn = resolve_connection(model, cfg.endpoints, env, cfg.review.timeout)
    endpoint = cfg.endpoints.get(model)
    labels = (
        endpoint.spend_labels
        if endpoint is not None and endpoint.spend_labels is not None
        else provider_of(model) == "litellm_proxy"
    )
    return Target(
        model=model,
        api_base=conn.api_base,
        api_key=conn.api_key,
        headers=dict(conn.headers),
        timeout=conn.timeout,
        host=endpoint_host(conn.api_base, model),
        key_env=conn.key_env,
        send_labels=labels,
    )


def exit_code(report: Report, cfg: Config) -> int:
    """3 when nothing was reviewed (every call failed, every reply unusable, everything skipped
    or blocked): never a green result, whatever --fail-on says; else 1 on --fail-on."""
    from .report import not_reviewed_reason
    from .vocab import severity_at_least

    if not_reviewed_reason(report) is not None:
        return EXIT_SERVICE
    threshold = cfg.review.fail_on
    if threshold != "none" and any(severity_at_least(f.severity, threshold) for f in report.findings):
        return EXIT_FINDINGS
    return EXIT_OK
