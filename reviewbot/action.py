"""Edge: `reviewbot github`, the run inside GitHub Actions. Input: the Actions environment
(event payload, repository, token, output files) and the command's options. Output: one
review and one summary comment on the pull request (annotations when the token is read-only),
the step summary, step outputs and an exit code. Trust boundary: configuration and prompts
come from the PR's BASE commit through the API; nothing of the PR head is read or run. Hidden
markers count only in comments and reviews by the login the token posts as (`--bot-login`,
else asked from GitHub once when needed): anyone who can comment can write one."""

from __future__ import annotations

import json
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import click

from .errors import EXIT_OK, EXIT_SERVICE, ConfigError, MissingKeyError, ReviewbotError, UsageError
from .ownkeys import SCRUB
from .render.safe import inline_code, one_line
from .textutil import plural, squash
from .vocab import SEVERITY_ICON, severity_rank

if TYPE_CHECKING:
    from .config import Config
    from .diff import Diff
    from .findings import Finding
    from .ghapi import GitHubPR, PostResult, PullInfo, RetryPolicy
    from .publish import ReviewPayload, SummaryState
    from .report import Report

PR_EVENTS = ("pull_request", "pull_request_target")
COMMENT_EVENTS = ("issue_comment", "pull_request_review_comment")
PR_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")
DEFAULT_CONFIG = ".reviewbot.yml"
STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub keeps at most 1 MiB of step summary per step
# The summary comment must stay under GitHub's 65,536 characters: the report gets what the
# marker and our own sections leave, and our sections are capped so the report keeps room.
SECTIONS_MAX = 16_000
# Past this many characters of report the summary comment goes compact: inline findings one
# line each with a link, full text only for the others; the step summary keeps everything.
COMMENT_REPORT_MAX = 45_000

MAX_SUMMARY_FINGERPRINTS = 400  # ~40 characters each  # characters of report in the step summary (cut by bytes later)
LIST_MAX = 100
_PROMPT_FILE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.j2")
MAX_PROMPT_FILES = 20

Echo = Callable[[str], None]


# --- environment and event -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    name: str  # GITHUB_EVENT_NAME, or "manual" for a local run with --pr
    payload: Mapping[str, Any]


@dataclass(frozen=True)
class PullTarget:
    number: int
    head_sha: str | None = None  # from the payload; None: ask the API (workflow_dispatch)
    base_sha: str | None = None


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Context:
    repository: str
    api_url: str
    token: str
    run_id: str
    step_summary: str | None = None
    output: str | None = None
    runner_temp: str | None = None


def read_event(env: Mapping[str, str], pr_number: int | None) -> Event:
    """GITHUB_EVENT_NAME and the JSON payload at GITHUB_EVENT_PATH."""
    name = env.get("GITHUB_EVENT_NAME", "")
    path = env.get("GITHUB_EVENT_PATH", "")
    if not name:
        if pr_number is None:
            raise UsageError("GITHUB_EVENT_NAME is not set: this command runs inside GitHub Actions",
                             hint="for local use pass --pr N with GITHUB_REPOSITORY and GITHUB_TOKEN set")
        name = "manual"
    if not path:
        if name in PR_EVENTS:
            raise UsageError("GITHUB_EVENT_PATH is not set", hint="GitHub Actions sets it for every job")
        return Event(name, {})
    try:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"cannot read the event payload {path}: {squash(str(exc))[:200]}") from None
    if not isinstance(payload, dict):
        raise UsageError(f"the event payload {path} is not a JSON object")
    return Event(name, payload)


def pull_target(event: Event, pr_number: int | None) -> PullTarget | Skip:
    """Which pull request to review, or why this event is not one to review."""
    if event.name in PR_EVENTS:
        action = str(event.payload.get("action") or "")
        if action not in PR_ACTIONS:
            return Skip(f"{event.name} action '{action}' is not reviewed (only {', '.join(PR_ACTIONS)})")
        pull = event.payload.get("pull_request")
        if not isinstance(pull, dict) or not isinstance(pull.get("number"), int):
            raise UsageError(f"the {event.name} payload has no pull_request.number")
        return PullTarget(pull["number"], _sha(pull, "head"), _sha(pull, "base"))
    if event.name in ("workflow_dispatch", "manual"):
        inputs = event.payload.get("inputs") or {}
        raw = pr_number if pr_number is not None else inputs.get("pr-number") or inputs.get("pr_number")
        if raw in (None, ""):
            raise UsageError("workflow_dispatch needs a pull request number",
                             hint="pass the action's `pr-number` input")
        try:
            number = int(str(raw))
        except ValueError:
            raise UsageError(f"pr-number must be a number, got {str(raw)[:40]!r}") from None
        return PullTarget(number)
    return Skip(f"event '{event.name}' is not a pull request event "
                f"(reviewed: {', '.join(PR_EVENTS)} and workflow_dispatch with pr-number)")


def _sha(pull: Mapping[str, Any], side: str) -> str | None:
    sha = (pull.get(side) or {}).get("sha")
    return sha if isinstance(sha, str) and sha else None


def read_context(env: Mapping[str, str]) -> Context:
    token = env.get("GITHUB_TOKEN", "")
    repository = env.get("GITHUB_REPOSITORY", "")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set", hint="pass `github-token: ${{ github.token }}` to the action")
    if not repository:
        raise UsageError("GITHUB_REPOSITORY is not set", hint="GitHub Actions sets it; locally, set owner/name")
    run = env.get("GITHUB_RUN_ID", "")
    run_id = f"{run}-{env.get('GITHUB_RUN_ATTEMPT') or '1'}" if run else uuid.uuid4().hex[:12]
    return Context(
        repository=repository,
        # GitHub Enterprise sets GITHUB_API_URL (https://host/api/v3): nothing else to configure.
        api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
        token=token, run_id=run_id,
        step_summary=env.get("GITHUB_STEP_SUMMARY") or None,
        output=env.get("GITHUB_OUTPUT") or None,
        runner_temp=env.get("RUNNER_TEMP") or None,
    )


# --- output files ----------------------------------------------------------------------------


def format_outputs(values: Mapping[str, str]) -> str:
    """GITHUB_OUTPUT lines: `name=value`, or the heredoc form for a value with a line break."""
    out = []
    for name, value in values.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            out.append(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")
        else:
            out.append(f"{name}={value}\n")
    return "".join(out)


def write_outputs(path: str | None, values: Mapping[str, str]) -> None:
    if path:
        _append(path, format_outputs(values), "GITHUB_OUTPUT")


def append_step_summary(path: str | None, markdown: str) -> None:
    if not path:
        return
    data = markdown.encode("utf-8")
    if len(data) > STEP_SUMMARY_LIMIT - 1:
        note = "\n\n_… cut to fit GitHub's 1 MiB step summary._\n".encode()
        data = data[: STEP_SUMMARY_LIMIT - 1 - len(note)] + note
    _append(path, data.decode("utf-8", errors="ignore") + "\n", "GITHUB_STEP_SUMMARY")


def _append(path: str, text: str, what: str) -> None:
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(SCRUB(text))
    except OSError as exc:
        raise UsageError(f"cannot write {what} ({path}): {exc.strerror}") from exc


def outputs(*, skipped: bool, cost: str = "0", findings: int = 0, inline: int = 0,
            review_url: str = "", summary_url: str = "", report: str = "") -> dict[str, str]:
    return {"cost-usd": cost, "findings": str(findings), "inline-comments": str(inline),
            "review-url": review_url, "summary-url": summary_url, "report-path": report,
            "skipped": "true" if skipped else "false"}


def command(kind: str, message: str) -> str:
    """A workflow command line (`::notice::…`), escaped like actions/toolkit's escapeData."""
    return f"::{kind}::" + message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


# --- the run ---------------------------------------------------------------------------------


def run_action(opts: dict[str, Any], *, env: Mapping[str, str] | None = None, echo: Echo | None = None,
               policy: RetryPolicy | None = None) -> int:
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
    from .ghapi import GitHubPR

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


def _converse(event: Event, opts: dict[str, Any], env: Mapping[str, str], say: Echo,
              policy: RetryPolicy | None) -> int:
    """A comment on a pull request: a `/reviewbot` command or a question (conversation.py)."""
    from .conversation import comment_event, handle_comment
    from .ghapi import GitHubPR

    found = comment_event(event)
    if isinstance(found, Skip):
        say(command("notice", f"reviewbot: skipped: {found.reason}"))
        write_outputs(env.get("GITHUB_OUTPUT"), outputs(skipped=True))
        return EXIT_OK
    ctx = read_context(env)
    login = opts.get("bot_login") or None
    with GitHubPR(ctx.token, ctx.repository, found.number, ctx.api_url, policy=policy, login=login) as gh:
        return handle_comment(gh, ctx, found, opts, say, _review)


@dataclass
class Run:
    """What one run learned and did, gathered for the summary comment and the outputs."""

    ctx: Context
    opts: dict[str, Any]
    info: PullInfo
    head: str
    base: str
    diff: Diff  # the whole PR
    config: Config
    notes: list[str]  # for the report's notes (models chosen, ...)
    top: list[str] = field(default_factory=list)  # lines under the verdict
    about: list[str] = field(default_factory=list)  # "About this run" items
    previous: SummaryState | None = None
    has_summary: bool = False
    previous_body: str = ""
    unchanged: tuple[str, ...] = ()
    since: str = ""
    fingerprints: str = ""  # hidden markers of the findings the summary holds instead of the review
    rules_file: tuple[str, str] | None = None  # (name, text) at the base commit


def _review(gh: GitHubPR, ctx: Context, target: PullTarget, opts: dict[str, Any], say: Echo) -> int:
    from .diff import diff_from_patches

    info = gh.pull_info()
    head = target.head_sha or info.head_sha  # the payload's head, never GITHUB_SHA (a merge commit)
    if head != info.head_sha:
        say(command("notice", f"reviewbot: skipped: the PR head moved from {head[:7]} to "
                              f"{info.head_sha[:7]} since this event; the run for that push reviews it"))
        write_outputs(ctx.output, outputs(skipped=True))
        return EXIT_OK
    files = gh.changed_files()
    base = target.base_sha or info.base_sha
    run = _load_config(gh, ctx, opts, info, head, base, diff_from_patches(files))
    if gh.files_truncated:
        run.about.append(f"GitHub lists at most 3,000 files of a pull request: only {len(files):,} of "
                         f"{info.changed_files:,} changed files were seen")
    summary = gh.find_summary_comment()
    run.has_summary = summary is not None
    run.previous = summary.state if summary else None
    run.previous_body = summary.body if summary else ""
    if not run.diff.files:
        return _not_reviewed(gh, run, "this pull request changes no files", say, new_head=head, mark="⏭️")
    if summary is not None and run.previous and run.previous.head == head and _rerun_is_free(run):
        return _already_reviewed(gh, run, summary.body, say)
    capped = _apply_pr_cap(run)
    if capped is not None:
        code = _not_reviewed(gh, run, capped, say, new_head=None)
        warn = opts.get("on_not_reviewed") == "warn"
        say(command("warning" if warn else "error", f"reviewbot: not reviewed: {capped}"))
        return code if warn else EXIT_SERVICE
    scope = _scope(gh, run)
    if scope is not None and not scope.files:
        return _not_reviewed(gh, run, f"no file of this pull request changed since the last review "
                                      f"(`{run.since[:7]}`)", say, new_head=head, mark="⏭️")
    try:
        report = _execute(gh, run, scope if scope is not None else run.diff)
    except MissingKeyError as exc:
        required = bool(opts.get("require_review"))
        say(command("error" if required else "notice", f"reviewbot: not reviewed: {exc.message}"))
        code = _not_reviewed(gh, run, one_line(_key_message(exc, info.is_fork), 500), say, new_head=None)
        return EXIT_SERVICE if required else code
    return _publish(gh, run, report, say)


def _apply_pr_cap(run: Run) -> str | None:
    """The per-PR spend cap (`--budget-usd-per-pr`, else budget.max_usd_per_pr) against the
    running total in the summary state: why nothing may be spent, or None after lowering
    this run's hard cap to what the pull request has left."""
    from .config import override
    from .vocab import format_usd

    command_cap = run.opts.get("max_usd_per_command")
    limit = run.config.budget.max_usd
    if command_cap is not None and (limit is None or command_cap < limit):  # a /reviewbot review
        run.config = override(run.config, {"budget.max_usd": command_cap})
        run.about.append(f"Asked for in a comment: this review may spend at most {format_usd(command_cap)} "
                         "(conversation.max_usd_per_command)")
    flag = run.opts.get("max_usd_per_pr")
    cap = flag if flag is not None else run.config.budget.max_usd_per_pr
    if cap is None:
        return None
    spent = run.previous.total_usd if run.previous else 0.0
    left = round(cap - spent, 6)
    if left <= 0:
        return (f"this pull request reached its spend cap: {format_usd(spent)} spent of "
                f"{format_usd(cap)} (budget.max_usd_per_pr)")
    limit = run.config.budget.max_usd
    if limit is None or limit > left:
        run.config = override(run.config, {"budget.max_usd": left})
        run.about.append(f"Spend cap per pull request: {format_usd(cap)}, {format_usd(spent)} spent: "
                         f"this run may spend at most {format_usd(left)}")
    return None


def _rerun_is_free(run: Run) -> bool:
    """A re-run on a head already fully reviewed sends nothing to a model (a fork re-opening
    its PR must not buy a review each time); `--full` asks for a paid review again."""
    return run.opts.get("incremental") is not False and not run.opts.get("dry_run")


def _already_reviewed(gh: GitHubPR, run: Run, previous_body: str, say: Echo) -> int:
    """Keep the summary comment's report, count the run and say so in its first line."""
    from .publish import (
        FINGERPRINT_MARKER,
        SUMMARY_NOTE_RE,
        extract_fingerprints,
        render_summary_marker,
        strip_summary_marker,
    )

    state = _next_state(run, run.head, 0.0)
    kept = "".join(FINGERPRINT_MARKER.format(fp=fp) for fp in sorted(extract_fingerprints(previous_body)))
    note = (f"> ⏭️ Already reviewed at `{run.head[:12]}`: run {state.runs} sent nothing to a model "
            "(use `--full` to review again).")
    rest = SUMMARY_NOTE_RE.sub("", strip_summary_marker(previous_body)).lstrip("\n")
    url = gh.upsert_summary(f"{render_summary_marker(state)}{kept}\n{note}\n\n{rest}")
    append_step_summary(run.ctx.step_summary, f"### reviewbot\n\n{note}\n\nSummary: {url}\n")
    write_outputs(run.ctx.output, outputs(skipped=True, summary_url=url))
    say(command("notice", f"reviewbot: already reviewed at {run.head[:12]}: nothing sent to a model; summary: {url}"))
    return EXIT_OK


def _key_message(exc: MissingKeyError, fork: bool) -> str:
    # "no API key for openai/gpt-4.1: set OPENAI_API_KEY" → "... (set OPENAI_API_KEY)"
    message = re.sub(r"^(no API key for .+): set (\S+)$", r"\1 (set \2)", exc.message)
    # GitHub gives no secrets to workflows run for a fork's pull request.
    return message + ("; this pull request comes from a fork, which gets no secrets" if fork else "")


def _load_config(gh: GitHubPR, ctx: Context, opts: dict[str, Any], info: PullInfo, head: str,
                 base: str, diff: Diff) -> Run:
    """The config and prompts of the BASE commit: a PR must not be able to change how it is
    reviewed (with pull_request_target it would also get the secrets)."""
    from .config import DEFAULT_INSTRUCTION_FILES, override
    from .runner import load_effective_config

    path = _repo_path(opts.get("config_path") or DEFAULT_CONFIG, "config")
    # Like the CLI, accept .reviewbot.yaml too; the default rules files come in the same request.
    candidates = [path] if opts.get("config_path") else [path, ".reviewbot.yaml"]
    found = gh.files_at([*candidates, *DEFAULT_INSTRUCTION_FILES], base)
    path = next((c for c in candidates if found.get(c) is not None), path)
    text = found.get(path)
    where = f"base SHA `{base[:12]}`"
    named = {**opts, "config_path": f"{path} at base {base[:7]}"}
    config, notes = load_effective_config(named, text=text or "")
    run = Run(ctx, opts, info, head, base, diff, config, list(notes))
    run.rules_file = _rules_file(gh, config.review.instruction_files, found, base)
    if run.rules_file is not None:
        run.about.append(f"Review rules: {inline_code(run.rules_file[0])} from the base branch")
    source = f"{inline_code(path)} from the base branch ({where})" if text is not None else f"defaults (no {inline_code(path)} at {where})"
    run.about.append(f"Config: {source}")
    touched = {p for f in diff.files for p in (f.path, f.old_path) if p}
    if run.rules_file is not None and run.rules_file[0] in touched:
        run.top.append(f"> ⚠️ This PR changes {inline_code(run.rules_file[0])}: the new review rules apply after merge.")
    if path in touched:
        used = "the base branch's config" if text is not None else "the defaults (the base branch has none)"
        run.top.append(f"> ⚠️ This PR changes {inline_code(path)}: the new rules apply after merge; this review used "
                       f"{used} (base SHA `{base[:12]}`).")
    if config.prompts_dir:
        folder = _repo_path(config.prompts_dir, "prompts_dir")
        local, fetched = fetch_prompts(gh, folder, base, ctx.runner_temp)
        run.config = override(config, {"prompts_dir": str(local)})
        shown = ", ".join(inline_code(n) for n in fetched) or "none found, built-in prompts used"
        run.about.append(f"Prompts: {inline_code(folder + '/')} from the base branch ({shown})")
        if any(p == folder or p.startswith(folder + "/") for p in touched):
            run.top.append(f"> ⚠️ This PR changes prompt templates in {inline_code(folder + '/')}: they apply after merge.")
    return run


def _rules_file(gh: GitHubPR, names: Sequence[str], found: Mapping[str, str | None],
                base: str) -> tuple[str, str] | None:
    """The first instruction file of `names` at the base commit (fetched with the config when
    `names` are the defaults, else in one more request)."""
    wanted = [n for n in names if n.strip() and not n.startswith("/") and ".." not in PurePosixPath(n).parts]
    missing = [n for n in wanted if n not in found]
    if missing:
        found = {**found, **gh.files_at(missing, base)}
    return next(((n, t) for n in wanted if (t := found.get(n)) is not None), None)


def _repo_path(value: str, what: str) -> str:
    """A repository-relative path: the contents API cannot leave the repository, but an
    absolute or `..` path is a mistake worth naming."""
    parts = PurePosixPath(value.replace("\\", "/")).parts
    if not parts or value.startswith("/") or ".." in parts:
        raise ConfigError(f"{what} must be a path inside the repository, got {value!r}",
                          hint="e.g. .github/reviewbot-prompts")
    return "/".join(p for p in parts if p != ".")


def fetch_prompts(gh: GitHubPR, folder: str, base: str, runner_temp: str | None) -> tuple[Path, list[str]]:
    """Copy the prompt templates of `folder` at the base commit into a fresh local folder.
    One listing tells which exist (includes `_*.j2` too); without it, the four known names."""
    from .prompts import TEMPLATES

    names = gh.list_dir(folder, base)
    wanted = [n for n in (names if names is not None else TEMPLATES) if _PROMPT_FILE.fullmatch(n)]
    dest = Path(tempfile.mkdtemp(prefix="reviewbot-prompts-", dir=runner_temp))
    fetched = []
    for name in wanted[:MAX_PROMPT_FILES]:
        text = gh.file_at(f"{folder}/{name}", base)
        if text is not None:
            (dest / name).write_text(text, encoding="utf-8")
            fetched.append(name)
    return dest, fetched


def _scope(gh: GitHubPR, run: Run) -> Diff | None:
    """The part of the PR diff to review incrementally, or None for a full review."""
    from .diff import Diff

    incremental = run.opts.get("incremental")
    if incremental is None:
        incremental = run.config.review.incremental
    previous = run.previous.head if run.previous else ""
    if previous and previous == run.head:
        run.about.append(f"Re-run on the same head `{run.head[:7]}` (`--full`): reviewed in full; "
                         "findings already posted are not repeated")
        return None
    if not incremental or not previous:
        return None
    changed = gh.compare_files(previous, run.head)
    if changed is None:
        run.about.append(f"Full review: `{previous[:7]}` is not an ancestor of `{run.head[:7]}` "
                         "(force-push?) or the comparison is too large")
        return None
    keep = set(changed)
    files = tuple(f for f in run.diff.files if f.path in keep or (f.old_path or "") in keep)
    run.since = previous
    run.unchanged = tuple(f.path for f in run.diff.files if f not in files)
    run.top.append(f"> Incremental review: {plural(len(files), 'file')} changed since the last review "
                   f"(`{previous[:7]}`); {plural(len(run.unchanged), 'unchanged file')} not reviewed again.")
    return Diff(files=files)


def _head_texts(gh: GitHubPR, run: Run, diff: Diff) -> dict[str, str] | None:
    """The head versions of the files to review, for review.context: one GraphQL request
    per 100 files (size-capped), none when context is off."""
    from .ghapi import FILES_PER_QUERY

    if all(run.config.review.context_for(t) == "none" for t in ("cheap", "frontier")):
        return None
    paths = [f.path for f in diff.files if f.hunks and not f.binary and f.status != "deleted"]
    texts: dict[str, str] = {}
    for i in range(0, len(paths), FILES_PER_QUERY):
        found = gh.files_at(paths[i:i + FILES_PER_QUERY], run.head)
        texts.update({p: t for p, t in found.items() if t is not None})
    return texts


def _execute(gh: GitHubPR, run: Run, diff: Diff) -> Report:
    from .runner import execute

    audit = run.opts.get("audit_log") or (
        str(Path(run.ctx.runner_temp) / "reviewbot-audit.jsonl") if run.ctx.runner_temp else None)
    dry = bool(run.opts.get("dry_run"))
    texts = _head_texts(gh, run, diff)
    report = execute(diff, run.config, source=f"{run.ctx.repository}#{run.info.number}", notes=run.notes,
                     dry_run=dry, audit_log=audit, pr_title=run.info.title, pr_body=run.info.body,
                     run_id=run.ctx.run_id, instruction_file=run.rules_file, file_texts=texts)
    if audit and not dry:
        run.about.append(f"Audit log: {inline_code(audit)} on the runner ({plural(len(report.calls), 'model request')}; "
                         "keep it with actions/upload-artifact)")
    return report


# --- publishing ------------------------------------------------------------------------------


def _next_state(run: Run, new_head: str | None, usd: float, *, in_body: bool = False) -> SummaryState:
    """The marker state: the head advances only when it was fully reviewed, so the next
    incremental run still covers what failed or was skipped this time. Once a review has
    carried findings in its body (`in_body`), every later run reads review bodies too."""
    from .publish import SummaryState

    prev = run.previous
    head = new_head or (prev.head if prev else "")
    return SummaryState(head=head, runs=(prev.runs if prev else 0) + 1,
                        total_usd=(prev.total_usd if prev else 0.0) + usd,
                        body_findings=in_body or bool(prev and prev.body_findings),
                        ignored=prev.ignored if prev else ())


def _not_reviewed(gh: GitHubPR, run: Run, reason: str, say: Echo, *, new_head: str | None,
                  mark: str = "⛔") -> int:
    """Nothing was sent to a model: say so in the summary comment, the step summary and the
    outputs (never a green "reviewed")."""
    state = _next_state(run, new_head, 0.0)
    run.about.append(_cost_line(0.0, state))
    _note_ignored(gh, run)
    text = f"### reviewbot\n\n{mark} **Not reviewed:** {reason}\n"
    sections = [_not_inline([], None, _carried(run)), _unchanged(run)]
    url, _ = _upsert(gh, run, state, lambda _: text, sections, say)
    _step_summary(run, lambda _: text, sections)
    write_outputs(run.ctx.output, outputs(skipped=True, summary_url=url))
    return EXIT_OK


def _publish(gh: GitHubPR, run: Run, report: Report, say: Echo) -> int:
    from .ghapi import CannotWrite, GitHubError
    from .publish import workflow_annotations
    from .report import not_reviewed_reason
    from .runner import exit_code

    cfg = run.config
    saved = _save_report(run, report)  # first: what was paid for is on disk before GitHub is asked
    report = _without_dismissed(gh, run, report)
    payload, rest = _build(gh, run, report)
    result: PostResult | None = None
    read_only = False
    refused: GitHubError | None = None
    if not report.dry_run and (payload.comments or payload.event == "REQUEST_CHANGES"):
        try:
            result = gh.post_review(payload)
        except CannotWrite:
            read_only = True
        except GitHubError as exc:  # 401, 5xx after retries…: the findings still reach the run
            refused = exc
            run.top.append(f"> ⚠️ GitHub refused the review ({one_line(exc.message, 300)}): every finding is "
                           "listed in this summary" + (f" and in {inline_code(saved)}" if saved else "") + ".")
            rest = list(report.findings)
    usd = 0.0 if report.dry_run else report.cost.total_usd
    full = not report.dry_run and not any(c.status in ("failed", "skipped", "partial") for c in report.chunks)
    # A refused review was not posted: the next run (even on this head) must post it.
    state = _next_state(run, run.head if full and refused is None else None,
                        usd if usd is not None else report.cost.known_usd, in_body=bool(result and result.in_body))
    run.about += _review_lines(report, payload, result, cfg.review.max_inline_comments)
    run.about.append(_cost_line(usd, state))
    if saved:
        run.about.append(f"Full report (JSON): {inline_code(saved)} on the runner")
    posted = payload if result is not None or not payload.comments else None
    run.fingerprints = _summary_fingerprints(run, report, posted)
    _note_ignored(gh, run)
    step = [_not_inline(rest, payload, _carried(run)), _unchanged(run)]
    render = _comment_render(run, report, payload, rest, result)
    sections = [*render.sections, _not_inline(render.rest, payload, _carried(run)), _unchanged(run)]
    url = ""
    if not read_only:
        try:
            url, read_only = _upsert(gh, run, state, render.main, sections, say)
        except GitHubError as exc:
            refused = refused or exc
            say(f"reviewbot: GitHub refused the summary comment ({exc.message}); the result is in the step summary")
    if read_only:
        lines, _ = workflow_annotations(report.findings)
        for line in lines:
            say(line)
        run.top.append(f"> The token cannot write to this pull request (fork pull requests get a read-only "
                       f"token): {plural(len(lines), 'finding')} shown as annotations; every finding is "
                       "listed here.")
        step = [_unchanged(run)]
    _step_summary(run, lambda n: _render(report, cfg, n), step)
    not_reviewed = not_reviewed_reason(report)
    skipped = report.dry_run or not_reviewed is not None
    cost = "unknown" if usd is None else f"{usd:.6f}"
    inline = result.inline_comments if result else 0
    write_outputs(run.ctx.output, outputs(skipped=skipped, cost=cost, findings=len(report.findings),
                                          inline=inline, review_url=result.html_url if result else "",
                                          summary_url=url, report=saved or ""))
    say(f"reviewbot: {plural(len(report.findings), 'finding')}, {plural(inline, 'inline comment')}, "
        f"cost {cost} USD, {plural(gh.requests_made, 'GitHub request')}" + (f"; summary: {url}" if url else ""))
    if refused is not None:
        say(command("error", f"reviewbot: GitHub refused to take the result: {refused.message}"))
        return refused.exit_code
    if not_reviewed is not None:  # never a green check with nothing reviewed, unless asked to warn
        warn = run.opts.get("on_not_reviewed") == "warn"
        say(command("warning" if warn else "error", f"reviewbot: not reviewed: {not_reviewed}"))
        return EXIT_OK if warn else EXIT_SERVICE
    return exit_code(report, cfg)


def _without_dismissed(gh: GitHubPR, run: Run, report: Report) -> Report:
    """Findings silenced on this pull request (`/reviewbot ignore` in their thread, a 👎 on
    their comment) are neither posted nor listed again; the summary counts them, and the
    earlier findings whose lines a later commit changed (GitHub's outdated comments)."""
    if report.dry_run or not run.has_summary:
        return report
    gh.existing_fingerprints(reviews=bool(run.previous and run.previous.body_findings))  # kept for _build
    dismissed = set(run.previous.ignored if run.previous else ()) | gh.thumbs_down
    kept = tuple(f for f in report.findings if f.fingerprint not in dismissed)
    if dismissed:
        again = len(report.findings) - len(kept)
        run.about.append(f"Dismissed on this pull request: {plural(len(dismissed), 'finding')} "
                         "(`/reviewbot ignore` or 👎), never posted again"
                         + (f"; {again} of them found again in this run" if again else ""))
    if gh.outdated:
        run.about.append(f"Outdated: {plural(len(gh.outdated - dismissed), 'earlier finding')} on lines "
                         "a later commit changed")
    return replace(report, findings=kept)


def _summary_fingerprints(run: Run, report: Report, posted: ReviewPayload | None) -> str:
    """Hidden markers for the findings not posted inline by this run's review (and those an
    earlier summary held), newest first, bounded."""
    from .publish import FINGERPRINT_MARKER, extract_fingerprints

    if posted is None:  # the review was refused: the next run must still post them inline
        return ""
    inline = {c.fingerprint for c in posted.comments}
    ours = [f.fingerprint for f in report.findings if f.fingerprint and f.fingerprint not in inline]
    kept = list(dict.fromkeys([*ours, *sorted(extract_fingerprints(run.previous_body))]))
    return "".join(FINGERPRINT_MARKER.format(fp=fp) for fp in kept[:MAX_SUMMARY_FINGERPRINTS])


@dataclass(frozen=True)
class CommentRender:
    """How the summary comment shows the report: `main` renders it in the characters given,
    `sections` come before the "Not placed inline" list of `rest`."""

    main: Callable[[int], str]
    sections: tuple[str, ...]
    rest: tuple[Finding, ...]


def _comment_render(run: Run, report: Report, payload: ReviewPayload, rest: Sequence[Finding],
                    result: PostResult | None) -> CommentRender:
    """The whole report when it fits in a comment; otherwise (GitHub's 65,536 characters) the
    findings posted inline one line each with a link, full text only for the others (which
    then are not listed again under "Not placed inline")."""
    cfg = run.config
    whole = CommentRender(lambda n: _render(report, cfg, n), (), tuple(rest))
    if result is None or result.in_body or len(_render(report, cfg, 10**9)) <= COMMENT_REPORT_MAX:
        return whole
    kept = {id(f) for f in rest}
    inline = [f for f in sorted(report.findings, key=lambda f: severity_rank(f.severity)) if id(f) not in kept]
    if not inline:
        return whole
    others = replace(report, findings=tuple(rest))
    run.top.append(f"> {plural(len(report.findings), 'finding')}: too many for one comment, so the "
                   f"{plural(len(inline), 'finding')} posted inline are listed one line each; the full "
                   "text of every finding is in this run's step summary and JSON report.")
    lines = [f"- {SEVERITY_ICON.get(f.severity, '')} **{f.severity}** {one_line(f.title, 200)} — "
             f"{inline_code(f'{f.path}:{f.line}')} — [inline]({result.html_url})" for f in inline[:LIST_MAX * 5]]
    if len(inline) > LIST_MAX * 5:
        lines.append(f"- … {plural(len(inline) - LIST_MAX * 5, 'more inline finding')} in the review")
    section = "\n".join(["#### Posted inline", "", *lines])
    return CommentRender(lambda n: _render(others, cfg, n), (section,), ())


def _build(gh: GitHubPR, run: Run, report: Report) -> tuple[ReviewPayload, list[Finding]]:
    from .findings import severity_at_least
    from .publish import build_review, extract_fingerprints

    cfg = run.config
    # Fingerprints of earlier runs live in review comments, and in review bodies once GitHub
    # rejected a review's inline comments (the summary state says so: no request otherwise);
    # a first run has none to fetch.
    in_bodies = bool(run.previous and run.previous.body_findings)
    already = gh.existing_fingerprints(reviews=in_bodies) if run.has_summary and not report.dry_run else set()
    # Findings an earlier run put in the summary (over the inline limit) carry their
    # fingerprints there: a later run must not post them as a new batch of comments.
    already |= extract_fingerprints(run.previous_body)
    threshold = cfg.review.request_changes_on
    # REQUEST_CHANGES only for a blocking finding not already posted: a re-run must not
    # repeat an empty change request.
    blocking = threshold is not None and any(
        severity_at_least(f.severity, threshold) and f.fingerprint not in already for f in report.findings)
    return build_review(report.findings, run.diff, commit_id=run.head, run_id=run.ctx.run_id,
                        max_inline=cfg.review.max_inline_comments, already_posted=already,
                        event="REQUEST_CHANGES" if blocking else "COMMENT")


def _render(report: Report, cfg: Config, max_chars: int) -> str:
    from .render import render_markdown

    return render_markdown(report, max_chars=max_chars, min_severity=cfg.review.min_severity)


def _upsert(gh: GitHubPR, run: Run, state: SummaryState, render: Callable[[int], str],
            sections: list[str], say: Echo) -> tuple[str, bool]:
    """Edit (or create) the one summary comment. Returns its URL ("" when the token cannot
    write) and whether the token could not write."""
    from .ghapi import CannotWrite
    from .publish import render_summary_marker

    marker = render_summary_marker(state) + run.fingerprints
    try:
        body = compose_summary(render, run.top, [*sections, _about(run)], marker=marker)
        return gh.upsert_summary(body), False
    except CannotWrite:
        say("reviewbot: the token cannot write to this pull request; the result is in the step summary")
        return "", True


def _step_summary(run: Run, render: Callable[[int], str], sections: list[str]) -> None:
    # The step summary takes 1 MiB: the whole report fits there when the comment (64 KiB) cannot.
    append_step_summary(run.ctx.step_summary, compose_summary(render, run.top, [*sections, _about(run)],
                                                              limit=STEP_SUMMARY_LIMIT - 4096))


def _save_report(run: Run, report: Report) -> str:
    """The full JSON report under RUNNER_TEMP (every finding, whatever GitHub does); its path."""
    from .render import render_json

    if report.dry_run or not run.ctx.runner_temp:
        return ""
    path = Path(run.ctx.runner_temp) / "reviewbot-report.json"
    try:
        path.write_text(SCRUB(render_json(report)), encoding="utf-8")
    except OSError:
        return ""
    return str(path)


def compose_summary(render: Callable[[int], str], top: Sequence[str], sections: Sequence[str], *,
                    marker: str = "", limit: int | None = None) -> str:
    """The report's markdown (given the characters left for it) with `top` lines under its
    verdict and `sections` after it; the hidden marker first. Fits GitHub's comment limit
    (or `limit`: the step summary's)."""
    from .publish import MAX_BODY

    limit = MAX_BODY if limit is None else limit
    extra = _cap("\n\n".join(s for s in sections if s), SECTIONS_MAX)
    head = "\n".join(top)
    room = limit - len(marker) - len(head) - len(extra) - 600
    main = render(max(room, 8_000))
    parts = main.split("\n", 3)
    if head and len(parts) == 4 and parts[0].startswith("### "):
        main = "\n".join([*parts[:3], "", head, parts[3]])
    elif head:
        main = f"{head}\n\n{main}"
    body = main.rstrip("\n") + (f"\n\n{extra}" if extra else "") + "\n"
    return f"{marker}\n{body}" if marker else body


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind("\n")] + "\n\n_… cut to stay under GitHub's comment size limit._"


def _not_inline(rest: Sequence[Finding], payload: ReviewPayload | None, carried: Sequence[str]) -> str:
    """Findings the review could not carry inline, so they are never lost: this run's, and
    earlier runs' on files this run did not review again (`carried`)."""
    if not rest and not carried:
        return ""
    full = len(payload.comments) if payload else 0
    lines = []
    for f in rest[:LIST_MAX]:
        if f.placement != "inline" or f.line is None:
            where = inline_code(f.path) if f.path else "the whole pull request"
            why = one_line(f.anchor_note or "not tied to a changed line", 300)
        else:
            where = inline_code(f"{f.path}:{f.line}" + (" (old)" if f.side == "LEFT" else ""))
            why = "over the inline comment limit" if full else "not a commentable line of this diff"
        lines.append(f"- **{f.severity}** {one_line(f.title, 200)} — {where} — {why}")
    if len(rest) > LIST_MAX:
        lines.append(f"- … {plural(len(rest) - LIST_MAX, 'more finding')} in the findings above")
    lines += carried[:LIST_MAX]
    return "\n".join([_NOT_INLINE, "", *lines])


_NOT_INLINE = "#### Not placed inline"
_EARLIER = " _(from an earlier run)_"
_LINE_LOCATION = re.compile(r"- \*\*\w+\*\* .*? — (`+) ?(.+?) ?\1 — ")


def _carried(run: Run) -> list[str]:
    """Lines of the previous summary's "Not placed inline" list about files this run did not
    review again: those findings still stand, and the summary is their only record."""
    if not run.unchanged or _NOT_INLINE not in run.previous_body:
        return []
    unchanged = set(run.unchanged)
    section = run.previous_body.split(_NOT_INLINE, 1)[1].split("\n#### ", 1)[0]
    kept = []
    for line in section.splitlines():
        match = _LINE_LOCATION.match(line)
        if match and re.sub(r"(:\d+)?( \(old\))?$", "", match[2]) in unchanged:
            kept.append(line if line.endswith(_EARLIER) else line + _EARLIER)
    return kept


def _unchanged(run: Run) -> str:
    if not run.unchanged:
        return ""
    lines = [f"- {inline_code(p)}" for p in run.unchanged[:LIST_MAX]]
    if len(run.unchanged) > LIST_MAX:
        lines.append(f"- … {plural(len(run.unchanged) - LIST_MAX, 'more file')}")
    return "\n".join([f"#### Unchanged since the last review (`{run.since[:7]}`)", "", *lines])


def _about(run: Run) -> str:
    return "\n".join(["#### About this run", "", *(f"- {line}" for line in run.about)])


def _review_lines(report: Report, payload: ReviewPayload, result: PostResult | None, max_inline: int) -> list[str]:
    if report.dry_run:
        return ["Dry run: this is the plan; no model was called and no review was posted"]
    lines = []
    if result is not None:
        lines.append(f"Review: [{payload.event.lower().replace('_', ' ')}]({result.html_url}) with "
                     f"{plural(result.inline_comments, 'inline comment')} (at most {max_inline} per review)")
        if result.in_body:
            lines.append(f"GitHub rejected the inline comments ({one_line(result.rejection or '', 300)}): "
                         "they are in the review body instead")
    if payload.duplicates:
        lines.append(f"{plural(payload.duplicates, 'finding')} already posted by an earlier run: not repeated")
    return lines


def _note_ignored(gh: GitHubPR, run: Run) -> None:
    """Say so when someone else's comments carried our hidden markers: they were not allowed
    to silence findings or stand in for the summary, and whoever reads the PR should know."""
    if gh.ignored_markers:
        run.about.append(f"Ignored reviewbot markers in {plural(gh.ignored_markers, 'comment')} "
                         f"not written by {inline_code(gh.login or '')}")


def _cost_line(usd: float | None, state: SummaryState) -> str:
    from .cost import format_usd

    return (f"Cost: this run {format_usd(usd)}; this pull request so far {format_usd(state.total_usd)} "
            f"over {plural(state.runs, 'run')}")


__all__ = [
    "Context",
    "Event",
    "PullTarget",
    "Skip",
    "append_step_summary",
    "command",
    "compose_summary",
    "fetch_prompts",
    "format_outputs",
    "outputs",
    "pull_target",
    "read_context",
    "read_event",
    "run_action",
    "write_outputs",
]
