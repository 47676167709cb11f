"""Eval stage (pure): matching one case's findings against its labels. A finding matches a
label when the path and side are the same, its line range overlaps the label's within
±tolerance lines, its severity is at least the label's minimum and (optionally) the category
agrees. Each label is matched at most once and each finding counts for at most one label:
pairs are taken closest first, so a label is given to the finding that points at it best."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..findings import Finding
from ..vocab import severity_at_least
from .cases import Case, Label, Region

# AACR-Bench's own evaluator counts a comment as matching when the ranges overlap or lie
# within one line; reviewbot's default follows it so its numbers compare with published ones.
DEFAULT_TOLERANCE = 1


@dataclass(frozen=True)
class MatchSettings:
    tolerance: int = DEFAULT_TOLERANCE
    category: bool = False  # also require the category to agree


@dataclass(frozen=True)
class LabelResult:
    label: Label
    finding: Finding | None  # the finding that matched it, None when missed


@dataclass(frozen=True)
class CaseMatch:
    case_id: str
    labels: tuple[LabelResult, ...]
    unmatched: tuple[Finding, ...]  # findings that match no label (noise)
    false_alarms: tuple[Finding, ...]  # unmatched findings on a must-not-flag region
    rejected_hits: tuple[Finding, ...]  # unmatched findings on a comment reviewers rejected
    changed_lines: int  # added + removed lines of the case's diff

    @property
    def found(self) -> int:
        return sum(1 for r in self.labels if r.finding is not None)

    @property
    def matched_findings(self) -> int:
        return self.found


def span(finding: Finding) -> tuple[int, int] | None:
    """The line range a finding points at, or None for a PR-level finding."""
    if finding.line is None:
        return None
    start = finding.start_line if finding.start_line is not None else finding.line
    return min(start, finding.line), max(start, finding.line)


def hits(finding: Finding, region: Region, tolerance: int) -> bool:
    lines = span(finding)
    return lines is not None and region.near(finding.path, finding.side, lines[0], lines[1], tolerance)


def match_case(
    case: Case, findings: Sequence[Finding], changed_lines: int, settings: MatchSettings = MatchSettings()
) -> CaseMatch:
    pairs: list[tuple[int, int, int]] = []  # (distance, label index, finding index)
    for li, label in enumerate(case.labels):
        for fi, finding in enumerate(findings):
            if _matches(label, finding, settings):
                pairs.append((_distance(label.region, finding), li, fi))
    given: dict[int, int] = {}  # label index -> finding index
    used: set[int] = set()
    for _, li, fi in sorted(pairs):
        if li not in given and fi not in used:
            given[li] = fi
            used.add(fi)
    results = tuple(
        LabelResult(label, findings[given[li]] if li in given else None) for li, label in enumerate(case.labels)
    )
    unmatched = tuple(f for fi, f in enumerate(findings) if fi not in used)
    alarms = tuple(f for f in unmatched if any(hits(f, r, 0) for r in case.must_not_flag))
    rejected = tuple(f for f in unmatched if any(hits(f, r.region, settings.tolerance) for r in case.rejected))
    return CaseMatch(case.id, results, unmatched, alarms, rejected, changed_lines)


def _matches(label: Label, finding: Finding, settings: MatchSettings) -> bool:
    if not hits(finding, label.region, settings.tolerance):
        return False
    if not severity_at_least(finding.severity, label.min_severity):
        return False
    return not (settings.category and label.category and finding.category.lower() != label.category)


def _distance(region: Region, finding: Finding) -> int:
    lines = span(finding)
    assert lines is not None  # only located findings reach here
    if lines[1] < region.start:
        return region.start - lines[1]
    if lines[0] > region.end:
        return lines[0] - region.end
    return 0
