"""Hidden markers (pure): the HTML comments a run leaves in what it posts so that the next run
can find them: a fingerprint per finding, the run id of a review, and the summary comment's
state (`SummaryState`). Only reading and writing the text; which comments count (those the
token's own login wrote) is the API client's business (api.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..vocab import SEVERITIES, severity_rank

FINGERPRINT_MARKER = "<!-- reviewbot:fp:{fp} -->"
RUN_MARKER = "<!-- reviewbot:run:{run_id} -->"
SUMMARY_PREFIX = "<!-- reviewbot:summary "
SUMMARY_MARKER = SUMMARY_PREFIX + "{state} -->"

_FP_RE = re.compile(r"<!-- reviewbot:fp:([^\s>]+) -->")
_FP_WORD = re.compile(r"[^\s>]{1,80}")
MAX_IGNORED = 500  # fingerprints kept in the state (~20 characters each)
MAX_STANDING = 50  # findings at or above fail_on kept in the state, most severe first
_MAX_STANDING_PATH = 200  # characters of a path as JSON writes it; a longer one is kept as ""
MAX_MARKER_CHARS = 24_000  # the state marker, all told: the summary comment holds 65,536
_RUN_RE = re.compile(r"<!-- reviewbot:run:([^\s>]+) -->")
_SUMMARY_RE = re.compile(r"<!-- reviewbot:summary (\{.*?\}) -->", re.DOTALL)


@dataclass(frozen=True)
class SummaryState:
    """What a run leaves in the summary comment for the next run to read."""

    head: str  # last reviewed head sha
    runs: int = 0
    total_usd: float = 0.0
    # A review of an earlier run carries its findings (and their fingerprint markers) in its
    # body, because GitHub rejected its inline comments (422): re-runs read review bodies too.
    body_findings: bool = False
    # Fingerprints silenced with `/reviewbot ignore` in their thread: never posted or listed again.
    ignored: tuple[str, ...] = ()
    # (fingerprint, path, severity) of the findings at or above review.fail_on that still stand
    # on the PR: the verdict of a run that reviews only part of it (incremental, or a free
    # re-run on the same head) is the whole PR's, not just its own findings'.
    standing: tuple[tuple[str, str, str], ...] = ()
    # More findings stood than the state can hold: the check stays failing until a review of
    # the whole pull request, every chunk of it reviewed, works the list out anew.
    standing_more: bool = False


def render_summary_marker(state: SummaryState) -> str:
    fields: dict[str, object] = {"head": state.head, "runs": state.runs, "total_usd": round(state.total_usd, 6)}
    if state.body_findings:  # only when set: most summaries never need it
        fields["body_findings"] = True
    if state.ignored:
        fields["ignored"] = list(state.ignored[-MAX_IGNORED:])
    if state.standing:
        fields["standing"] = [list(s) for s in state.standing[:MAX_STANDING]]
    if state.standing_more or len(state.standing) > MAX_STANDING:
        fields["standing_more"] = True
    data = json.dumps(fields, sort_keys=True)
    # Bounded in characters, not only in entries (JSON writes an emoji as 12): the least severe
    # standing findings go first (the verdict is kept by `standing_more`), then the oldest ignored.
    while len(data) > MAX_MARKER_CHARS and (fields.get("standing") or fields.get("ignored")):
        key = "standing" if fields.get("standing") else "ignored"
        items = fields[key]
        assert isinstance(items, list)
        fields[key] = items[:-1] if key == "standing" else items[1:]
        if key == "standing":
            fields["standing_more"] = True
        data = json.dumps(fields, sort_keys=True)
    # '>' only occurs inside JSON strings, where \u003e is equivalent; it keeps "-->" out.
    return SUMMARY_MARKER.format(state=data.replace(">", "\\u003e"))


def is_summary(body: str) -> bool:
    return SUMMARY_PREFIX in body


def parse_summary_state(body: str) -> SummaryState | None:
    """The state embedded in a summary comment, or None when absent or unreadable."""
    match = _SUMMARY_RE.search(body)
    if not match:
        return None
    try:
        data = json.loads(match.group(1))
        head, runs, total = data["head"], data.get("runs", 0), data.get("total_usd", 0.0)
        in_body = data.get("body_findings", False)
        ignored = data.get("ignored", [])
        standing = _standing(data.get("standing", []))
        more = data.get("standing_more", False)
        if not isinstance(more, bool):
            raise TypeError("standing_more")
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(ignored, list) or not all(isinstance(x, str) and _FP_WORD.fullmatch(x) for x in ignored):
        return None
    if not isinstance(head, str) or isinstance(runs, bool) or not isinstance(runs, int):
        return None
    if isinstance(total, bool) or not isinstance(total, (int, float)) or not isinstance(in_body, bool):
        return None
    return SummaryState(
        head=head,
        runs=runs,
        total_usd=float(total),
        body_findings=in_body,
        ignored=tuple(ignored[-MAX_IGNORED:]),
        standing=standing,
        standing_more=more,
    )


def _standing(items: object) -> tuple[tuple[str, str, str], ...]:
    """The standing findings as stored; an entry that is not (fingerprint, path, severity) is
    unreadable state (TypeError), like any other field of the wrong shape."""
    if not isinstance(items, list):
        raise TypeError("standing")
    out = []
    for item in items[:MAX_STANDING]:
        if not (isinstance(item, list) and len(item) == 3 and all(isinstance(x, str) for x in item)):
            raise TypeError("standing")
        fp, path, severity = item
        if not _FP_WORD.fullmatch(fp) or severity not in SEVERITIES:
            raise TypeError("standing")
        out.append((fp, _kept_path(path), severity))
    return tuple(out)


def _kept_path(path: str) -> str:
    return path if len(json.dumps(path)) <= _MAX_STANDING_PATH else ""


def standing_entries(findings: Iterable[tuple[str, str, str]]) -> tuple[tuple[tuple[str, str, str], ...], bool]:
    """(fingerprint, path, severity) entries for the state: one per fingerprint, the most
    severe first (earlier entries before later ones of the same severity), bounded; a path
    too long to keep is stored as "". True when some did not fit."""
    seen: dict[str, tuple[str, str, str]] = {}
    for fp, path, severity in findings:
        if fp and _FP_WORD.fullmatch(fp) and fp not in seen:
            seen[fp] = (fp, _kept_path(path), severity)
    ordered = sorted(seen.values(), key=lambda e: severity_rank(e[2]))
    return tuple(ordered[:MAX_STANDING]), len(ordered) > MAX_STANDING


# The first line a free re-run puts under the marker ("Already reviewed at …"), replaced by the next.
SUMMARY_NOTE_RE = re.compile(r"\A\n*> ⏭️ Already reviewed at [^\n]*\n")


def strip_summary_marker(body: str) -> str:
    """A summary comment's body without its state marker and fingerprint markers."""
    return _FP_RE.sub("", _SUMMARY_RE.sub("", body, count=1))


def strip_state_marker(body: str) -> str:
    """A summary comment's body without its state marker (fingerprint markers kept)."""
    return _SUMMARY_RE.sub("", body, count=1)


def extract_fingerprints(body: str) -> set[str]:
    return set(_FP_RE.findall(body))


def render_run_marker(run_id: str) -> str:
    return RUN_MARKER.format(run_id=re.sub(r"[^A-Za-z0-9_.-]", "-", run_id))


def extract_run_id(body: str) -> str | None:
    match = _RUN_RE.search(body)
    return match.group(1) if match else None


__all__ = [
    "FINGERPRINT_MARKER",
    "MAX_IGNORED",
    "RUN_MARKER",
    "SUMMARY_MARKER",
    "SUMMARY_NOTE_RE",
    "SUMMARY_PREFIX",
    "SummaryState",
    "extract_fingerprints",
    "extract_run_id",
    "is_summary",
    "parse_summary_state",
    "render_run_marker",
    "render_summary_marker",
    "standing_entries",
    "strip_state_marker",
    "strip_summary_marker",
]
