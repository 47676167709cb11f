"""What the pull-request client returns (pure data): plain frozen dataclasses, never PyGithub
objects, so nothing of PyGithub crosses into the rest of reviewbot."""

from __future__ import annotations

from dataclasses import dataclass

from .markers import SummaryState


@dataclass(frozen=True)
class PullInfo:
    number: int
    title: str
    body: str
    base_sha: str
    head_sha: str
    base_ref: str
    head_ref: str
    author: str
    draft: bool
    head_repo_full_name: str | None  # None when the fork was deleted
    is_fork: bool
    changed_files: int = 0  # GitHub's count: more than the files listing shows past 3,000
    html_url: str = ""
    state: str = "open"


@dataclass(frozen=True)
class SummaryRef:
    id: int
    html_url: str
    body: str
    state: SummaryState | None  # None when the marker's state is unreadable


@dataclass(frozen=True)
class PostResult:
    review_id: int
    html_url: str
    inline_comments: int  # comments posted inline (0 when they went into the body)
    in_body: bool = False  # GitHub rejected the inline comments (422): all moved to the body
    recovered: bool = False  # GitHub failed after saving: the saved review was found and used
    rejection: str | None = None  # GitHub's 422 message when in_body


__all__ = ["PostResult", "PullInfo", "SummaryRef"]
