"""Regression tests from an attack run against reviewbot on 2026-12-04; each once failed.
What the attacker saw then:

C. Weak replies that pass as a clean review. parse_reply takes the FIRST complete JSON
value that looks like a reply; a model that first states the empty shape (a draft, the
format it was asked for, "if nothing were wrong I would answer …") and then gives its real
answer is read as `{"findings": []}` with no error: a clean review, no repair, no failover.
(The <think> variant of this was fixed in 59012b7; the same draft outside a think block is not.)"""

from __future__ import annotations

import pytest

from reviewbot.findings import parse_reply

REAL = (
    '{"findings": [{"path": "app/login.py", "line": 18, "side": "RIGHT", "severity": "critical", '
    '"category": "security", "title": "SQL built from user input", "body": "username is '
    'interpolated into the query: use a parameterised query."}]}'
)

DRAFT_THEN_ANSWER = {
    "format-then-answer": 'The reply format is {"findings": []}. Here is my review:\n\n```json\n' + REAL + "\n```",
    "if-clean-then-answer": 'If the change were fine I would answer {"findings": []}, but it is not:\n' + REAL,
    "two-fenced-blocks": '```json\n{"summary": "Adds login.", "findings": []}\n```\nWait, line 18 is injectable:\n```json\n'
    + REAL
    + "\n```",
}


@pytest.mark.parametrize("name", sorted(DRAFT_THEN_ANSWER))
def test_a_draft_before_the_answer_is_not_a_clean_review(name: str) -> None:
    parsed = parse_reply(DRAFT_THEN_ANSWER[name])
    clean = not parsed.findings and parsed.error is None
    assert not clean, f"{name}: read as a clean review; the critical finding after the draft is lost"


@pytest.mark.parametrize(
    "title,body",
    [
        ("Short sentence!", "Why, when, how to fix!"),
        ("A short sentence", "Why, when and how to fix."),
    ],
)
def test_the_prompts_example_with_punctuation_changed_is_not_a_finding(title: str, body: str) -> None:
    reply = (
        '{"findings": [{"path": "app/login.py", "line": 31, "side": "RIGHT", "severity": "high", '
        f'"category": "bug", "title": "{title}", "body": "{body}", "suggestion": "    fixed code"}}]}}'
    )
    parsed = parse_reply(reply)
    assert parsed.findings == (), f"the prompt's example came back as a finding: {[f.title for f in parsed.findings]}"
