"""The run's files and workflow commands (I/O: appends to GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY; `format_outputs`, `outputs` and `command` are pure): step outputs, the
step summary (cut to GitHub's 1 MiB), and `::notice::`-style lines for the log. Everything
written is scrubbed of the run's own secrets."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from ..errors import UsageError
from ..ownkeys import SCRUB

STEP_SUMMARY_LIMIT = 1024 * 1024  # GitHub keeps at most 1 MiB of step summary per step


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


def outputs(
    *,
    skipped: bool,
    cost: str = "0",
    findings: int = 0,
    inline: int = 0,
    review_url: str = "",
    summary_url: str = "",
    report: str = "",
) -> dict[str, str]:
    return {
        "cost-usd": cost,
        "findings": str(findings),
        "inline-comments": str(inline),
        "review-url": review_url,
        "summary-url": summary_url,
        "report-path": report,
        "skipped": "true" if skipped else "false",
    }


def command(kind: str, message: str) -> str:
    """A workflow command line (`::notice::…`), escaped like actions/toolkit's escapeData."""
    return f"::{kind}::" + message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


__all__ = [
    "STEP_SUMMARY_LIMIT",
    "append_step_summary",
    "command",
    "format_outputs",
    "outputs",
    "write_outputs",
]
