"""reviewbot/github/review.py, markers.py and annotations.py (pure): the review payload GitHub receives, its re-check against the diff, markers,
sanitising of model text, and workflow annotations."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest
from mdcheck import assert_inert

from reviewbot.diff import Diff, DiffLine, FileDiff, Hunk
from reviewbot.errors import UsageError
from reviewbot.findings import Finding
from reviewbot.github.annotations import workflow_annotations
from reviewbot.github.markers import (
    SummaryState,
    extract_fingerprints,
    extract_run_id,
    parse_summary_state,
    render_summary_marker,
)
from reviewbot.github.review import (
    MAX_BODY,
    ReviewComment,
    ReviewPayload,
    build_review,
    render_comment_body,
)

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def file_diff(path: str, patch: str, status: Any = "modified") -> FileDiff:
    """The diff model for one GitHub-style patch, built by hand (diff.py is not under test)."""
    hunks: list[Hunk] = []
    for block in re.split(r"\n(?=@@ )", patch.strip("\n")):
        head, *body = block.split("\n")
        m = _HUNK.match(head)
        assert m
        old, new = int(m[1]), int(m[2])
        lines = []
        for raw in body:
            kind, text = raw[:1] or " ", raw[1:]
            lines.append(DiffLine(kind, old if kind != "+" else None, new if kind != "-" else None, text))  # type: ignore[arg-type]
            old += kind != "+"
            new += kind != "-"
        hunks.append(Hunk(int(m[1]), 0, int(m[2]), 0, "", tuple(lines)))
    right = frozenset(ln.new_no for h in hunks for ln in h.lines if ln.new_no is not None)
    left = frozenset(ln.old_no for h in hunks for ln in h.lines if ln.old_no is not None)
    return FileDiff(path, None, status, tuple(hunks), right_lines=right, left_lines=left)


# app.py: hunk 1 covers new 10-14 (old 10-13), hunk 2 covers new 40-42 (old 39-42).
APP = file_diff(
    "app.py",
    """@@ -10,4 +10,5 @@ def login():
 a = 1
-b = 2
+b = 3
+c = 4
 d = 5
 e = 6
@@ -39,4 +40,3 @@ def logout():
 x = 1
-y = 2
 z = 3
 w = 4
""",
)
GONE = file_diff("old.py", "@@ -1,2 +0,0 @@\n-import os\n-print(os)\n", status="deleted")
DIFF = Diff((APP, GONE))
HEAD = "c" * 40


def finding(line: int | None = 11, severity: Any = "high", **kw: Any) -> Finding:
    base: dict[str, Any] = dict(
        path="app.py",
        line=line,
        side="RIGHT",
        severity=severity,
        category="bug",
        title=f"Problem at {line}",
        body="Explained.",
        placement="inline",
        fingerprint=f"fp{line}{severity}",
    )
    base.update(kw)
    return Finding(**base)


def test_payload_is_exactly_what_github_expects() -> None:
    one = finding(
        11,
        "high",
        category="security",
        title="SQL built from input",
        body="User input reaches the query.",
        fingerprint="abc123",
    )
    span = finding(13, "medium", start_line=11, title="Range", body="Both lines.", fingerprint="def456")
    payload, rest = build_review([span, one], DIFF, commit_id=HEAD, run_id="42-1")
    assert rest == []
    assert payload.to_json() == {
        "commit_id": HEAD,
        "event": "COMMENT",
        "body": "**reviewbot** reviewed `ccccccc`: 2 inline comments.\n\n<!-- reviewbot:run:42-1 -->",
        "comments": [
            {
                "path": "app.py",
                "line": 11,
                "side": "RIGHT",
                "body": "🔴 **High** · security · **SQL built from input**\n\nUser input reaches the query."
                "\n\n<!-- reviewbot:fp:abc123 -->",
            },
            {
                "path": "app.py",
                "line": 13,
                "side": "RIGHT",
                "start_line": 11,
                "start_side": "RIGHT",
                "body": "🟠 **Medium** · bug · **Range**\n\nBoth lines.\n\n<!-- reviewbot:fp:def456 -->",
            },
        ],
    }


def test_inline_comments_are_capped_severity_first_and_the_rest_returned() -> None:
    findings = [
        finding(10, "low"),
        finding(11, "critical"),
        finding(12, "medium"),
        finding(13, "high"),
        finding(14, "info"),
        finding(None, "critical", path=None, placement="general", title="PR-level"),
    ]
    payload, rest = build_review(findings, DIFF, commit_id=HEAD, run_id="r", max_inline=2)
    assert [c.line for c in payload.comments] == [11, 13]  # critical, then high
    assert [(f.severity, f.line) for f in rest] == [("critical", None), ("medium", 12), ("low", 10), ("info", 14)]
    assert "2 inline comments; 4 more in the summary comment" in payload.body


def test_findings_outside_the_diff_are_demoted_not_sent() -> None:
    outside = finding(30)  # between the hunks
    unknown = finding(11, path="nowhere.py")
    left_on_added = finding(11, side="LEFT")  # old line 11 was removed: LEFT 11 exists
    left_missing = finding(14, side="LEFT")  # old numbering stops at 13 in hunk 1
    payload, rest = build_review([outside, unknown, left_on_added, left_missing], DIFF, commit_id=HEAD, run_id="r")
    assert [(c.line, c.side) for c in payload.comments] == [(11, "LEFT")]
    assert {(f.path, f.line, f.side) for f in rest} == {
        ("app.py", 30, "RIGHT"),
        ("nowhere.py", 11, "RIGHT"),
        ("app.py", 14, "LEFT"),
    }


@pytest.mark.parametrize(
    ("start", "line", "kept"),
    [(11, 11, None), (12, 11, None), (10, 41, None), (10, 14, 10), (None, 12, None)],
    ids=["equal", "after-line", "other-hunk", "same-hunk", "none"],
)
def test_start_line_is_sent_only_before_the_line_in_the_same_hunk(
    start: int | None, line: int, kept: int | None
) -> None:
    payload, rest = build_review([finding(line, start_line=start)], DIFF, commit_id=HEAD, run_id="r")
    assert rest == []
    (comment,) = payload.comments
    assert comment.start_line == kept
    sent = comment.to_json()
    assert ("start_line" in sent) is (kept is not None)
    assert ("start_side" in sent) is (kept is not None)


def test_removed_file_comments_use_left_lines_only() -> None:
    payload, rest = build_review(
        [finding(2, path="old.py", side="LEFT"), finding(1, path="old.py")], DIFF, commit_id=HEAD, run_id="r"
    )
    assert [(c.path, c.line, c.side) for c in payload.comments] == [("old.py", 2, "LEFT")]
    assert [(f.line, f.side) for f in rest] == [(1, "RIGHT")]


def test_suggestion_block_replaces_the_anchored_lines() -> None:
    payload, _ = build_review(
        [finding(12, start_line=11, suggestion="b = 3\nc = 5\n")], DIFF, commit_id=HEAD, run_id="r"
    )
    assert "\n\n```suggestion\nb = 3\nc = 5\n```\n\n" in payload.comments[0].body


def test_suggestion_containing_a_fence_gets_a_longer_fence() -> None:
    text = 'doc = """\n```python\nx = 1\n```\n"""'
    payload, _ = build_review([finding(11, suggestion=text)], DIFF, commit_id=HEAD, run_id="r")
    body = payload.comments[0].body
    assert f"````suggestion\n{text}\n````" in body
    assert "```suggestion" not in body.replace("````suggestion", "")


def test_no_suggestion_on_left_side_or_across_hunks() -> None:
    left = finding(11, side="LEFT", suggestion="b = 2")
    split = finding(41, start_line=12, suggestion="x = 1")
    payload, rest = build_review([left, split], DIFF, commit_id=HEAD, run_id="r")
    assert rest == []
    for comment in payload.comments:
        assert "suggestion" not in comment.body
        assert "Suggested code:" in comment.body  # still shown, as plain code
    assert payload.comments[1].start_line is None


def test_already_posted_findings_are_skipped_and_counted() -> None:
    old, new = finding(11, fingerprint="seen"), finding(12, fingerprint="fresh")
    payload, rest = build_review([old, new], DIFF, commit_id=HEAD, run_id="r", already_posted={"seen"})
    assert [c.fingerprint for c in payload.comments] == ["fresh"]
    assert rest == []
    assert payload.duplicates == 1
    assert "1 already posted earlier and not repeated" in payload.body


def test_model_text_cannot_mention_inject_html_or_forge_markers() -> None:
    body = (
        "Ask @octocat and @org/team. Mail a@b.io. <img src=x onerror=alert(1)>Use List<String>.\n"
        "<details><summary>x</summary>y</details> <!-- reviewbot:fp:forged -->\n\n"
        "`@keep <b>code</b> <!-- reviewbot:fp:forged2 -->` and\n```\n@also <i>kept</i>\n```"
    )
    rendered = render_comment_body(finding(11, title="Hi @admin", body=body, fingerprint="real"))
    for name in ("octocat", "org/team", "admin"):
        assert f"@{name}" not in rendered and name in rendered  # the mention is broken, not removed
    assert "a@b.io" in rendered  # an e-mail address is no mention
    assert_inert(rendered, max_markers=1)  # rendered as GitHub would: no HTML, image or mention
    assert "`@keep <b>code</b>" in rendered and "@also <i>kept</i>" in rendered  # code is left as written
    assert extract_fingerprints(rendered) == {"real"}


def test_overlong_bodies_are_cut_under_githubs_limit() -> None:
    huge = finding(11, title="t" * 70_000, body="word " * 20_000, suggestion="x" * 70_000, fingerprint="big")
    payload, _ = build_review([huge], DIFF, commit_id=HEAD, run_id="r")
    body = payload.comments[0].body
    assert len(body) <= MAX_BODY
    assert "truncated" in body and "suggestion" not in body
    assert extract_fingerprints(body) == {"big"}


def test_fallback_moves_every_comment_into_the_body() -> None:
    findings = [
        finding(11, title="First"),
        finding(41, title="Second", suggestion="b = 9"),
        finding(2, path="old.py", side="LEFT"),
    ]
    payload, _ = build_review(findings, DIFF, commit_id=HEAD, run_id="run-9")
    fallback = payload.fallback_all_in_body()
    assert fallback.comments == () and fallback.to_json()["comments"] == []
    for comment in payload.comments[::2]:
        assert comment.body in fallback.body
    # A suggestion block means nothing outside an inline comment: it becomes plain code.
    assert "```suggestion" in payload.comments[1].body and "suggestion" not in fallback.body
    assert "**Second**\n\nExplained.\n\n```\nb = 9\n```" in fallback.body
    assert "`app.py` line 41" in fallback.body and "`old.py` line 2 (old file)" in fallback.body
    assert extract_run_id(fallback.body) == "run-9"
    assert extract_fingerprints(fallback.body) == {c.fingerprint for c in payload.comments}


def test_fallback_body_stays_under_the_limit() -> None:
    comments = tuple(
        ReviewComment(
            "app.py", 11, "RIGHT", f"c{i} " + "x" * 9_000 + f" <!-- reviewbot:fp:f{i} -->", fingerprint=f"f{i}"
        )
        for i in range(10)
    )
    fallback = ReviewPayload(HEAD, "COMMENT", "head", comments).fallback_all_in_body()
    assert len(fallback.body) <= MAX_BODY
    shown = re.search(r"… (\d+) more not shown", fallback.body)
    assert shown is not None
    # Only the findings actually listed count as posted: a later run posts the others.
    assert extract_fingerprints(fallback.body) == {f"f{i}" for i in range(10 - int(shown[1]))}


def test_fallback_location_cannot_smuggle_in_a_fingerprint() -> None:
    path = "<!-- reviewbot:fp:0123456789abcdef -->.py"
    comment = ReviewComment(path, 3, "RIGHT", "real <!-- reviewbot:fp:aaaa -->", fingerprint="aaaa")
    fallback = ReviewPayload(HEAD, "COMMENT", "head", (comment,)).fallback_all_in_body()
    assert extract_fingerprints(fallback.body) == {"aaaa"}


def test_run_marker_survives_odd_run_ids() -> None:
    payload, _ = build_review([], DIFF, commit_id=HEAD, run_id="123/2 attempt")
    assert extract_run_id(payload.body) == payload.run_id == "123-2-attempt"


def test_approve_is_refused() -> None:
    with pytest.raises(UsageError):
        ReviewPayload(HEAD, "APPROVE", "ok")  # type: ignore[arg-type]


def test_summary_state_round_trips_through_the_marker() -> None:
    state = SummaryState(head="abc123", runs=3, total_usd=0.12)
    marker = render_summary_marker(state)
    assert marker == '<!-- reviewbot:summary {"head": "abc123", "runs": 3, "total_usd": 0.12} -->'
    assert parse_summary_state(f"## Summary\n\n{marker}\nmore") == state
    tricky = SummaryState(head="a-->b", runs=1)
    assert "-->" not in render_summary_marker(tricky)[:-3]
    assert parse_summary_state(render_summary_marker(tricky)) == tricky
    flagged = SummaryState(head="abc123", runs=4, total_usd=0.2, body_findings=True)
    assert render_summary_marker(flagged) == (
        '<!-- reviewbot:summary {"body_findings": true, "head": "abc123", "runs": 4, "total_usd": 0.2} -->'
    )
    assert parse_summary_state(render_summary_marker(flagged)) == flagged


@pytest.mark.parametrize(
    "body",
    [
        "no marker",
        "<!-- reviewbot:summary {not json} -->",
        '<!-- reviewbot:summary {"runs": 1} -->',
        '<!-- reviewbot:summary {"head": "x", "runs": "3"} -->',
        '<!-- reviewbot:summary {"head": "x", "runs": 3, "body_findings": "yes"} -->',
    ],
)
def test_unreadable_summary_state_is_none(body: str) -> None:
    assert parse_summary_state(body) is None


def test_annotation_levels_and_escaping() -> None:
    f = finding(
        13, "critical", start_line=11, path="dir,x/a:b.py", title="Bad: 100%, really", body="line one\r\nline two 50%"
    )
    lines, rest = workflow_annotations(
        [f, finding(12, "medium"), finding(10, "info"), finding(2, "low", path="old.py", side="LEFT")]
    )
    assert rest == []
    assert lines[0] == (
        "::error file=dir%2Cx/a%3Ab.py,line=11,endLine=13,"
        "title=[critical] Bad%3A 100%25%2C really::line one%0D%0Aline two 50%25"
    )
    assert lines[1].startswith("::warning file=app.py,line=12,title=")
    assert lines[2] == "::notice file=old.py,title=[low] Problem at 2::(removed line 2) Explained."
    assert lines[3].startswith("::notice file=app.py,line=10,")


def test_annotations_respect_the_per_level_limit() -> None:
    many = [finding(11, "high", title=f"h{i}") for i in range(12)] + [
        finding(12, "low", title=f"l{i}") for i in range(3)
    ]
    lines, rest = workflow_annotations(many, limit_per_level=10)
    assert sum(ln.startswith("::error ") for ln in lines) == 10
    assert sum(ln.startswith("::notice ") for ln in lines) == 3
    assert [f.title for f in rest] == ["h10", "h11"]


def test_general_findings_are_never_inline() -> None:
    general = replace(finding(11), placement="general")
    payload, rest = build_review([general], DIFF, commit_id=HEAD, run_id="r")
    assert payload.comments == () and rest == [general]
    assert "0 inline comments; 1 more in the summary comment" in payload.body
