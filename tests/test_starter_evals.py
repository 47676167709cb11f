"""The starter evaluation set in evals/ stays usable: every case loads, records where its
code came from, labels only lines its diff changes, and the set keeps its promised breadth
(40+ defect cases across Python, JavaScript/TypeScript and Go, 10+ clean cases)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from reviewbot.diff import parse_diff
from reviewbot.eval.cases import Case, load_cases

EVALS = Path(__file__).resolve().parents[1] / "evals"


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases([EVALS])


def test_the_set_has_its_promised_breadth(cases: list[Case]) -> None:
    defects = [c for c in cases if c.labels]
    clean = [c for c in cases if not c.labels and c.must_not_flag]
    assert len(defects) >= 40 and len(clean) >= 10
    languages = Counter(c.id.split("-", 1)[0] for c in defects)
    assert languages["py"] >= 10 and languages["go"] >= 5 and languages["js"] + languages["ts"] >= 8


def test_every_case_names_its_source_and_licence(cases: list[Case]) -> None:
    for case in cases:
        assert case.source and case.source.get("repository") and case.source.get("licence"), case.id


def test_every_label_is_on_lines_its_diff_changes(cases: list[Case]) -> None:
    for case in cases:
        diff = parse_diff(case.diff)
        for label in case.labels:
            r = label.region
            f = diff.file(r.path)
            assert f is not None, (case.id, r.path)
            kind, number = ("+", "new_no") if r.side == "RIGHT" else ("-", "old_no")
            changed = {getattr(ln, number) for h in f.hunks for ln in h.lines if ln.kind == kind}
            assert set(range(r.start, r.end + 1)) <= changed, (case.id, r.path, r.start, r.end)
