"""Publishing the run's result (I/O: GitHub writes, the step summary, the step outputs, the JSON
report under RUNNER_TEMP, log lines): one review, the one summary comment, annotations when
the token is read-only, and the exit code. The text itself comes from summary.py and
review.py; this module decides what goes where and in which order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import EXIT_FINDINGS, EXIT_OK, EXIT_SERVICE
from ..ownkeys import SCRUB
from ..render.safe import inline_code, one_line
from ..textutil import plural
from ..vocab import severity_at_least
from .markers import standing_entries
from .outputs import STEP_SUMMARY_LIMIT, append_step_summary, command, outputs, write_outputs
from .summary import (
    about_section,
    already_reviewed,
    carried,
    comment_render,
    compose_summary,
    cost_line,
    next_state,
    not_inline,
    render_report,
    review_lines,
    summary_fingerprints,
    unchanged_section,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..findings import Finding
    from ..report import Report
    from .api import GitHubPR
    from .errors import GitHubError
    from .markers import SummaryState
    from .records import PostResult
    from .review import ReviewPayload
    from .runstate import Echo, Run


def publish(gh: GitHubPR, run: Run, report: Report, say: Echo) -> int:
    """Post the review and the summary comment (or annotations), write the step summary and
    the outputs; the exit code."""
    from ..report import not_reviewed_reason
    from ..session import exit_code
    from .annotations import workflow_annotations
    from .errors import CannotWrite, GitHubError

    cfg = run.config
    saved = _save_report(run, report)  # first: what was paid for is on disk before GitHub is asked
    report, dismissed = _without_dismissed(gh, run, report)
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
            run.top.append(
                f"> ⚠️ GitHub refused the review ({one_line(exc.message, 300)}): every finding is "
                "listed in this summary" + (f" and in {inline_code(saved)}" if saved else "") + "."
            )
            rest = list(report.findings)
    usd = 0.0 if report.dry_run else report.cost.total_usd
    full = not report.dry_run and not any(c.status in ("failed", "skipped", "partial") for c in report.chunks)
    # A refused review was not posted: the next run (even on this head) must post it.
    state = next_state(
        run.previous,
        run.head if full and refused is None else None,
        usd if usd is not None else report.cost.known_usd,
        in_body=bool(result and result.in_body),
        standing=None if report.dry_run else _standing(run, report, dismissed, full),
    )
    run.about += review_lines(report, payload, result, cfg.review.max_inline_comments)
    run.about.append(cost_line(usd, state))
    if saved:
        run.about.append(f"Full report (JSON): {inline_code(saved)} on the runner")
    posted = payload if result is not None or not payload.comments else None
    fingerprints = summary_fingerprints(run.previous_body, report, posted)
    _note_ignored(gh, run)
    step = [not_inline(rest, payload, _carried(run), listed_above=True), _unchanged(run)]  # the whole report
    render = comment_render(report, cfg, rest, result)
    if render.note:
        run.top.append(render.note)
    sections = [
        *render.sections,
        not_inline(render.rest, payload, _carried(run), listed_above=not render.sections),
        _unchanged(run),
    ]
    url = ""
    if not read_only:
        try:
            url, read_only = _upsert(gh, run, state, render.main, sections, say, fingerprints)
        except GitHubError as exc:
            refused = refused or exc
            say(f"reviewbot: GitHub refused the summary comment ({exc.message}); the result is in the step summary")
    if read_only:
        lines, _ = workflow_annotations(report.findings)
        for line in lines:
            say(line)
        run.top.append(
            f"> The token cannot write to this pull request (fork pull requests get a read-only "
            f"token): {plural(len(lines), 'finding')} shown as annotations; every finding is "
            "listed here."
        )
        step = [_unchanged(run)]
    _step_summary(run, lambda n: render_report(report, cfg, n), step)
    not_reviewed = not_reviewed_reason(report)
    # Nothing sent to a model (every file ignored by the rules, say) is "skipped", never "reviewed".
    skipped = (
        report.dry_run
        or not_reviewed is not None
        or not any(c.status in ("reviewed", "partial") for c in report.chunks)
    )
    cost = "unknown" if usd is None else f"{usd:.6f}"
    inline = result.inline_comments if result else 0
    write_outputs(
        run.ctx.output,
        outputs(
            skipped=skipped,
            cost=cost,
            findings=len(report.findings),
            inline=inline,
            review_url=result.html_url if result else "",
            summary_url=url,
            report=saved or "",
        ),
    )
    say(
        f"reviewbot: {plural(len(report.findings), 'finding')}, {plural(inline, 'inline comment')}, "
        f"cost {cost} USD, {plural(gh.requests_made, 'GitHub request')}" + (f"; summary: {url}" if url else "")
    )
    if refused is not None:
        say(command("error", f"reviewbot: GitHub refused to take the result: {refused.message}"))
        return refused.exit_code
    if not_reviewed is not None:  # never a green check with nothing reviewed, unless asked to warn
        warn = run.opts.get("on_not_reviewed") == "warn"
        say(command("warning" if warn else "error", f"reviewbot: not reviewed: {not_reviewed}"))
        # warn keeps an outage from failing the check, never the verdict earlier runs left
        return standing_code(state, cfg, say) if warn else EXIT_SERVICE
    code = exit_code(report, cfg)
    return code if code != EXIT_OK or report.dry_run else standing_code(state, cfg, say)


def not_reviewed(gh: GitHubPR, run: Run, reason: str, say: Echo, *, new_head: str | None, mark: str = "⛔") -> int:
    """Nothing was sent to a model: say so in the summary comment, the step summary and the
    outputs (never a green "reviewed")."""
    state = next_state(run.previous, new_head, 0.0)
    run.about.append(cost_line(0.0, state))
    _note_ignored(gh, run)
    text = f"### reviewbot\n\n{mark} **Not reviewed:** {reason}\n"
    sections = [not_inline([], None, _carried(run)), _unchanged(run)]
    url, _ = _upsert(gh, run, state, lambda _: text, sections, say, "")
    _step_summary(run, lambda _: text, sections)
    write_outputs(run.ctx.output, outputs(skipped=True, summary_url=url))
    return EXIT_OK


def publish_already_reviewed(gh: GitHubPR, run: Run, previous_body: str, say: Echo) -> int:
    """Keep the summary comment's report, count the run and say so in its first line."""
    state = next_state(run.previous, run.head, 0.0)
    body, note = already_reviewed(previous_body, state, run.head)
    url = gh.upsert_summary(body)
    append_step_summary(run.ctx.step_summary, f"### reviewbot\n\n{note}\n\nSummary: {url}\n")
    write_outputs(run.ctx.output, outputs(skipped=True, summary_url=url))
    say(command("notice", f"reviewbot: already reviewed at {run.head[:12]}: nothing sent to a model; summary: {url}"))
    return standing_code(state, run.config, say)  # the head's verdict, not a green re-run


def _standing(
    run: Run, report: Report, dismissed: set[str], complete: bool
) -> tuple[tuple[tuple[str, str, str], ...], bool]:
    """The findings at or above fail_on that stand on the PR after this run: this run's, and
    the earlier runs' on files this run did not review (an incremental run, a failed or
    skipped chunk, a file renamed into an ignored folder) that are still in the PR and not
    dismissed; with True when more stood than the state holds. Only a review of the whole PR
    with every chunk reviewed (`complete`, not incremental) starts the list anew: findings
    with no file, and the overflow, are kept until then."""
    threshold = run.config.review.fail_on
    if threshold == "none":
        return (), False
    whole = complete and not run.since
    reviewed = {f.path for f in report.files if f.reviewed}
    # Where each earlier finding's file is now: its path, or the path it was renamed to.
    now_at = {f.old_path: f.path for f in run.diff.files if f.old_path} | {f.path: f.path for f in run.diff.files}
    previous = run.previous
    earlier = [
        (fp, now_at.get(path, path), severity)
        for fp, path, severity in (previous.standing if previous else ())
        if fp not in dismissed and ((path in now_at and now_at[path] not in reviewed) or (path == "" and not whole))
    ]
    now = [(f.fingerprint or "", f.path or "", f.severity) for f in report.findings]
    # Earlier ones first: at one severity, the state's cap drops this run's (seen again next run).
    entries, more = standing_entries(earlier + [e for e in now if severity_at_least(e[2], threshold)])
    more = more or bool(previous and previous.standing_more and not whole)
    carried = sum(1 for e in entries if e in earlier)
    if carried or more:
        run.about.append(
            f"{plural(carried, 'finding')} at or above `{threshold}` from earlier reviews still "
            "stand on files this run did not review"
            + ("; more stand than the summary state holds" if more else "")
            + ": they keep the check failing (`review.fail_on`) until fixed, reviewed again or ignored"
        )
    return entries, more


def standing_code(state: SummaryState, cfg: Config, say: Echo) -> int:
    """EXIT_FINDINGS when a finding at or above fail_on still stands on the PR (not ignored
    since): the verdict of a run that sent nothing, or only part of the PR, to a model."""
    threshold = cfg.review.fail_on
    if threshold == "none":
        return EXIT_OK
    ignored = set(state.ignored)
    standing = [e for e in state.standing if e[0] not in ignored and severity_at_least(e[2], threshold)]
    if not standing and not state.standing_more:
        return EXIT_OK
    count = plural(len(standing), "finding") + (" (and more)" if state.standing_more else "")
    say(command("error", f"reviewbot: {count} at or above {threshold} still stand on this pull request"))
    return EXIT_FINDINGS


def _without_dismissed(gh: GitHubPR, run: Run, report: Report) -> tuple[Report, set[str]]:
    """Findings silenced on this pull request (`/reviewbot ignore` in their thread, a 👎 on
    their comment) are neither posted nor listed again; the summary counts them, and the
    earlier findings whose lines a later commit changed (GitHub's outdated comments)."""
    if report.dry_run or not run.has_summary:
        return report, set()
    gh.existing_fingerprints(reviews=bool(run.previous and run.previous.body_findings))  # kept for _build
    dismissed = set(run.previous.ignored if run.previous else ()) | gh.thumbs_down
    kept = tuple(f for f in report.findings if f.fingerprint not in dismissed)
    if dismissed:
        again = len(report.findings) - len(kept)
        run.about.append(
            f"Dismissed on this pull request: {plural(len(dismissed), 'finding')} "
            "(`/reviewbot ignore` or 👎), never posted again"
            + (f"; {again} of them found again in this run" if again else "")
        )
    if gh.outdated:
        resolved = _resolve_outdated(gh)
        run.about.append(
            f"Outdated: {plural(len(gh.outdated - dismissed), 'earlier finding')} on lines a later commit changed"
            + (f"; {plural(resolved, 'thread')} resolved" if resolved else "")
        )
    return replace(report, findings=kept), dismissed


def _resolve_outdated(gh: GitHubPR) -> int:
    """Resolve the threads of our outdated findings when the token may (best effort: a token
    without the right, or GitHub failing, leaves them open and the review goes on)."""
    from .errors import GitHubError

    if not gh.outdated_ids:
        return 0
    try:
        return gh.resolve_threads(gh.outdated_ids)
    except GitHubError:
        return 0


def _build(gh: GitHubPR, run: Run, report: Report) -> tuple[ReviewPayload, list[Finding]]:
    from ..vocab import severity_at_least
    from .markers import extract_fingerprints
    from .review import build_review

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
        severity_at_least(f.severity, threshold) and f.fingerprint not in already for f in report.findings
    )
    return build_review(
        report.findings,
        run.diff,
        commit_id=run.head,
        run_id=run.ctx.run_id,
        max_inline=cfg.review.max_inline_comments,
        already_posted=already,
        event="REQUEST_CHANGES" if blocking else "COMMENT",
    )


def _upsert(
    gh: GitHubPR,
    run: Run,
    state: SummaryState,
    render: Callable[[int], str],
    sections: list[str],
    say: Echo,
    fingerprints: str,
) -> tuple[str, bool]:
    """Edit (or create) the one summary comment, carrying the state marker and the hidden
    `fingerprints` of the findings it holds instead of the review. Returns its URL ("" when
    the token cannot write) and whether the token could not write."""
    from .errors import CannotWrite
    from .markers import render_summary_marker

    marker = render_summary_marker(state) + fingerprints
    try:
        body = compose_summary(render, run.top, [*sections, about_section(run.about)], marker=marker)
        return gh.upsert_summary(body), False
    except CannotWrite:
        say("reviewbot: the token cannot write to this pull request; the result is in the step summary")
        return "", True


def _step_summary(run: Run, render: Callable[[int], str], sections: list[str]) -> None:
    # The step summary takes 1 MiB: the whole report fits there when the comment (64 KiB) cannot.
    append_step_summary(
        run.ctx.step_summary,
        compose_summary(render, run.top, [*sections, about_section(run.about)], limit=STEP_SUMMARY_LIMIT - 4096),
    )


def _save_report(run: Run, report: Report) -> str:
    """The full JSON report under RUNNER_TEMP (every finding, whatever GitHub does); its path."""
    from ..render import render_json

    if report.dry_run or not run.ctx.runner_temp:
        return ""
    path = Path(run.ctx.runner_temp) / "reviewbot-report.json"
    try:
        path.write_text(SCRUB(render_json(report)), encoding="utf-8")
    except OSError:
        return ""
    return str(path)


def _note_ignored(gh: GitHubPR, run: Run) -> None:
    """Say so when someone else's comments carried our hidden markers: they were not allowed
    to silence findings or stand in for the summary, and whoever reads the PR should know."""
    if gh.ignored_markers:
        run.about.append(
            f"Ignored reviewbot markers in {plural(gh.ignored_markers, 'comment')} "
            f"not written by {inline_code(gh.login or '')}"
        )


def _carried(run: Run) -> list[str]:
    return carried(run.previous_body, run.unchanged)


def _unchanged(run: Run) -> str:
    return unchanged_section(run.unchanged, run.since)


__all__ = ["not_reviewed", "publish", "publish_already_reviewed", "standing_code"]
