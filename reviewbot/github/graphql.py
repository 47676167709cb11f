"""GitHub's GraphQL API (pure): the two queries the client sends, who the token posts as
(`viewer`) and many files at one commit in one request, and how their answers are read.
Sending them is api.py's."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .errors import GitHubError

# A GitHub login: letters, digits, hyphens (and an underscore for enterprise managed users);
# GitHub Apps, GITHUB_TOKEN's included, post as "<app-slug>[bot]". No person's login has brackets.
LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}(?:\[bot\])?")
# GET /user answers 403 to installation tokens (GITHUB_TOKEN, GitHub Apps); the GraphQL viewer
# answers every kind of token, with "<app-slug>[bot]" for an App (public reports, not the docs).
VIEWER_QUERY = "query { viewer { login } }"
VIEWER_HINT = (
    "name it with --bot-login (REVIEWBOT_BOT_LOGIN): github-actions[bot] for the "
    "workflow's GITHUB_TOKEN, <app-slug>[bot] for a GitHub App, else the token's user"
)

MAX_FILE_BYTES = 512 * 1024  # a config, rules or context file; larger is refused, not read
FILES_PER_QUERY = 100  # aliased objects per GraphQL request: ⌈files/100⌉ requests for code context


def files_query(owner: str, name: str, names: Sequence[str], ref: str) -> dict[str, Any]:
    """The request body asking for each of `names` at `ref` (aliased
    `object(expression: "REF:path")`)."""
    params = ", ".join(f"$e{i}: String!" for i in range(len(names)))
    fields = " ".join(
        f"f{i}: object(expression: $e{i}) {{ ... on Blob {{ text byteSize isBinary }} }}" for i in range(len(names))
    )
    query = (
        f"query($owner: String!, $name: String!, {params}) {{ repository(owner: $owner, name: $name) {{ {fields} }} }}"
    )
    variables: dict[str, Any] = {"owner": owner, "name": name, **{f"e{i}": f"{ref}:{p}" for i, p in enumerate(names)}}
    return {"query": query, "variables": variables}


def read_files(data: Any, names: Sequence[str], ref: str) -> dict[str, str | None]:
    """The answer to `files_query`: each name's text, None for a path that is absent, binary,
    not a file, or over MAX_FILE_BYTES."""
    repo = ((data or {}).get("data") or {}).get("repository") if isinstance(data, dict) else None
    if not isinstance(repo, dict):
        errors = data.get("errors") if isinstance(data, dict) else None
        raise GitHubError(
            f"cannot read {', '.join(names)} at {ref[:12]}: "
            + (
                "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors or [])[:200]
                or "no repository in the GraphQL answer"
            )
        )
    out: dict[str, str | None] = {}
    for i, path in enumerate(names):
        blob = repo.get(f"f{i}")
        ok = (
            isinstance(blob, dict)
            and isinstance(blob.get("text"), str)
            and not blob.get("isBinary")
            and int(blob.get("byteSize") or 0) <= MAX_FILE_BYTES
        )
        out[path] = blob["text"] if ok and isinstance(blob, dict) else None
    return out


def read_viewer_login(data: Any) -> str:
    """The login in the answer to VIEWER_QUERY; a GitHubError when there is no usable one."""
    viewer = (data.get("data") or {}).get("viewer") if isinstance(data, dict) else None
    login = viewer.get("login") if isinstance(viewer, dict) else None
    if not isinstance(login, str) or not LOGIN.fullmatch(login):
        errors = data.get("errors") if isinstance(data, dict) else None
        detail = (
            "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in errors or [])[:200]
            or f"no usable login ({str(login)[:60]!r})"
        )
        raise GitHubError(
            f"cannot tell which login this token posts as: GraphQL viewer: {' '.join(detail.split())}", hint=VIEWER_HINT
        )
    return login


__all__ = [
    "FILES_PER_QUERY",
    "LOGIN",
    "MAX_FILE_BYTES",
    "VIEWER_HINT",
    "VIEWER_QUERY",
    "files_query",
    "read_files",
    "read_viewer_login",
]


# Review threads: the outdated findings' threads are resolved (GitHub has no REST call for it).
THREADS_QUERY = (
    "query($owner: String!, $name: String!, $number: Int!) { repository(owner: $owner, name: $name) { "
    "pullRequest(number: $number) { reviewThreads(first: 100) { nodes { id isResolved "
    "comments(first: 1) { nodes { databaseId } } } } } } }"
)
RESOLVE_MUTATION = "mutation($id: ID!) { resolveReviewThread(input: {threadId: $id}) { thread { id isResolved } } }"


def unresolved_threads(data: Any, root_ids: set[int]) -> list[str]:
    """Ids of the open threads whose first comment is one of `root_ids`."""
    pull = ((data or {}).get("data") or {}).get("repository") or {}
    nodes = (((pull.get("pullRequest") or {}).get("reviewThreads") or {}).get("nodes")) or []
    found = []
    for node in nodes:
        first = ((node or {}).get("comments") or {}).get("nodes") or [{}]
        if (
            not node.get("isResolved")
            and (first[0] or {}).get("databaseId") in root_ids
            and isinstance(node.get("id"), str)
        ):
            found.append(node["id"])
    return found
