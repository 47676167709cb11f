"""GitHub's failures as ours (pure): every failed request leaves the client as a GitHubError
(a ServiceError, exit 3) with a one-line message, or CannotWrite when the token is read-only;
`translate` turns PyGithub's exception into one of them."""

from __future__ import annotations

import urllib.parse

from github import GithubException

from ..errors import ServiceError


class GitHubError(ServiceError):
    """A GitHub request failed. `status` is None when no HTTP answer came back."""

    def __init__(self, message: str, hint: str | None = None, *, status: int | None = None, reason: str = "") -> None:
        super().__init__(message, hint)
        self.status = status
        self.reason = reason or message  # GitHub's own words, e.g. "Unprocessable Entity (…)"


class CannotWrite(GitHubError):
    """The token may read but not write (fork PRs get a read-only GITHUB_TOKEN)."""


def url_path(url: str) -> str:
    return urllib.parse.urlparse(url).path


def message_of(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        # PyGithub wraps a body that is not JSON (a proxy's HTML 502 page) as {"data": text}.
        text = str(data.get("message") or data.get("data") or "")
    else:
        text = str(data or "")
    return " ".join(text.split())[:200]


def translate(verb: str, url: str, exc: GithubException, *, cannot_write: bool) -> GitHubError:
    """GitHub's answer as one line: status, message and its `errors` details."""
    data = exc.data if isinstance(exc.data, dict) else {}
    details = [
        e if isinstance(e, str) else str(e.get("message") or e.get("code") or e) for e in data.get("errors") or [] if e
    ]
    reason = message_of(exc) or "no message"
    if details:
        reason += f" ({'; '.join(details)})"
    text = f"GitHub {verb} {url_path(url)}: {exc.status} {reason}"
    if cannot_write and exc.status == 403:
        return CannotWrite(
            text,
            hint="the token is read-only (fork pull requests get one): grant "
            "`pull-requests: write`, or findings go to annotations instead",
            status=403,
            reason=reason,
        )
    hint = "check the token and its permissions" if exc.status in (401, 403, 404) else None
    return GitHubError(text, hint=hint, status=exc.status, reason=reason)


__all__ = ["CannotWrite", "GitHubError", "message_of", "translate", "url_path"]
