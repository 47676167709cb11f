"""Chunker: the render format, whole hunks under a budget, split giant hunks with true
line numbers, tiers and groups kept apart, stable ids, redaction recorded per file."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from shareddata import missing

from reviewbot.chunker import (
    Chunk,
    build_chunks,
    pack,
    prepare,
    render_file_header,
    render_hunk,
)
from reviewbot.config import Tier
from reviewbot.diff import DiffLine, FileDiff, Hunk, parse_diff
from reviewbot.redact import Redactor
from reviewbot.tokens import count_tokens

DIFFS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "diffs"
LINE = re.compile(r"^(\d+)([ +-])", re.M)


def hunk(old_start: int, new_start: int, body: Sequence[str], section: str = "") -> Hunk:
    """A hunk from lines written as in a diff: "+added", "-removed", " context"."""
    lines, old, new = [], old_start, new_start
    for raw in body:
        kind, text = raw[0], raw[1:]
        if kind == "+":
            lines.append(DiffLine("+", None, new, text))
            new += 1
        elif kind == "-":
            lines.append(DiffLine("-", old, None, text))
            old += 1
        else:
            lines.append(DiffLine(" ", old, new, text))
            old, new = old + 1, new + 1
    return Hunk(old_start, old - old_start, new_start, new - new_start, section, tuple(lines))


def fdiff(path: str, *hunks: Hunk, status: str = "modified", old_path: str | None = None) -> FileDiff:
    return FileDiff(path=path, old_path=old_path, status=status, hunks=hunks)  # type: ignore[arg-type]


def big_hunk(n: int, start: int = 1) -> Hunk:
    return hunk(start, start, [f"+value_{i} = compute_something({i}, factor={i * 7})" for i in range(n)])


def cited(chunks: Sequence[Chunk]) -> list[tuple[str, int, str]]:
    """Every (side, number, kind) rendered, in order."""
    return [("L" if m[1] == "-" else "R", int(m[0]), m[1]) for c in chunks for m in LINE.findall(c.text)]


def expected(h: Hunk) -> list[tuple[str, int, str]]:
    return [
        ("L", ln.old_no, "-") if ln.kind == "-" else ("R", ln.new_no, ln.kind)  # type: ignore[misc]
        for ln in h.lines
    ]


# --- rendering ------------------------------------------------------------------------


def test_render_golden_text() -> None:
    h = hunk(
        8,
        9,
        [" import os", "-import sys", "+import subprocess", "+import shlex", " "],
        "def main():",
    )
    f = fdiff("src/app.py", h, status="renamed", old_path="src/old_app.py")
    assert render_file_header(f) == "### src/app.py (renamed from src/old_app.py)\n"
    assert render_hunk(f, h) == (
        "@@ def main():\n9 import os\n9-import sys\n10+import subprocess\n11+import shlex\n12 \n"
    )
    assert render_hunk(f, hunk(1, 1, ["+x"])) == "@@\n1+x\n"  # no section: a bare @@


def test_headers_for_each_status() -> None:
    assert render_file_header(fdiff("new.py", status="added")) == "### new.py (added)\n"
    assert render_file_header(fdiff("gone.py", status="deleted")) == "### gone.py (deleted)\n"
    copied = fdiff("b.py", status="copied", old_path="a.py")
    assert render_file_header(copied) == "### b.py (copied from a.py)\n"
    mode = FileDiff("run.sh", None, "modified", (), old_mode="100644", new_mode="100755")
    assert render_file_header(mode) == "### run.sh (mode 100644 -> 100755)\n"
    # A line break in a path must not start a fake diff line.
    assert render_file_header(fdiff("a\n1+x")) == "### a\\n1+x\n"
    # A plain modified file carries no note.
    assert render_file_header(fdiff("plain.py")) == "### plain.py\n"


def test_deleted_file_cites_left_numbers() -> None:
    h = hunk(1, 0, ["-a", "-b"])
    assert render_hunk(fdiff("x", h, status="deleted"), h) == "@@\n1-a\n2-b\n"


# --- packing -------------------------------------------------------------------------


def cheap(*files: FileDiff) -> dict[str, Tier]:
    return {f.path: "cheap" for f in files}


def test_small_files_share_a_chunk_in_diff_order() -> None:
    a, b = fdiff("b.py", hunk(1, 1, ["+x = 1"])), fdiff("a.py", hunk(1, 1, ["+y = 2"]))
    [chunk] = build_chunks([a, b], cheap(a, b), {}, {"a.py": 5, "b.py": 40}, {"cheap": 1000})
    assert chunk.id == "c001"
    assert chunk.files == ("b.py", "a.py")
    assert chunk.text == "### b.py\n@@\n1+x = 1\n### a.py\n@@\n1+y = 2\n"
    assert chunk.risk == 40
    assert chunk.tokens == count_tokens(chunk.text)


def test_whole_hunks_are_kept_together_and_budget_respected() -> None:
    hunks = [big_hunk(30, start=1 + 100 * i) for i in range(12)]
    f = fdiff("mod.py", *hunks)
    per_hunk = count_tokens(render_hunk(f, hunks[0]))
    budget = per_hunk * 3 + 40
    chunks = build_chunks([f], cheap(f), {}, {}, {"cheap": budget})
    assert len(chunks) > 3
    for c in chunks:
        assert c.tokens <= budget
        assert c.tokens == count_tokens(c.text)
        # The header repeats in every chunk the file spans, and no hunk is cut.
        assert c.text.startswith("### mod.py\n@@\n")
        assert "(part " not in c.text
    assert cited(chunks) == [x for h in hunks for x in expected(h)]


def test_giant_hunk_is_split_with_true_line_numbers() -> None:
    h = big_hunk(400, start=1000)
    h = hunk(
        990,
        990,
        [" ctx"] + [f"-old_{i} = {i}" for i in range(5)] + [f"+{ln.text}" for ln in h.lines],
        "class Big:",
    )
    f = fdiff("big.py", h)
    budget = 1000
    chunks = build_chunks([f], cheap(f), {}, {}, {"cheap": budget})
    n = len(chunks)
    assert n >= 3
    for i, c in enumerate(chunks, start=1):
        assert c.tokens <= budget
        assert c.tokens == count_tokens(c.text)
        assert c.text.startswith(f"### big.py\n@@ class Big: (part {i} of {n} of this hunk)\n")
    assert cited(chunks) == expected(h)


def test_a_single_overlong_line_is_truncated_to_fit() -> None:
    long_line = "+" + "x = [" + ", ".join(str(i) for i in range(5000)) + "]"
    f = fdiff("min.js", hunk(1, 1, [" a", long_line, " b"]))
    chunks = build_chunks([f], cheap(f), {}, {}, {"cheap": 600})
    assert all(c.tokens <= 600 and c.tokens == count_tokens(c.text) for c in chunks)
    text = "".join(c.text for c in chunks)
    assert "…[line truncated: " in text
    assert cited(chunks) == [("R", 1, " "), ("R", 2, "+"), ("R", 3, " ")]


def test_tiers_and_groups_are_never_mixed_and_ids_are_ordered() -> None:
    files = [fdiff(f"f{i}.py", hunk(1, 1, [f"+v{i} = {i}"])) for i in range(6)]
    tiers: dict[str, Tier] = {
        "f0.py": "cheap",
        "f1.py": "frontier",
        "f2.py": "cheap",
        "f3.py": "frontier",
        "f4.py": "cheap",
        "f5.py": "cheap",
    }
    groups = {"f2.py": "eu-only", "f5.py": "eu-only", "f3.py": "local"}
    chunks = build_chunks(files, tiers, groups, {}, {"cheap": 2000, "frontier": 2000})
    assert [(c.id, c.tier, c.group, c.files) for c in chunks] == [
        ("c001", "frontier", "", ("f1.py",)),
        ("c002", "frontier", "local", ("f3.py",)),
        ("c003", "cheap", "", ("f0.py", "f4.py")),
        ("c004", "cheap", "eu-only", ("f2.py", "f5.py")),
    ]
    again = build_chunks(files, tiers, groups, {}, {"cheap": 2000, "frontier": 2000})
    assert again == chunks


def test_prepare_once_pack_many_times() -> None:
    files = [fdiff(f"f{i}.py", big_hunk(20)) for i in range(4)]
    prepared = prepare(files)
    all_cheap = pack(prepared, cheap(*files), {}, {}, {"cheap": 5000, "frontier": 5000})
    one_frontier = pack(prepared, {**cheap(*files), "f2.py": "frontier"}, {}, {}, {"cheap": 5000, "frontier": 5000})
    assert [c.tier for c in one_frontier] == ["frontier", "cheap"]
    assert one_frontier[0].files == ("f2.py",)
    assert sum(c.tokens for c in all_cheap) == sum(c.tokens for c in one_frontier)
    # A file left out of the tier map (skipped by the planner) is not chunked.
    partial = pack(prepared, {"f1.py": "cheap"}, {}, {}, {"cheap": 5000})
    assert [c.files for c in partial] == [("f1.py",)]


def test_files_without_hunks_are_left_out() -> None:
    binary = FileDiff("logo.png", None, "modified", (), binary=True)
    rename = FileDiff("b.py", "a.py", "renamed")
    real = fdiff("c.py", hunk(1, 1, ["+x"]))
    chunks = build_chunks([binary, rename, real], cheap(binary, rename, real), {}, {}, {"cheap": 500})
    assert [c.files for c in chunks] == [("c.py",)]


def test_missing_budget_is_an_error() -> None:
    f = fdiff("a.py", hunk(1, 1, ["+x"]))
    with pytest.raises(ValueError, match="frontier"):
        build_chunks([f], {"a.py": "frontier"}, {}, {}, {"cheap": 500})


def test_redaction_happens_before_counting_and_is_recorded() -> None:
    token = "ghp" + "_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
    a = fdiff("ci.yml", hunk(1, 1, [f"+  token: {token}", "+  again: " + token]))
    b = fdiff("app.py", hunk(1, 1, ["+print('hi')"]))
    redactor = Redactor()
    [chunk] = build_chunks([a, b], cheap(a, b), {}, {}, {"cheap": 1000}, redactor=redactor)
    assert token not in chunk.text
    assert "1+  token: [REDACTED:github-token#1]\n" in chunk.text
    assert chunk.redactions == (("ci.yml", 2),)
    assert chunk.tokens == count_tokens(chunk.text)
    # Without a redactor (redact_secrets: false) the text is sent as is.
    [plain] = build_chunks([a], cheap(a), {}, {}, {"cheap": 1000})
    assert token in plain.text and plain.redactions == ()


def test_redaction_counts_follow_the_pieces_of_a_split_hunk() -> None:
    secret = "AKIA" + "IOSFODNN7Q4ZX2WB"
    body = [f"+line_{i} = {i}" for i in range(300)]
    body[10] = f"+key_id = '{secret}'"
    body[250] = f"+other = '{secret}'"
    f = fdiff("cfg.py", hunk(1, 1, body))
    chunks = build_chunks([f], cheap(f), {}, {}, {"cheap": 600}, redactor=Redactor())
    assert len(chunks) > 2
    assert sum(dict(c.redactions).get("cfg.py", 0) for c in chunks) == 2
    assert all(secret not in c.text for c in chunks)
    assert sum(c.text.count("[REDACTED:aws-access-key#1]") for c in chunks) == 2


@pytest.mark.parametrize("name", ["small-flask-5063", "medium-pip-10202", "large-pip-4712"])
def test_real_diffs_every_line_once_and_counts_exact(name: str) -> None:
    source = DIFFS / f"{name}.diff"
    if not source.exists():
        missing("../shared/data/diffs")
    files = parse_diff(source.read_bytes()).files
    tiers: dict[str, Tier] = {f.path: ("frontier" if i % 4 == 0 else "cheap") for i, f in enumerate(files)}
    budgets: dict[Tier, int] = {"cheap": 4000, "frontier": 2500}
    chunks = build_chunks(files, tiers, {}, {}, budgets, redactor=Redactor())
    for c in chunks:
        assert c.tokens <= budgets[c.tier]
        assert c.tokens == count_tokens(c.text)
        assert all(tiers[p] == c.tier for p in c.files)
    # Every diff line is rendered exactly once, per file, in order.
    for f in files:
        want = [x for h in f.hunks for x in expected(h)]
        got = []
        for c in chunks:
            for block in re.split(r"(?m)^### ", c.text)[1:]:  # diff lines start with a number
                if block.split("\n", 1)[0] in (f.path, render_file_header(f)[4:-1]):
                    got += cited([Chunk("x", "cheap", "", (), block, 0, 0)])
        assert got == want, f.path


def test_hunk_tiers_split_one_file_across_tiers_keeping_each_hunk_whole() -> None:
    # risk.granularity: hunk — the risky hunk goes to the frontier tier, the rest to cheap.
    risky, plain1, plain2 = hunk(10, 10, ["+db.execute(q + name)"]), hunk(40, 40, ["+x = 1"]), hunk(90, 90, ["+y = 2"])
    files = [fdiff("app/db.py", plain1, risky, plain2), fdiff("app/util.py", hunk(1, 1, ["+z = 3"]))]
    chunks = pack(
        prepare(files),
        {"app/db.py": "frontier", "app/util.py": "cheap"},
        {},
        {},
        {"cheap": 5000, "frontier": 5000},
        hunk_tiers={"app/db.py": ("cheap", "frontier", "cheap")},
    )
    assert [(c.tier, c.files) for c in chunks] == [
        ("frontier", ("app/db.py",)),
        ("cheap", ("app/db.py", "app/util.py")),
    ]
    assert [n for _, n, kind in cited(chunks[:1]) if kind == "+"] == [10]
    assert sorted(n for _, n, kind in cited(chunks[1:]) if kind == "+") == [1, 40, 90]
    # A split that does not fit the file's hunks, or names one tier only, is not a split.
    same = pack(
        prepare(files),
        {"app/db.py": "frontier", "app/util.py": "cheap"},
        {},
        {},
        {"cheap": 5000, "frontier": 5000},
        hunk_tiers={"app/db.py": ("frontier", "frontier")},
    )
    assert [c.files for c in same if c.tier == "frontier"] == [("app/db.py",)]
    assert sorted(n for _, n, kind in cited([c for c in same if c.tier == "frontier"]) if kind == "+") == [10, 40, 90]
