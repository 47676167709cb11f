"""The Actions environment (I/O: reads the event payload file): which event started the job,
which pull request it names (or why it is not one to review), and the repository, token,
API URL and output files of the run."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..textutil import squash

PR_EVENTS = ("pull_request", "pull_request_target")
COMMENT_EVENTS = ("issue_comment", "pull_request_review_comment")
PR_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review")


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
            raise UsageError(
                "GITHUB_EVENT_NAME is not set: this command runs inside GitHub Actions",
                hint="for local use pass --pr N with GITHUB_REPOSITORY and GITHUB_TOKEN set",
            )
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
            raise UsageError(
                "workflow_dispatch needs a pull request number", hint="pass the action's `pr-number` input"
            )
        try:
            number = int(str(raw))
        except ValueError:
            raise UsageError(f"pr-number must be a number, got {str(raw)[:40]!r}") from None
        return PullTarget(number)
    return Skip(
        f"event '{event.name}' is not a pull request event "
        f"(reviewed: {', '.join(PR_EVENTS)} and workflow_dispatch with pr-number)"
    )


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
        token=token,
        run_id=run_id,
        step_summary=env.get("GITHUB_STEP_SUMMARY") or None,
        output=env.get("GITHUB_OUTPUT") or None,
        runner_temp=env.get("RUNNER_TEMP") or None,
    )


__all__ = [
    "COMMENT_EVENTS",
    "PR_ACTIONS",
    "PR_EVENTS",
    "Context",
    "Event",
    "PullTarget",
    "Skip",
    "pull_target",
    "read_context",
    "read_event",
]
