"""Edge: one review run shared by the CLI and the GitHub Action: effective config (file,
overrides, default models), plan, dry run or real run through litellm, audit log (a line per
call as it finishes), exit code.
Imports heavy modules lazily so `reviewbot --help` stays fast."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import EXIT_FINDINGS, EXIT_OK, EXIT_SERVICE

if TYPE_CHECKING:
    from .config import Config
    from .report import Report


def load_effective_config(opts: dict[str, Any], *, text: str | None = None) -> tuple[Config, list[str]]:
    """The config file (or `text`), CLI overrides, then default models for the keys present."""
    from .config import load_config, override, resolve_models

    # With `text`, the path only names the text in errors (e.g. ".reviewbot.yml at base 1a2b3c4").
    cfg = load_config(opts.get("config_path"), text=text)
    changes: dict[str, Any] = {}
    for flag, key in (("cheap_model", "models.cheap"), ("frontier_model", "models.frontier")):
        if opts.get(flag):
            changes[key] = list(opts[flag])
    summary = opts.get("summary_model")
    if summary:
        changes["models.summary"] = summary[0] if len(summary) == 1 and summary[0] in ("cheap", "frontier") else list(summary)
    for flag, key in (("budget_usd", "budget.max_usd"), ("fail_on", "review.fail_on"),
                      ("min_severity", "review.min_severity"), ("concurrency", "review.concurrency")):
        if opts.get(flag) is not None:
            changes[key] = opts[flag]
    if changes:
        cfg = override(cfg, changes)
    from .config import check_key_sources, check_transport
    from .ownkeys import SCRUB

    check_key_sources(cfg, os.environ)
    insecure = check_transport(cfg, os.environ, _resolves_to_loopback)
    # Every variable the config names as a key is the run's own secret from here on.
    SCRUB.add_env(os.environ, [e.api_key_env for e in cfg.endpoints.values() if e.api_key_env])
    cfg, notes = resolve_models(cfg, os.environ)
    return cfg, [*notes, *insecure]


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


def execute(diff: Any, cfg: Config, *, source: str, notes: Sequence[str], dry_run: bool,
            audit_log: str | None, progress: Callable[[int, int, float], None] | None = None,
            pr_title: str | None = None, pr_body: str | None = None,
            run_id: str | None = None, instruction_file: tuple[str, str] | None = None,
            file_texts: Mapping[str, str] | None = None) -> Report:
    from .cost import Pricer
    from .pipeline import dry_run as make_dry_run
    from .pipeline import plan_review, run_review

    pricer = Pricer(cfg.prices)
    plan = plan_review(diff, cfg, source=source, pricer=pricer, notes=notes, instruction_file=instruction_file,
                       file_texts=file_texts)
    if dry_run:
        return make_dry_run(plan, pricer)
    targets = make_targets(cfg, plan)
    from .llm import LiteLLMClient
    from .ownkeys import ScrubbingClient

    if not audit_log:
        return run_review(plan, ScrubbingClient(LiteLLMClient()), pricer, targets, pr_title=pr_title, pr_body=pr_body,
                          progress=progress)
    from .audit import AuditLog

    # Opened before any model is called (an unwritable path costs nothing); each call's line
    # is appended as soon as the call is final, so an interrupted run keeps what it paid for.
    log = AuditLog(audit_log, run_id or uuid.uuid4().hex[:12])
    try:
        report = run_review(plan, ScrubbingClient(LiteLLMClient()), pricer, targets, pr_title=pr_title, pr_body=pr_body,
                            progress=progress, on_call=log.write)
    except BaseException:
        log.close()  # interrupted or failed: the lines of the finished calls are in the file
        raise
    log.finish(report.calls)  # anything not handed over yet; raises if a write failed
    return report


def make_targets(cfg: Config, plan: Any, env: Mapping[str, str] | None = None) -> Any:
    """Resolve every model a request may go to, failing early (exit 2) on a missing key."""
    from .errors import MissingKeyError
    from .llm import endpoint_host, missing_keys, resolve_connection
    from .reviewer import Target
    from .router import summary_models

    models = list(dict.fromkeys([m for r in plan.routes if r.chunk.id not in plan.skip for m in r.models]
                                + list(summary_models(cfg))))
    env = os.environ if env is None else env
    missing = missing_keys(models, cfg.endpoints, env)
    if missing:
        model, var = missing[0]
        raise MissingKeyError(f"no API key for {model}: set {var}",
                              hint="or run with --dry-run to see the plan and its estimated cost without calling a model")
    resolved = {}
    for model in models:
        conn = resolve_connection(model, cfg.endpoints, env, cfg.review.timeout)
        resolved[model] = Target(model=model, api_base=conn.api_base, api_key=conn.api_key,
                                 headers=dict(conn.headers), timeout=conn.timeout,
                                 host=endpoint_host(conn.api_base, model), key_env=conn.key_env)

    def target(model: str) -> Target:
        if model not in resolved:
            conn = resolve_connection(model, cfg.endpoints, env, cfg.review.timeout)
            resolved[model] = Target(model, conn.api_base, conn.api_key, dict(conn.headers), conn.timeout,
                                     endpoint_host(conn.api_base, model), conn.key_env)
        return resolved[model]

    return target


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


