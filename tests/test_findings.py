"""findings and anchor: tolerant reply parsing (golden replies in tests/replies, JSON
scanning in jsonscan), anchoring on a hand-built diff, fingerprints and severity filtering."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shareddata import missing

from reviewbot.anchor import anchor_findings, fingerprint
from reviewbot.diff import Diff, DiffLine, FileDiff, Hunk
from reviewbot.findings import (
    MAX_FINDINGS,
    MAX_REPLY_CHARS,
    Finding,
    filter_min_severity,
    parse_reply,
)
from reviewbot.vocab import severity_at_least

REPLIES = Path(__file__).parent / "replies"
SHARED_DIFFS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "diffs"


def _read_reply(path: Path) -> str:
    # Replies arrive as text decoded from HTTP; invalid bytes surface as lone surrogates.
    return path.read_bytes().decode("utf-8", "surrogateescape")


# --- golden replies ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.stem for p in REPLIES.glob("*.txt")))
def test_reply_fixture(name: str) -> None:
    expected = json.loads((REPLIES / f"{name}.expected.json").read_text())
    parsed = parse_reply(
        _read_reply(REPLIES / f"{name}.txt"),
        model="m",
        chunk_id="c001",
        finish_reason=expected.get("finish_reason"),
    )
    assert len(parsed.findings) == expected["count"]
    assert parsed.summary == expected["summary"]
    if expected["error"] is None:
        assert parsed.error is None
    else:
        assert parsed.error is not None and expected["error"] in parsed.error
    for got, want in zip(parsed.findings, expected["findings"], strict=True):
        assert {k: getattr(got, k) for k in want} == want
        assert got.model == "m" and got.chunk_id == "c001"


def test_every_fixture_has_an_expectation() -> None:
    replies = {p.stem for p in REPLIES.glob("*.txt")}
    expectations = {p.name.removesuffix(".expected.json") for p in REPLIES.glob("*.expected.json")}
    assert replies == expectations and len(replies) >= 12


def test_missing_title_uses_first_sentence_of_body() -> None:
    parsed = parse_reply('[{"body": "Leaks the file handle. Use a with block."}]')
    assert parsed.findings[0].title == "Leaks the file handle"
    assert parsed.findings[0].category == "general"


def test_suggestion_fence_written_by_the_model_is_unwrapped() -> None:
    reply = json.dumps([{"title": "t", "line": 3, "suggestion": "```suggestion\nx = 1\n```"}])
    assert parse_reply(reply).findings[0].suggestion == "x = 1"


def test_ten_thousand_findings_collapse_into_a_counted_finding() -> None:
    items = [
        {"path": "a.py", "line": i + 1, "severity": "critical" if i == 9000 else "low", "title": f"t{i}", "body": "b"}
        for i in range(10_000)
    ]
    parsed = parse_reply(json.dumps({"findings": items}))
    assert len(parsed.findings) == MAX_FINDINGS + 1
    overflow = parsed.findings[-1]
    assert overflow.title == "9,500 more findings truncated"
    assert "9,500 low" in overflow.body and overflow.path is None
    # The most severe finding is kept even though it came late in the reply.
    assert any(f.severity == "critical" and f.line == 9001 for f in parsed.findings)


def test_huge_reply_is_cut_and_says_so() -> None:
    head = '{"findings": [{"title": "kept", "body": "b", "severity": "low"}, {"title": "'
    parsed = parse_reply(head + "x" * (MAX_REPLY_CHARS + 10))
    assert [f.title for f in parsed.findings] == ["kept"]
    assert parsed.error is not None
    assert f"cut to {MAX_REPLY_CHARS:,}" in parsed.error and "truncated JSON" in parsed.error


@pytest.mark.parametrize("text", ["[" * 500_000, '{"a": ' * 150_000, "{" * 900_000, "[{" * 400_000])
def test_pathological_nesting_is_bounded(text: str) -> None:
    parsed = parse_reply(text)
    assert parsed.findings == () and parsed.error is not None


def test_truncated_without_finish_reason() -> None:
    parsed = parse_reply('{"findings": [{"title": "a", "body": "b"}, {"title": "c')
    assert parsed.error == "truncated JSON"
    assert [f.title for f in parsed.findings] == ["a"]


@given(st.text(max_size=2_000))
@settings(max_examples=300, deadline=None)
def test_parse_reply_never_raises(text: str) -> None:
    parsed = parse_reply(text, finish_reason="length")
    assert all(isinstance(f, Finding) for f in parsed.findings)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(_json_values, st.integers(min_value=0, max_value=400))
@settings(max_examples=200, deadline=None)
def test_arbitrary_json_cut_anywhere_never_raises(value: object, cut: int) -> None:
    text = json.dumps({"findings": [value, {"title": "x", "line": value}]})
    parse_reply(text[:cut])
    parse_reply(text)


_finding_dicts = st.fixed_dictionaries(
    {
        "path": st.sampled_from(["a.py", "src/b.py"]),
        "line": st.integers(min_value=1, max_value=500),
        "severity": st.sampled_from(["high", "low", "minor", "blocker"]),
        # A title that means something: "." or "the" alone is junk the parser drops on purpose.
        "title": st.from_regex(r"[A-Za-z0-9 ,.]{0,30}", fullmatch=True).map(lambda s: f"Overflow {s}"),
        "body": st.text(max_size=60),
    }
)


@given(st.lists(_finding_dicts, min_size=1, max_size=8), st.data())
@settings(max_examples=150, deadline=None)
def test_truncation_salvages_exactly_the_complete_findings(items: list[dict[str, object]], data: st.DataObject) -> None:
    head = '{"summary": "s", "findings": ['
    parts = [json.dumps(item) for item in items]
    text = head + ", ".join(parts) + "]}"
    ends, pos = [], len(head)
    for part in parts:
        pos += len(part)
        ends.append(pos)
        pos += 2
    cut = data.draw(st.integers(min_value=len(head), max_value=len(text) - 1))
    parsed = parse_reply(text[:cut], finish_reason="length")
    complete = sum(1 for end in ends if end <= cut)
    assert [f.title for f in parsed.findings] == [str(i["title"]).strip()[:200] for i in items[:complete]]
    assert parsed.error == "truncated JSON (finish_reason=length)"


# --- a hand-built diff ---------------------------------------------------------------------


def _hunk(old_start: int, new_start: int, lines: list[str], section: str = "") -> Hunk:
    """Lines as in a diff body: ' ctx', '+added', '-removed'."""
    old, new, out = old_start, new_start, []
    for raw in lines:
        kind, text = raw[0], raw[1:]
        out.append(DiffLine(kind, None if kind == "+" else old, None if kind == "-" else new, text))  # type: ignore[arg-type]
        old += kind != "+"
        new += kind != "-"
    return Hunk(old_start, old - old_start, new_start, new - new_start, section, tuple(out))


def _file(path: str, status: str, hunks: list[Hunk]) -> FileDiff:
    right = frozenset(ln.new_no for h in hunks for ln in h.lines if ln.new_no is not None)
    left = frozenset(ln.old_no for h in hunks for ln in h.lines if ln.old_no is not None)
    return FileDiff(path, None, status, tuple(hunks), right_lines=right, left_lines=left)  # type: ignore[arg-type]


# src/app.py: hunk 1 covers new lines 10-16 (added 12, 13; removed old 12), hunk 2 covers
# new lines 40-44 (added 42). Lines 20-36 are outside every hunk.
APP = _file(
    "src/app.py",
    "modified",
    [
        _hunk(
            10,
            10,
            [
                " def login(user):",
                "     db = connect()",
                "-    q = 'SELECT ' + user",
                "+    q = 'SELECT * FROM users WHERE name = ?'",
                "+    rows = db.execute(q, (user,))",
                "     return rows",
                " ",
                " # end",
            ],
        ),
        _hunk(40, 40, [" def logout():", "     pass", "+    audit('logout')", "     return None", " "]),
    ],
)
OLD = _file("old.py", "deleted", [_hunk(1, 0, ["-import os", "-print(os.name)"])])
NEW = _file("pkg/new.py", "added", [_hunk(0, 1, ["+x = 1", "+y = 2"])])
DIFF = Diff((APP, OLD, NEW))


def _f(line: int | None, **kw: object) -> Finding:
    base = Finding(
        path="src/app.py", line=line, side="RIGHT", severity="high", category="bug", title="Problem", body="Explained."
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def _anchor(*findings: Finding, chunk: tuple[str, ...] = ("src/app.py",)) -> list[Finding]:
    return anchor_findings(findings, DIFF, chunk)


def test_commentable_lines_stay_inline() -> None:
    added, context = _anchor(_f(12), _f(11))
    assert (added.placement, added.line, added.anchor_note) == ("inline", 12, None)
    assert (context.placement, context.line) == ("inline", 11)
    assert added.fingerprint == fingerprint("src/app.py", "Problem", "    q = 'SELECT * FROM users WHERE name = ?'")


def test_nearby_line_is_reanchored_with_a_note() -> None:
    (f,) = _anchor(_f(38))  # two lines above hunk 2, whose only added line is 42
    assert (f.placement, f.line) == ("inline", 42)
    assert f.anchor_note == "re-anchored from line 38 to 42"
    assert f.fingerprint == fingerprint("src/app.py", "Problem", "    audit('logout')")


def test_line_far_outside_the_diff_becomes_file_level() -> None:
    (f,) = _anchor(_f(900))
    assert (f.placement, f.path, f.line) == ("general", "src/app.py", None)
    assert f.anchor_note == "line 900 is outside the diff"
    assert f.fingerprint == fingerprint("src/app.py", "Problem", "")


def test_line_equally_near_two_hunks_is_ambiguous() -> None:
    # Hunk 1 ends at new line 16, hunk 2 starts at 40: line 28 is 12 from both.
    (f,) = _anchor(_f(28))
    assert f.placement == "general"
    assert f.anchor_note == "line 28 is outside the diff (equally near two hunks)"


def test_nearest_hunk_without_a_changed_line_in_reach_is_general() -> None:
    (f,) = _anchor(_f(21))  # nearest hunk is hunk 1 (ends at 16); its changed lines are 8+ away
    assert f.placement == "general" and f.anchor_note == "line 21 is outside the diff"


def test_start_line_in_another_hunk_is_dropped_with_a_note() -> None:
    (f,) = _anchor(_f(42, start_line=12))
    assert (f.placement, f.line, f.start_line) == ("inline", 42, None)
    assert f.anchor_note == "start_line 12 is not in the same hunk as line 42; dropped"


def test_start_line_after_line_is_dropped_and_valid_range_is_kept() -> None:
    bad, good = _anchor(_f(12, start_line=14), _f(13, start_line=11))
    assert bad.start_line is None and bad.anchor_note == "start_line 14 is not before line 12; dropped"
    assert (good.start_line, good.line, good.anchor_note) == (11, 13, None)


def test_suggestion_kept_on_right_lines_of_one_hunk() -> None:
    (f,) = _anchor(_f(13, start_line=12, suggestion="    rows = db.run(q)"))
    assert f.suggestion == "    rows = db.run(q)" and f.placement == "inline"


def test_suggestion_on_left_moves_to_body() -> None:
    (f,) = _anchor(_f(12, side="LEFT", suggestion="print('```')"))
    assert (f.placement, f.side, f.line, f.suggestion) == ("inline", "LEFT", 12, None)
    assert "Suggested change:\n````\nprint('```')\n````" in f.body
    assert f.anchor_note == "suggestion moved to the body: LEFT lines cannot take a suggestion"


def test_suggestion_on_reanchored_line_moves_to_body() -> None:
    (f,) = _anchor(_f(38, suggestion="x"))
    assert f.suggestion is None and "Suggested change:" in f.body
    assert f.anchor_note == "re-anchored from line 38 to 42; suggestion moved to the body: the cited lines changed"


def test_left_finding_on_an_added_only_number_is_reanchored_by_the_same_rules() -> None:
    # Old side of hunk 2 covers old lines 40-43; old line 45 is outside; nearest removed line: none.
    (far,) = _anchor(_f(45, side="LEFT"))
    assert far.placement == "general" and far.anchor_note == "line 45 is outside the diff"
    (near,) = _anchor(_f(9, side="LEFT"))  # old line 12 was removed: 3 lines away
    assert (near.placement, near.line, near.side) == ("inline", 12, "LEFT")
    assert near.anchor_note == "re-anchored from line 9 to 12"


def test_deleted_file_takes_left_side() -> None:
    (f,) = _anchor(_f(2, path="old.py"), chunk=("old.py",))
    assert (f.placement, f.side, f.line) == ("inline", "LEFT", 2)
    assert f.anchor_note == "side RIGHT does not exist in this deleted file; using LEFT"


def test_unknown_path_is_kept_as_pr_level_finding() -> None:
    parsed = parse_reply(_read_reply(REPLIES / "unknown_paths.txt"))
    missing, prefixed, suffix = anchor_findings(parsed.findings, DIFF, ["src/app.py"])
    assert (missing.path, missing.line, missing.placement) == (None, None, "general")
    assert missing.anchor_note == "path not in this diff: src/missing.py"
    assert missing.title == "File the diff does not have" and missing.fingerprint
    assert (prefixed.path, prefixed.placement, prefixed.line) == ("src/app.py", "inline", 12)
    assert (suffix.path, suffix.placement, suffix.line) == ("src/app.py", "inline", 12)


def test_lines_outside_diff_fixture() -> None:
    parsed = parse_reply(_read_reply(REPLIES / "lines_outside_diff.txt"))
    far, near = anchor_findings(parsed.findings, DIFF, ["src/app.py"])
    assert far.placement == "general" and far.anchor_note == "line 900 is outside the diff"
    # New line 19 is 3 past hunk 1's end (16); its nearest added line is 13, 6 away: too far.
    assert near.placement == "general"


def test_ambiguous_suffix_and_missing_path() -> None:
    diff = Diff((APP, _file("lib/app.py", "modified", [_hunk(1, 1, ["+a"])])))
    (amb,) = anchor_findings([_f(12, path="app.py")], diff, ["src/app.py", "lib/app.py"])
    assert amb.path is None and amb.anchor_note == "path 'app.py' matches 2 files in this diff"
    (chunk_first,) = anchor_findings([_f(12, path="app.py")], diff, ["src/app.py"])
    assert chunk_first.path == "src/app.py"
    (assumed,) = anchor_findings([_f(12, path=None)], diff, ["src/app.py"])
    assert assumed.path == "src/app.py" and assumed.anchor_note == "no path given; assumed src/app.py"
    (pr_level,) = anchor_findings([_f(12, path=None)], diff, ["src/app.py", "lib/app.py"])
    assert (pr_level.path, pr_level.placement, pr_level.anchor_note) == (None, "general", None)


def test_parse_notes_survive_anchoring() -> None:
    (f,) = _anchor(_f(900, anchor_note="severity 'spicy' not recognised; treated as medium"))
    assert f.anchor_note == "severity 'spicy' not recognised; treated as medium; line 900 is outside the diff"


def test_anchoring_real_diff_puts_every_changed_line_inline() -> None:
    path = SHARED_DIFFS / "small-flask-5063.diff"
    if not path.exists():
        missing("../shared/data/diffs")
    from reviewbot.diff import parse_diff

    diff = parse_diff(path.read_bytes())
    findings = [
        Finding(
            fd.path,
            ln.new_no if ln.kind == "+" else ln.old_no,
            "RIGHT" if ln.kind == "+" else "LEFT",
            "low",
            "style",
            "t",
            "b",
        )
        for fd in diff.files
        for h in fd.hunks
        for ln in h.lines
        if ln.kind != " "
    ]
    anchored = anchor_findings(findings, diff, [f.path for f in diff.files])
    assert len(anchored) == len(findings) > 50
    assert all(f.placement == "inline" and f.anchor_note is None for f in anchored)


# --- fingerprints and severity -------------------------------------------------------------


def test_fingerprint_survives_line_moves_and_title_noise() -> None:
    a = _anchor(_f(12, title="SQL injection in login()"))[0]
    moved_app = _file(
        "src/app.py", "modified", [_hunk(30, 60, [" x", "+    q = 'SELECT * FROM users WHERE name = ?'"])]
    )
    b = anchor_findings([_f(61, title="sql  Injection, in login (2)")], Diff((moved_app,)), ["src/app.py"])[0]
    assert b.line == 61 and a.line == 12
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 16
    int(a.fingerprint, 16)


def test_fingerprint_differs_across_titles_paths_and_lines() -> None:
    base = fingerprint("a.py", "SQL injection", "q = x")
    assert (
        len(
            {
                base,
                fingerprint("a.py", "Race condition", "q = x"),
                fingerprint("b.py", "SQL injection", "q = x"),
                fingerprint("a.py", "SQL injection", "q = y"),
                fingerprint(None, "SQL injection", "q = x"),
            }
        )
        == 5
    )
    assert fingerprint("a.py", "SQL injection", "  q = x  ") == base


def test_severity_threshold_and_filter_count() -> None:
    assert severity_at_least("critical", "high") and severity_at_least("high", "high")
    assert not severity_at_least("medium", "high")
    assert not severity_at_least("critical", "none")
    findings = [_f(1, severity=s) for s in ("critical", "high", "medium", "low", "info")]
    kept, below = filter_min_severity(findings, "medium")
    assert [f.severity for f in kept] == ["critical", "high", "medium"] and below == 2
    assert filter_min_severity(findings, "info") == (tuple(findings), 0)
