"""render.safe: untrusted text (model replies, paths, PR titles) into GitHub markdown, judged
by rendering the result the way GitHub does (markdown-it-py) — not by regexes over the text.
Each case is an attack that got through the old regex sanitiser."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it.token import Token
from mdcheck import assert_inert

from reviewbot.render.safe import (
    block_types,
    code_block,
    inline_code,
    one_line,
    plain,
    prose,
    unsafe_nodes,
)

ATTACKS = [
    "\\`@octocat please look `",  # an escaped backtick is a literal: the mention was live
    "`code\n\n@octocat`",  # a blank line ends a code span
    "`code\n# @octocat`",  # so does a heading line
    "\\`<img src=x onerror=alert(1)>`",
    "!![x](https://evil.test/p.png)",  # a single-pass "![" replace left "![x](…)"
    "docs/x\n# @octocat hi.md",  # a path with a newline
    "cc @github/security-team",
    "&#64;octocat and &commat;octocat",  # entities decode to "@"
    '<!-- reviewbot:summary {"head": "forged"} -->',
    "<!--\nreviewbot:fp:abc -->",
    "<details><summary>x</summary>@octocat</details>",
    "```\nunclosed fence @octocat",
    "[x]: javascript:alert(1)\n[click][x]",
    "[click](javascript:alert(1))",
    "<https://evil.test> <mailto:a@b.c>",
    "- item @bob\n1. two\n# heading @h\n> quote @q",
    "| a | @b |\n|---|---|\n| c | ![i](j) |",
    "text\n===\n@after",
    "    indented code @x",
    "<img\nsrc=x>",
    "~~~\n@x\n~~~\n@y",
    "bidi \u202e@octocat\u202c",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_no_attack_survives_in_prose_one_line_or_a_list_item(text: str) -> None:
    assert unsafe_nodes(prose(text)) == []
    assert unsafe_nodes(one_line(text)) == []
    item = f"- **high** — {one_line(text)} — {inline_code(text)}"
    assert unsafe_nodes(item) == []
    assert block_types(item) == ["bullet_list_open"]  # no heading or list break-out
    assert "<!-- reviewbot" not in prose(text) + one_line(text)


def test_the_judge_sees_what_github_would_render() -> None:
    assert unsafe_nodes("\\`@octocat") == ["mention: @octocat"]
    assert unsafe_nodes("@org/team") == ["mention: @org/team"]
    assert unsafe_nodes("&#64;octocat") == ["mention: @octocat"]
    assert unsafe_nodes("`@octocat` and\n\n```\n@octocat\n```") == []
    assert [p.split(":")[0] for p in unsafe_nodes("![a](b) <img> <!-- x -->")] == ["image", "html", "html"]


def test_paths_are_shown_exactly_in_a_code_span() -> None:
    assert inline_code("docs/x\n# @octocat hi.md") == "`docs/x\\n# @octocat hi.md`"
    assert inline_code("a`b``c") == "```a`b``c```"
    assert inline_code("`edge`") == "`` `edge` ``"
    assert inline_code("a|b", in_table=True) == "`a\\|b`"
    assert inline_code("") == '`""`'
    for path in ("x`", "``y", "a\tb\x1bc", "e\u202ef"):
        tokens = [t for t in _inline_tokens(inline_code(path)) if t.type != "softbreak"]
        assert [t.type for t in tokens] == ["code_inline"], path


def test_ordinary_text_stays_readable() -> None:
    sentence = "The loop never ends when items is empty, so the request hangs; return early."
    assert prose(sentence) == sentence and one_line(sentence) == sentence
    assert prose("Use `x = 1` here, **not** there.") == "Use `x = 1` here, **not** there."
    assert prose("Fix:\n\n```python\nx = 1\n```") == "Fix:\n\n```python\nx = 1\n```"


def test_code_blocks_cannot_be_closed_from_inside_and_markers_are_broken() -> None:
    block = code_block("a ```\n```\n<!-- reviewbot:fp:1 -->")
    assert block.startswith("````\n") and block.endswith("\n````")
    assert "<!-- reviewbot:" not in block


def test_terminal_text_loses_escape_sequences_and_bidi_controls() -> None:
    assert plain("red\x1b[31m \x9b2J x\u202ey\r") == "red[31m 2J xy"


def test_a_long_body_is_bounded() -> None:
    assert len(prose("word " * 10_000, max_chars=1_000)) < 1_200


_TOKENS = [
    *"ab @<>/`~\n!()[]|*_-#&;:.=+ \t",
    "img",
    "```",
    "~~~",
    "<script>",
    "@octocat",
    "@org/team",
    "</details>",
    "<!--",
    "-->",
    "reviewbot:",
    "&#64;",
    "![",
    "](http://x)",
    "1. ",
    "    ",
]
_nasty = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)


@given(_nasty)
@settings(max_examples=400, deadline=None)
def test_nothing_untrusted_is_ever_live(text: str) -> None:
    assert unsafe_nodes(prose(text)) == []
    line = f"- {one_line(text)} {inline_code(text)}"
    assert unsafe_nodes(line) == []
    assert block_types(line) == ["bullet_list_open"]
    assert not re.search(r"<!--\s*reviewbot", prose(text) + one_line(text))


@given(st.text(max_size=40))
@settings(max_examples=300, deadline=None)
def test_inline_code_is_one_code_span(text: str) -> None:
    tokens = _inline_tokens("x " + inline_code(text))
    assert [t.type for t in tokens] == ["text", "code_inline"]


def _inline_tokens(markdown: str) -> list[Token]:
    from reviewbot.render.safe import _parser

    blocks = _parser().parse(markdown)
    return [c for b in blocks if b.type == "inline" for c in (b.children or [])]


def test_everything_in_a_hostile_markdown_report_is_inert() -> None:
    from dataclasses import replace

    from test_reporters import REPORT, _finding

    from reviewbot.render import render_markdown

    findings = tuple(_finding(title=a, body=a, category=a[:30], path=f"src/{a[:20]}.py") for a in ATTACKS)
    md = render_markdown(replace(REPORT, findings=findings, overview=ATTACKS[0], notes=tuple(ATTACKS)))
    assert_inert(md, max_markers=0)
