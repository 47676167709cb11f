"""The review flow of `reviewbot github` (I/O: the GitHub API, the model calls through
runner.execute, the Actions files and log). Input: the Actions environment (event payload,
repository, token, output files) and the command's options. Output: one review and one
summary comment on the pull request (annotations when the token is read-only), the step
summary, step outputs and an exit code. Trust boundary: configuration and prompts come from
the PR's BASE commit through the API (base_commit.py); nothing of the PR head is read or run.
Hidden markers count only in comments and reviews by the login the token posts as
(`--bot-login`, else asked from GitHub once when needed): anyone who can comment can write one."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import EXIT_OK, EXIT_SERVICE, MissingKeyError, ReviewbotError
from ..render.safe import inline_code, one_line
from ..textutil import plural
from .base_commit import load_base_setup
from .events import (
    COMMENT_EVENTS,
    Context,
    Event,
    PullTarget,
    Skip,
    pull_target,
    read_context,
    read_event,
)
from .outputs import command, outputs, write_outputs
from .publish import not_reviewed, publish, publish_already_reviewed, standing_code
from .runstate import Echo, Run

if TYPE_CHECKING:
    from ..diff import Diff
    from ..report import Report
    from .api import GitHubPR
    from .retry import RetryPolicy


def run_action(
    opts: dict[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    echo: Echo | None = None,
    policy: RetryPolicy | None = None,
) -> int:
    """Review the pull request of this workflow run; returns the exit code. A ReviewbotError
    is also shown as an `::error::` annotation, then left to the CLI (one line, exit code)."""
    env = os.environ if env is None else env
    say: Echo = echo or click.echo
    try:
        return _run(opts, env, say, policy)
    except ReviewbotError as exc:
        say(command("error", f"reviewbot: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")))
        raise


def _run(opts: dict[str, Any], env: Mapping[str, str], say: Echo, policy: RetryPolicy | None) -> int:
    from .api import GitHubPR

    event = read_event(env, opts.get("pr_number"))
    if event.name in COMMENT_EVENTS:
        return _converse(event, opts, env, say, policy)
    target = pull_target(event, opts.get("pr_number"))
    if isinstance(target, Skip):
        say(command("notice", f"reviewbot: skipped: {target.reason}"))
        write_outputs(env.get("GITHUB_OUTPUT"), outputs(skipped=True))
        return EXIT_OK
    ctx = read_context(env)
    # action.yml names github-actions[bot] when its token is the workflow's own, so the usual
    # run never has to ask GitHub who it is.
    login = opts.get("bot_login") or None
    with GitHubPR(ctx.token, ctx.repository, target.number, ctx.api_url, policy=policy, login=login) as gh:
        return _review(gh, ctx, target, opts, say)


def _converse(event: Event, opts: dict[str, Any], env: Mapping[str, str], say: Echo, policy: RetryPolicy | None) -> int:
    """A comment on a pull request: a `/reviewbot` command or a question (conversation.py)."""
    from .api import GitHubPR
    from .conversation import comment_event, handle_comment

    found = comment_event(event)
    if isinstance(found, Skip):
        say(command("notice", f"reviewbot: skipped: {found.reason}"))
        write_outputs(env.get("GITHUB_OUTPUT"), outputs(skipped=True))
        return EXIT_OK
    ctx = read_context(env)
    login = opts.get("bot_login") or None
    with GitHubPR(ctx.token, ctx.repository, found.number, ctx.api_url, policy=policy, login=login) as gh:
        return handle_comment(gh, ctx, found, opts, say, _review)


def _review(gh: GitHubPR, ctx: Context, target: PullTarget, opts: dict[str, Any], say: Echo) -> int:
    from ..diff import diff_from_patches

    info = gh.pull_info()
    head = target.head_sha or info.head_sha  # the payload's head, never GITHUB_SHA (a merge commit)
    if head != info.head_sha:
        say(
            command(
                "notice",
                f"reviewbot: skipped: the PR head moved from {head[:7]} to "
                f"{info.head_sha[:7]} since this event; the run for that push reviews it",
            )
        )
        write_outputs(ctx.output, outputs(skipped=True))
        return EXIT_OK
    files = gh.changed_files()
    base = target.base_sha or info.base_sha
    diff = diff_from_patches(files)
    setup = load_base_setup(gh, opts, base, diff, ctx.runner_temp)
    about = list(setup.about)
    if gh.files_truncated:
        about.append(
            f"GitHub lists at most 3,000 files of a pull request: only {len(files):,} of "
            f"{info.changed_files:,} changed files were seen"
        )
    summary = gh.find_summary_comment()
    run = Run(
        ctx,
        opts,
        info,
        head,
        base,
        diff,
        setup.config,
        list(setup.notes),
        top=list(setup.top),
        about=about,
        previous=summary.state if summary else None,
        has_summary=summary is not None,
        previous_body=summary.body if summary else "",
        rules_file=setup.rules_file,
    )
    if not run.diff.files:
        return not_reviewed(gh, run, "this pull request changes no files", say, new_head=head, mark="⏭️")
    if summary is not None and run.previous and run.previous.head == head and _rerun_is_free(run):
        return publish_already_reviewed(gh, run, summary.body, say)
    capped = _apply_pr_cap(run)
    if capped is not None:
        not_reviewed(gh, run, capped, say, new_head=None)
        warn = opts.get("on_not_reviewed") == "warn"
        say(command("warning" if warn else "error", f"reviewbot: not reviewed: {capped}"))
        return _verdict(run, say) if warn else EXIT_SERVICE
    scope = _scope(gh, run)
    if scope is not None and not scope.files:
        not_reviewed(
            gh,
            run,
            f"no file of this pull request changed since the last review (`{run.since[:7]}`)",
            say,
            new_head=head,
            mark="⏭️",
        )
        return _verdict(run, say)
    try:
        report = _execute(gh, run, scope if scope is not None else run.diff)
    except MissingKeyError as exc:
        required = bool(opts.get("require_review"))
        say(command("error" if required else "notice", f"reviewbot: not reviewed: {exc.message}"))
        not_reviewed(gh, run, one_line(_key_message(exc, info.is_fork), 500), say, new_head=None)
        return EXIT_SERVICE if required else _verdict(run, say)
    return publish(gh, run, report, say)


def _verdict(run: Run, say: Echo) -> int:
    """The check of a run that sent nothing to a model: what earlier runs left standing."""
    return standing_code(run.previous, run.config, say) if run.previous else EXIT_OK


def _apply_pr_cap(run: Run) -> str | None:
    """The per-PR spend cap (`--budget-usd-per-pr`, else budget.max_usd_per_pr) against the
    running total in the summary state: why nothing may be spent, or None after lowering
    this run's hard cap to what the pull request has left."""
    from ..config import override
    from ..vocab import format_usd

    command_cap = run.opts.get("max_usd_per_command")
    limit = run.config.budget.max_usd
    if command_cap is not None and (limit is None or command_cap < limit):  # a /reviewbot review
        run.config = override(run.config, {"budget.max_usd": command_cap})
        run.about.append(
            f"Asked for in a comment: this review may spend at most {format_usd(command_cap)} "
            "(conversation.max_usd_per_command)"
        )
    flag = run.opts.get("max_usd_per_pr")
    cap = flag if flag is not None else run.config.budget.max_usd_per_pr
    if cap is None:
        return None
    spent = run.previous.total_usd if run.previous else 0.0
    left = round(cap - spent, 6)
    if left <= 0:
        return (
            f"this pull request reached its spend cap: {format_usd(spent)} spent of "
            f"{format_usd(cap)} (budget.max_usd_per_pr)"
        )
    limit = run.config.budget.max_usd
    if limit is None or limit > left:
        run.config = override(run.config, {"budget.max_usd": left})
        run.about.append(
            f"Spend cap per pull request: {format_usd(cap)}, {format_usd(spent)} spent: "
            f"this run may spend at most {format_usd(left)}"
        )
    return None


def _rerun_is_free(run: Run) -> bool:
    """A re-run on a head already fully reviewed sends nothing to a model (a fork re-opening
    its PR must not buy a review each time); `--full` asks for a paid review again."""
    return run.opts.get("incremental") is not False and not run.opts.get("dry_run")


def _key_message(exc: MissingKeyError, fork: bool) -> str:
    # "no API key for openai/gpt-4.1: set OPENAI_API_KEY" → "... (set OPENAI_API_KEY)"
    message = re.sub(r"^(no API key for .+): set (\S+)$", r"\1 (set \2)", exc.message)
    # GitHub gives no secrets to workflows run for a fork's pull request.
    return message + ("; this pull request comes from a fork, which gets no secrets" if fork else "")


def _scope(gh: GitHubPR, run: Run) -> Diff | None:
    """The part of the PR diff to review incrementally, or None for a full review."""
    from ..diff import Diff

    incremental = run.opts.get("incremental")
    if incremental is None:
        incremental = run.config.review.incremental
    previous = run.previous.head if run.previous else ""
    if previous and previous == run.head:
        run.about.append(
            f"Re-run on the same head `{run.head[:7]}` (`--full`): reviewed in full; "
            "findings already posted are not repeated"
        )
        return None
    if not incremental or not previous:
        return None
    changed = gh.compare_files(previous, run.head)
    if changed is None:
        run.about.append(
            f"Full review: `{previous[:7]}` is not an ancestor of `{run.head[:7]}` "
            "(force-push?) or the comparison is too large"
        )
        return None
    keep = set(changed)
    files = tuple(f for f in run.diff.files if f.path in keep or (f.old_path or "") in keep)
    run.since = previous
    run.unchanged = tuple(f.path for f in run.diff.files if f not in files)
    run.top.append(
        f"> Incremental review: {plural(len(files), 'file')} changed since the last review "
        f"(`{previous[:7]}`); {plural(len(run.unchanged), 'unchanged file')} not reviewed again."
    )
    return Diff(files=files)


def _head_texts(gh: GitHubPR, run: Run, diff: Diff) -> Callable[[Sequence[str]], dict[str, str]] | None:
    """The head versions of the files to review, for review.context: a loader the plan asks
    once for the files of the chunks that get context (not ignored, not skipped, in a tier
    with context on); one GraphQL request per 100 of them (size-capped), none when context
    is off."""
    from .graphql import FILES_PER_QUERY

    if all(run.config.review.context_for(t) == "none" for t in ("cheap", "frontier")):
        return None
    readable = {f.path for f in diff.files if f.hunks and not f.binary and f.status != "deleted"}

    def load(wanted: Sequence[str]) -> dict[str, str]:
        paths = [p for p in wanted if p in readable]
        texts: dict[str, str] = {}
        for i in range(0, len(paths), FILES_PER_QUERY):
            found = gh.files_at(paths[i : i + FILES_PER_QUERY], run.head)
            texts.update({p: t for p, t in found.items() if t is not None})
        return texts

    return load


def _execute(gh: GitHubPR, run: Run, diff: Diff) -> Report:
    from ..session import execute

    audit = run.opts.get("audit_log") or (
        str(Path(run.ctx.runner_temp) / "reviewbot-audit.jsonl") if run.ctx.runner_temp else None
    )
    dry = bool(run.opts.get("dry_run"))
    texts = _head_texts(gh, run, diff)
    report = execute(
        diff,
        run.config,
        source=f"{run.ctx.repository}#{run.info.number}",
        notes=run.notes,
        dry_run=dry,
        audit_log=audit,
        pr_title=run.info.title,
        pr_body=run.info.body,
        run_id=run.ctx.run_id,
        instruction_file=run.rules_file,
        file_texts=texts,
    )
    if audit and not dry:
        run.about.append(
            f"Audit log: {inline_code(audit)} on the runner ({plural(len(report.calls), 'model request')}; "
            "keep it with actions/upload-artifact)"
        )
    return report


__all__ = ["run_action"]
