"""Workflow annotations (pure): the read-only fallback. When the token cannot write to the
pull request (fork pull requests get a read-only GITHUB_TOKEN), findings become
`::error file=…,line=…::` workflow-command lines; publish.py prints them."""

from __future__ import annotations

from collections.abc import Sequence

from ..findings import Finding
from ..render.safe import plain
from ..textutil import squash
from ..vocab import severity_rank

_LEVELS = {
    "critical": "error",
    "high": "error",
    "medium": "warning",
    "low": "notice",
    "info": "notice",
}


def workflow_annotations(findings: Sequence[Finding], limit_per_level: int = 10) -> tuple[list[str], list[Finding]]:
    """Workflow-command lines (`::error file=…,line=…,title=…::message`) for a token that
    cannot write, severity first. GitHub shows at most 10 errors, 10 warnings and 10 notices
    per step; the rest are returned for the step summary."""
    lines: list[str] = []
    rest: list[Finding] = []
    used = {"error": 0, "warning": 0, "notice": 0}
    for f in sorted(findings, key=lambda f: severity_rank(f.severity)):
        level = _LEVELS.get(f.severity, "notice")
        if used[level] >= limit_per_level:
            rest.append(f)
            continue
        used[level] += 1
        lines.append(_annotation(level, f))
    return lines, rest


def _annotation(level: str, f: Finding) -> str:
    props: list[tuple[str, str]] = []
    message = f.body.strip() or f.title
    if f.path:
        props.append(("file", f.path))
        if f.line is not None and f.side == "RIGHT":
            props.append(("line", str(f.start_line if f.start_line else f.line)))
            if f.start_line and f.start_line < f.line:
                props.append(("endLine", str(f.line)))
        elif f.line is not None:  # old-file numbers do not exist in the checked-out tree
            message = f"(removed line {f.line}) {message}"
    props.append(("title", f"[{f.severity}] {squash(plain(f.title))}"))
    rendered = ",".join(f"{k}={_escape_property(v)}" for k, v in props)
    return f"::{level} {rendered}::{_escape_data(message)}"


def _escape_data(value: str) -> str:
    # The runner's workflow-command rules (actions/toolkit command.ts: escapeData).
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    # escapeProperty: also ':' and ',' which would end the property list or a property.
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")


__all__ = ["workflow_annotations"]
