"""The GitHub edge, conversation: `issue_comment` and `pull_request_review_comment` events.
`commands.py` decides what a comment asks and who may ask it; this module (I/O: GitHub
requests, a model call for an answer, the Actions outputs) reads the event,
asks GitHub what it needs and answers where the question was asked — help and the plan as a
reply, `review` by a full review of the head (its own budget, counted toward the pull
request's cap), `ignore` by a mark in the summary state, a question by an answer in the
finding's thread (`answer.py`). Bots are never obeyed or answered (no loops); nothing of the
pull request is checked out or run; every reply goes through `render.safe`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..commands import HELP, Author, Command, may_run, parse_command
from ..errors import EXIT_OK, UsageError
from ..render.safe import inline_code, one_line, prose
from ..textutil import squash

if TYPE_CHECKING:
    from ..config import Config
    from ..diff import FileDiff
    from .api import GitHubPR
    from .base_commit import BaseSetup
    from .events import Context, Event, PullTarget, Skip
    from .runstate import Echo

REPLY_MARKER = "<!-- reviewbot:reply -->"  # our replies, recognisable (and never a command)
MAX_REPLY_CHARS = 60_000
MAX_THREAD_COMMENTS = 10


@dataclass(frozen=True)
class CommentEvent:
    kind: str  # issue_comment or pull_request_review_comment
    number: int  # the pull request
    comment_id: int
    body: str
    author: Author
    root_id: int | None  # the first comment of a review thread (itself when it is the first)


def comment_event(event: Event) -> CommentEvent | Skip:
    """The new comment of an `issue_comment` / `pull_request_review_comment` event, or why
    this event is not one to act on (an edit, a comment on an issue)."""
    from .events import Skip

    payload = event.payload
    action = str(payload.get("action") or "")
    if action != "created":
        return Skip(f"{event.name} action '{action}' is not a new comment")
    comment = payload.get("comment")
    if not isinstance(comment, dict) or not isinstance(comment.get("id"), int):
        raise UsageError(f"the {event.name} payload has no comment.id")
    if event.name == "issue_comment":
        issue = payload.get("issue") or {}
        if not issue.get("pull_request"):
            return Skip("a comment on an issue, not on a pull request")
        number, root = issue.get("number"), None
    else:
        number = (payload.get("pull_request") or {}).get("number")
        reply_to = comment.get("in_reply_to_id")
        root = reply_to if isinstance(reply_to, int) else comment["id"]
    if not isinstance(number, int):
        raise UsageError(f"the {event.name} payload has no pull request number")
    user = comment.get("user") or {}
    login = str(user.get("login") or "")
    author = Author(
        login,
        str(comment.get("author_association") or "NONE"),
        is_bot=user.get("type") == "Bot" or login.endswith("[bot]"),
    )
    return CommentEvent(event.name, number, comment["id"], str(comment.get("body") or ""), author, root)


Review = Callable[["GitHubPR", "Context", "PullTarget", dict[str, Any], "Echo"], int]


def handle_comment(
    gh: GitHubPR, ctx: Context, event: CommentEvent, opts: dict[str, Any], say: Echo, review: Review
) -> int:
    """Act on one comment; `review` runs a full review (the Action's pull request flow)."""
    from .events import PullTarget
    from .outputs import command, outputs, write_outputs

    def skip(reason: str) -> int:
        say(command("notice", f"reviewbot: skipped: {reason}"))
        write_outputs(ctx.output, outputs(skipped=True))
        return EXIT_OK

    if event.author.is_bot or _ours(gh, event):
        return skip("a comment by a bot: bots are never obeyed")
    asked = parse_command(event.body, in_thread=event.root_id is not None)
    implicit = asked is None and event.root_id is not None and event.body.rstrip().endswith("?")
    if asked is None and not implicit:
        return skip("no /reviewbot command in the comment")
    cmd = asked or Command("ask", squash(event.body)[:2000])
    if cmd.verb == "help":  # free, for anyone who can comment: no config needed
        _reply(gh, event, HELP)
        return skip("answered /reviewbot help")
    info = gh.pull_info()
    if info.state != "open":
        return skip("the pull request is not open")
    run = _base_config(gh, ctx, opts, info)
    conv = run.config.conversation
    if implicit and not conv.answer_questions:
        return skip("a question without /reviewbot (conversation.answer_questions is off)")
    if not may_run(cmd, event.author, tuple(conv.allowed_associations)):
        if not implicit:
            who = ", ".join(a.lower() + "s" for a in conv.allowed_associations)
            _reply(gh, event, f"Only the repository's {who} can ask reviewbot to {cmd.verb}: it costs money.")
        return skip(f"{event.author.login} ({event.author.association}) may not ask for {cmd.verb}")
    if cmd.verb == "review":
        _react(gh, event, "eyes")
        capped = {**opts, "incremental": False, "dry_run": False, "max_usd_per_command": conv.max_usd_per_command}
        return review(gh, ctx, PullTarget(event.number), capped, say)
    if cmd.verb == "plan":
        _reply(gh, event, _plan(gh, run))
        return skip("posted the plan")
    root = _our_root(gh, event)
    if root is None:
        if not implicit:
            _reply(
                gh,
                event,
                "This thread is not one of reviewbot's findings: nothing to "
                f"{'ignore' if cmd.verb == 'ignore' else 'answer'} here.",
            )
        return skip("the thread is not a reviewbot finding")
    if cmd.verb == "ignore":
        if not gh.may_silence(event.author.login):
            _reply(
                gh,
                event,
                "Only someone with write access to the repository, other than the pull request's author, "
                "can silence a finding.",
            )
            return skip(f"{event.author.login} may not silence findings on this pull request")
        return skip(_ignore(gh, run, event, root))
    return skip(_answer(gh, run, event, root, cmd.question))


def _ours(gh: GitHubPR, event: CommentEvent) -> bool:
    """A comment reviewbot wrote (a finding, the summary, a reply): it carries one of our
    markers, or its author is the token's login when that is known (a personal access token
    posts as a User, often a MEMBER). A model's text in a finding is never a command."""
    from .markers import FINGERPRINT_MARKER, RUN_MARKER, SUMMARY_PREFIX

    markers = (REPLY_MARKER, SUMMARY_PREFIX, FINGERPRINT_MARKER.split("{")[0], RUN_MARKER.split("{")[0])
    if any(m in event.body for m in markers):
        return True
    return gh.login is not None and event.author.login.lower() == gh.login.lower()


# --- what each command does ----------------------------------------------------------------


def _base_config(gh: GitHubPR, ctx: Context, opts: dict[str, Any], info: Any) -> BaseSetup:
    """The config of the base commit (never the pull request's), as a review reads it."""
    from ..diff import Diff
    from .base_commit import load_base_setup

    return load_base_setup(gh, opts, info.base_sha, Diff(()), ctx.runner_temp)


def _plan(gh: GitHubPR, run: Any) -> str:
    """The dry run of the current head, as markdown: files, tiers, reasons, estimated cost."""
    from ..diff import diff_from_patches
    from ..render import render_markdown
    from ..session import execute

    diff = diff_from_patches(gh.changed_files())
    report = execute(
        diff,
        run.config,
        source=f"{gh.repository}#{gh.number}",
        notes=run.notes,
        dry_run=True,
        audit_log=None,
        instruction_file=run.rules_file,
    )
    return render_markdown(report, max_chars=MAX_REPLY_CHARS - 2_000, min_severity=run.config.review.min_severity)


def _ignore(gh: GitHubPR, run: Any, event: CommentEvent, root: Mapping[str, Any]) -> str:
    """Silence the thread's finding for the rest of the pull request: its fingerprint joins
    the summary state's `ignored`; the next runs neither post nor list it."""
    from .markers import extract_fingerprints

    prints = sorted(extract_fingerprints(str(root.get("body") or "")))
    summary = gh.find_summary_comment()
    if not prints or summary is None:
        _reply(gh, event, "There is no reviewbot finding to ignore here.")
        return "nothing to ignore"
    _update_state(gh, summary, lambda state: replace(state, ignored=tuple(dict.fromkeys([*state.ignored, *prints]))))
    _reply(gh, event, "Ignored: reviewbot will not post this finding again on this pull request.")
    return f"ignored {len(prints)} finding(s)"


def _answer(gh: GitHubPR, run: Any, event: CommentEvent, root: Mapping[str, Any], question: str) -> str:
    """An answer in the thread from the tier that reviews the file, under its own budget."""
    from ..answer import answer_question
    from ..budget import BudgetGuard
    from ..calling import ReviewTools
    from ..cost import Pricer
    from ..diff import diff_from_patches
    from ..findings import parse_reply
    from ..llm import LiteLLMClient
    from ..ownkeys import ScrubbingClient
    from ..redact import Redactor
    from ..router import model_window
    from ..session import target_for
    from ..tokens import count_tokens
    from ..vocab import format_usd

    config: Config = run.config
    path = str(root.get("path") or "")
    # The file as the pull request has it now (its old path too, for a rename): the tier and
    # the compliance rules are the review's, never judged from the thread's text alone.
    current = next((f for f in diff_from_patches(gh.changed_files()).files if f.path == path), None)
    if current is None:
        _reply(gh, event, "This file is no longer part of the pull request: reviewbot cannot answer here.")
        return "the file is not in the pull request"
    models = _models_for(config, current)
    if not models:
        _reply(gh, event, "No model may see this file (compliance rules): reviewbot cannot answer here.")
        return "no allowed model for the file"
    summary = gh.find_summary_comment()
    left = _left_for_pr(config, summary)
    cap = (
        config.conversation.max_usd_per_command if left is None else min(left, config.conversation.max_usd_per_command)
    )
    pricer = Pricer(config.prices)
    env = os.environ
    tools = ReviewTools(
        targets=lambda m: target_for(config, m, env),
        price=pricer.cost,
        supports_schema=lambda m: False,
        context_window=lambda m: model_window(config, m, pricer.context_window),
        count_tokens=count_tokens,
        parse=parse_reply,
        anchor=lambda found, chunk: list(found),
        labels={"repository": gh.repository, "pr": str(gh.number)},
    )
    redactor = Redactor() if config.redact_secrets else None

    def clean(text: str) -> str:  # the thread is the PR's text: redacted like the diff
        return redactor.redact(text)[0] if redactor is not None and text else text

    # The hunk as the pull request has it now, around the finding's line: GitHub's stored
    # diff_hunk may hold lines of another path (a rename since rewritten away) whose rules
    # the models chosen above never had to meet.
    line = root.get("line") or root.get("original_line")
    hunk = clean(_current_hunk(current, line if isinstance(line, int) else None))
    body = clean(_finding_text(str(root.get("body") or "")))
    finding = {
        "path": path,
        "line": root.get("line") or root.get("original_line"),
        "severity": "",
        "title": body.split("\n", 1)[0],
        "body": body,
    }
    answer = answer_question(
        ScrubbingClient(LiteLLMClient()),
        run_prompts(config),
        BudgetGuard(cap, None),
        tools,
        models,
        finding=finding,
        hunk=hunk,
        thread=[(who, clean(text)) for who, text in _thread(gh, event, root)],
        question=clean(question),
        path=path,
    )
    usd = sum(c.usd for c in answer.calls if c.usd is not None)  # the known part: what the PR's cap counts
    unknown = any(c.usd is None for c in answer.calls)  # an unpriced model, a timeout: never shown as $0
    shown = ("cost unknown" + (f" (priced part {format_usd(usd)})" if usd else "")) if unknown else format_usd(usd)
    if answer.text is None:
        _reply(gh, event, f"reviewbot could not answer: {one_line(answer.error or 'no model answered', 300)}.")
    else:
        _reply(
            gh,
            event,
            prose(answer.text, max_chars=8_000)
            + f"\n\n<sub>Answered by {inline_code(answer.model or '')} · {shown}</sub>",
        )
    if usd and summary is not None:  # the pull request's spend cap counts answers too
        _update_state(gh, summary, lambda state: replace(state, total_usd=state.total_usd + usd))
    return f"answered in the thread ({shown})"


def run_prompts(config: Config) -> Any:
    from ..prompts import PromptSet

    return PromptSet.load(config.prompts_dir)


def _current_hunk(file: FileDiff, line: int | None) -> str:
    """The hunk of `file` holding new-side `line` (else its first), as unified diff text."""
    hunks = file.hunks
    if not hunks:
        return ""
    chosen = next(
        (h for h in hunks if line is not None and h.new_start <= line < h.new_start + max(h.new_len, 1)), hunks[0]
    )
    head = f"@@ -{chosen.old_start},{chosen.old_len} +{chosen.new_start},{chosen.new_len} @@ {chosen.section}".rstrip()
    return "\n".join([head, *(ln.kind + ln.text for ln in chosen.lines)])


def _models_for(config: Config, file: FileDiff) -> tuple[str, ...]:
    """The tier the file is reviewed by (its risk in the pull request), allowed models only:
    the compliance rules of every path it has had (a rename out of a locked folder stays locked)."""
    from ..risk import assess
    from ..router import compliance_group, model_allowed, tier_models

    tier = assess(file, config.risk).tier
    group = compliance_group((file.path, file.old_path or ""), config)
    return tuple(m for m in tier_models(config, tier) if model_allowed(m, group, config))


def _left_for_pr(config: Config, summary: Any) -> float | None:
    cap = config.budget.max_usd_per_pr
    if cap is None:
        return None
    spent = summary.state.total_usd if summary is not None and summary.state else 0.0
    return max(0.0, cap - spent)


def _finding_text(body: str) -> str:
    """Our comment's text without markers, badges' markdown left as it is (it is ours)."""
    from .markers import strip_summary_marker

    return strip_summary_marker(body).strip()


def _thread(gh: GitHubPR, event: CommentEvent, root: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The replies before this comment in the thread (authors and text: data for the model)."""
    comments = gh.review_comments()
    replies = [c for c in comments if c.get("in_reply_to_id") == root.get("id") and c.get("id") != event.comment_id]
    return [
        (str((c.get("user") or {}).get("login") or ""), str(c.get("body") or "").replace(REPLY_MARKER, ""))
        for c in replies[-MAX_THREAD_COMMENTS:]
    ]


# --- GitHub requests -------------------------------------------------------------------------


def _our_root(gh: GitHubPR, event: CommentEvent) -> dict[str, Any] | None:
    """The thread's first comment when reviewbot wrote it (a finding), else None."""
    from .api import authored_by

    if event.root_id is None:
        return None
    data = gh.review_comment(event.root_id)
    if data is None or not authored_by(data.get("user"), gh.own_login()):
        return None
    return data


def _reply(gh: GitHubPR, event: CommentEvent, text: str) -> None:
    """Answer where the comment was made: in its review thread, else in the conversation."""
    from .review import cap_body

    gh.reply(cap_body(text, MAX_REPLY_CHARS) + "\n\n" + REPLY_MARKER, event.root_id)


def _react(gh: GitHubPR, event: CommentEvent, content: str) -> None:
    """An acknowledgement on the command's comment: best effort (a deleted comment, a token
    without the permission: the work goes on)."""
    from .errors import GitHubError

    with contextlib.suppress(GitHubError):
        gh.react(event.comment_id, content, review_comment=event.kind == "pull_request_review_comment")


def _update_state(gh: GitHubPR, summary: Any, change: Callable[[Any], Any]) -> None:
    """Rewrite the summary comment's state marker (nothing else of its body changes)."""
    from .markers import SummaryState, render_summary_marker, strip_state_marker

    state = change(summary.state or SummaryState(head=""))
    gh.upsert_summary(render_summary_marker(state) + strip_state_marker(summary.body))
