"""The diff model: golden cases (real tricky diffs and our examples, expected JSON under
tests/golden/), real PR diffs cross-checked against unidiff and their sidecar counts, the
files-API path, hostile input, a property test and a speed bound.

Regenerate golden files with REVIEWBOT_UPDATE_GOLDEN=1, then read the diff of the JSON."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
import unidiff
from hypothesis import given, settings
from hypothesis import strategies as st
from shareddata import missing

from reviewbot.diff import (
    MAX_LINE_CHARS,
    Diff,
    DiffError,
    FileDiff,
    diff_from_patches,
    parse_diff,
)

ROOT = Path(__file__).resolve().parents[1]
DIFFS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "diffs"
TRICKY = DIFFS / "tricky"
GOLDEN = Path(__file__).resolve().parent / "golden"
EXAMPLES = ROOT / "examples"

TRICKY_CASES = [
    "binary_changed",
    "binary_patch",
    "crlf_line_endings",
    "deleted_file",
    "mode_change_only",
    "new_empty_file",
    "no_newline_at_eof",
    "non_ascii_path",
    "non_ascii_path_empty_files",
    "non_utf8_latin1",
    "path_with_spaces",
    "pure_rename",
    "rename_with_edits",
    "submodule_pointer_change",
]
EXAMPLE_CASES = ["login-sql", "refactor", "mixed-pr"]


def shared(name: str) -> bytes:
    path = DIFFS / name
    if not path.is_file():
        missing(str(path))
    return path.read_bytes()


def tricky(case: str) -> Diff:
    return parse_diff(shared(f"tricky/{case}.diff"))


def model_json(diff: Diff) -> dict[str, Any]:
    """A stable, readable JSON form of the model: one list per line [kind, old, new, text]."""
    return {
        "files": [
            {
                "path": f.path,
                "old_path": f.old_path,
                "status": f.status,
                "binary": f.binary,
                "submodule": f.submodule,
                "old_mode": f.old_mode,
                "new_mode": f.new_mode,
                "patch_missing": f.patch_missing,
                "additions": f.additions,
                "deletions": f.deletions,
                "right_lines": sorted(f.right_lines),
                "left_lines": sorted(f.left_lines),
                "hunks": [
                    {
                        "header": [h.old_start, h.old_len, h.new_start, h.new_len],
                        "section": h.section,
                        "lines": [[ln.kind, ln.old_no, ln.new_no, ln.text] for ln in h.lines],
                    }
                    for h in f.hunks
                ],
            }
            for f in diff.files
        ]
    }


def compact_json(obj: object, indent: str = "") -> str:
    """JSON with one diff line per text line, so a golden file can be read against its diff.
    ASCII-only, so an invisible U+200E or a U+FFFD shows up as an escape."""
    inner = indent + "  "
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {compact_json(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" if items else "{}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + compact_json(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj)


def check_golden(name: str, diff: Diff) -> None:
    path = GOLDEN / f"{name}.json"
    actual = model_json(diff)
    if os.environ.get("REVIEWBOT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(compact_json(actual) + "\n", encoding="utf-8")
    if not path.is_file():
        pytest.fail(f"no golden file {path}; run with REVIEWBOT_UPDATE_GOLDEN=1 and review it")
    assert actual == json.loads(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------- golden


@pytest.mark.parametrize("case", TRICKY_CASES)
def test_tricky_case_matches_golden(case: str) -> None:
    check_golden(f"tricky/{case}", tricky(case))


@pytest.mark.parametrize("name", EXAMPLE_CASES)
def test_example_matches_golden(name: str) -> None:
    check_golden(f"examples/{name}", parse_diff((EXAMPLES / f"{name}.diff").read_bytes()))


def test_golden_files_serialise_as_utf8_json() -> None:
    # Every golden file is valid UTF-8 JSON: the model never holds undecodable text.
    for path in GOLDEN.rglob("*.json"):
        json.loads(path.read_bytes().decode("utf-8"))


# ---------------------------------------------------------------------------- tricky cases


def test_crlf_text_has_no_carriage_return_and_keeps_numbers() -> None:
    (f,) = tricky("crlf_line_endings").files
    lines = [ln for h in f.hunks for ln in h.lines]
    assert lines and not any(ln.text.endswith("\r") for ln in lines)
    assert (lines[0].old_no, lines[0].new_no, lines[0].text) == (
        72,
        72,
        "      pip install -U --user tox",
    )
    assert [ln.text for ln in lines if ln.kind == "+"] == [
        "  # don't fail the build if this doesn't work!",
        "      tox --ignore-outcome=true",
    ]
    assert f.right_lines == frozenset(range(72, 79))
    assert f.left_lines == frozenset(range(72, 79))


def test_latin1_bytes_become_replacement_characters() -> None:
    diff = tricky("non_utf8_latin1")
    (f,) = diff.files
    removed = next(ln for h in f.hunks for ln in h.lines if ln.kind == "-")
    assert removed.text == '      author="Sa\ufffdl Ibarra Corretg\ufffd",'
    assert removed.old_no == 6
    json.dumps(model_json(diff), ensure_ascii=False).encode("utf-8")  # must not raise


def test_quoted_non_ascii_path_is_decoded() -> None:
    (f,) = tricky("non_ascii_path").files
    assert f.path == "changelog/14302.deprecation.rst\u200e"
    assert f.status == "modified" and f.old_path is None
    assert (f.additions, f.deletions) == (1, 1)


def test_quoted_paths_of_empty_files_come_from_the_git_line() -> None:
    files = tricky("non_ascii_path_empty_files").files
    assert [f.path for f in files] == [
        "tests/data/src/unicode_files/setup.py",
        "tests/data/src/unicode_files/வணக்கம்/__init__.py",
        "tests/data/src/unicode_files/வணக்கம்/નમસ્તે.py",
    ]
    assert [f.status for f in files] == ["added"] * 3
    assert files[0].additions == 8 and files[0].right_lines == frozenset(range(1, 9))
    assert files[0].hunks[0].lines[3].text == '    name="வணக்கம்",'
    assert files[1].hunks == () and files[2].hunks == ()
    assert files[1].new_mode == "100644" and files[1].old_mode is None


def test_no_newline_marker_is_not_a_line() -> None:
    (f,) = tricky("no_newline_at_eof").files
    (hunk,) = f.hunks
    assert [(ln.kind, ln.old_no, ln.new_no, ln.text) for ln in hunk.lines] == [
        ("-", 1, None, "from minitwit import app"),
        ("+", None, 1, "from .minitwit import app"),
    ]


def test_path_with_spaces_drops_the_trailing_tab() -> None:
    (f,) = tricky("path_with_spaces").files
    assert f.path == "tests/indexes/in dex/simple/index.html"
    assert f.status == "added"
    assert f.right_lines == frozenset(range(1, 6)) and f.left_lines == frozenset()


def test_new_empty_file_path_comes_from_the_git_line() -> None:
    (f,) = tricky("new_empty_file").files
    assert f.path == "news/B7D1519B-CB5F-409D-835C-CF7A14DD9A92.trivial"
    assert (f.status, f.hunks, f.new_mode, f.old_mode) == ("added", (), "100644", None)


def test_combined_merge_diff_is_refused() -> None:
    with pytest.raises(DiffError) as info:
        parse_diff(shared("tricky/merge_combined_diff.diff"))
    assert "diff --cc" in info.value.message and "\n" not in info.value.message
    assert info.value.hint and "git diff" in info.value.hint
    assert info.value.exit_code == 2


def test_combined_hunk_inside_a_git_block_is_refused() -> None:
    text = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@@ -1,1 -1,1 +1,1 @@@\n- a\n+ b\n"
    with pytest.raises(DiffError, match="combined merge diff"):
        parse_diff(text)


def test_pure_rename() -> None:
    (f,) = tricky("pure_rename").files
    assert (f.path, f.old_path, f.status, f.hunks) == (
        "requests/_config.py",
        "requests/config.py",
        "renamed",
        (),
    )
    assert f.right_lines == frozenset() and f.left_lines == frozenset()


def test_rename_with_edits_numbers_both_sides() -> None:
    (f,) = tricky("rename_with_edits").files
    assert (f.path, f.old_path, f.status) == (
        "requests/sessions.py",
        "requests/session.py",
        "renamed",
    )
    (hunk,) = f.hunks
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (23, 22, 23, 25)
    assert hunk.section == "class Session(object):"
    assert f.right_lines == frozenset(range(23, 48)) and f.left_lines == frozenset(range(23, 45))
    added = [ln for ln in hunk.lines if ln.kind == "+"]
    assert (added[1].new_no, added[1].text) == (27, "    def __repr__(self):")


def test_mode_change_only() -> None:
    files = tricky("mode_change_only").files
    assert [(f.path, f.status, f.old_mode, f.new_mode, f.hunks) for f in files] == [
        ("contrib/build-installer", "mode_changed", "100644", "100755", ()),
        ("contrib/build-standalone", "mode_changed", "100644", "100755", ()),
    ]


def test_deleted_file_has_only_left_lines() -> None:
    (f,) = tricky("deleted_file").files
    assert (f.path, f.status, f.old_mode) == ("run-tests.py", "deleted", "100644")
    assert f.left_lines == frozenset(range(1, 6)) and f.right_lines == frozenset()
    assert f.deletions == 5 and f.additions == 0


def test_submodule_is_flagged_and_its_neighbour_is_not() -> None:
    sub, rst = tricky("submodule_pointer_change").files
    assert (sub.path, sub.submodule, sub.old_mode, sub.new_mode) == (
        "docs/_themes",
        True,
        "160000",
        "160000",
    )
    assert (rst.path, rst.submodule) == ("docs/htmlfaq.rst", False)
    assert rst.right_lines == frozenset(range(186, 193))


@pytest.mark.parametrize("case", ["binary_changed", "binary_patch"])
def test_binary_changes_have_no_hunks(case: str) -> None:
    (f,) = tricky(case).files
    assert (f.path, f.status, f.binary, f.hunks) == (
        "tests/packages/parent-0.1.tar.gz",
        "modified",
        True,
        (),
    )


def test_binary_patch_followed_by_a_text_file() -> None:
    text = shared("tricky/binary_patch.diff") + shared("tricky/deleted_file.diff")
    files = parse_diff(text).files
    assert [(f.path, f.binary, f.deletions) for f in files] == [
        ("tests/packages/parent-0.1.tar.gz", True, 0),
        ("run-tests.py", False, 5),
    ]


# ---------------------------------------------------------------------------- real PR diffs


@pytest.mark.parametrize("name", ["small-flask-5063", "medium-pip-10202", "large-pip-4712"])
def test_real_diff_agrees_with_unidiff_and_sidecar(name: str) -> None:
    raw = shared(f"{name}.diff")
    meta = json.loads(shared(f"{name}.json"))
    diff = parse_diff(raw)
    oracle = unidiff.PatchSet(raw.decode("utf-8").splitlines(keepends=True))  # type: ignore[attr-defined]
    assert len(diff.files) == len(oracle) == meta["files"]
    for ours, theirs in zip(diff.files, oracle, strict=True):
        assert ours.path == theirs.path
        assert (ours.additions, ours.deletions, len(ours.hunks)) == (
            theirs.added,
            theirs.removed,
            len(theirs),
        )
    assert sum(f.additions for f in diff.files) == meta["additions"]
    assert sum(f.deletions for f in diff.files) == meta["deletions"]
    # The sidecar uses GitHub's word "removed" for what the model calls "deleted".
    counts: dict[str, int] = {}
    for f in diff.files:
        key = "removed" if f.status == "deleted" else f.status
        counts[key] = counts.get(key, 0) + 1
    assert counts == meta["file_status_counts"]


def test_diff_text_inside_a_hunk_does_not_split_the_file() -> None:
    diff = parse_diff(shared("medium-pip-10202.diff"))
    patch = diff.file("tools/vendoring/patches/appdirs.patch")
    assert patch is not None and patch.status == "deleted" and patch.deletions == 115
    texts = [ln.text for h in patch.hunks for ln in h.lines]
    assert any(t.startswith("diff --git") for t in texts)
    assert any(t.startswith("@@ ") for t in texts)


def test_large_diff_hunkless_renames() -> None:
    diff = parse_diff(shared("large-pip-4712.diff"))
    renames = [f for f in diff.files if f.status == "renamed"]
    assert len(renames) == 84
    assert sum(1 for f in renames if not f.hunks) == 69
    assert all(f.old_path and f.old_path != f.path for f in renames)


# ---------------------------------------------------------------------------- files API


def test_files_api_model_matches_the_diff() -> None:
    diff = parse_diff(shared("medium-pip-10202.diff"))
    items = json.loads(shared("medium-pip-10202.files.json"))
    api = diff_from_patches(items)
    assert [f.path for f in api.files] == [f.path for f in diff.files]
    for a, d in zip(api.files, diff.files, strict=True):
        assert (a.path, a.old_path, a.status, a.binary, a.submodule) == (
            d.path,
            d.old_path,
            d.status,
            d.binary,
            d.submodule,
        )
        assert a.hunks == d.hunks, a.path
        assert (a.right_lines, a.left_lines) == (d.right_lines, d.left_lines), a.path
        assert not a.patch_missing
        assert (a.old_mode, a.new_mode) == (None, None)  # the files API has no modes
    empty = api.file("src/pip/_vendor/platformdirs/py.typed")
    assert empty is not None and empty.status == "added" and empty.hunks == ()


def _item(**kw: object) -> dict[str, object]:
    return {
        "filename": "src/app.py",
        "status": "modified",
        "additions": 1,
        "deletions": 1,
        "changes": 2,
        **kw,
    }


def test_files_api_missing_patch_is_flagged() -> None:
    (f,) = diff_from_patches([_item(filename="big.sql", additions=30000, changes=30000)]).files
    assert (f.patch_missing, f.binary, f.hunks, f.right_lines) == (True, False, (), frozenset())


@pytest.mark.parametrize(
    ("status", "counts", "model_status"),
    [
        ("added", {"additions": 0, "deletions": 0, "changes": 0}, "added"),
        (
            "renamed",
            {"additions": 0, "deletions": 0, "changes": 0, "previous_filename": "old.py"},
            "renamed",
        ),
        ("changed", {"additions": 0, "deletions": 0, "changes": 0}, "mode_changed"),
    ],
)
def test_files_api_nothing_to_show_is_not_missing(status: str, counts: dict[str, object], model_status: str) -> None:
    (f,) = diff_from_patches([_item(status=status, **counts)]).files
    assert f.status == model_status and not f.patch_missing and f.hunks == ()


def test_files_api_statuses_and_previous_filename() -> None:
    patch = "@@ -1,2 +1,2 @@\n-a = 1\n+a = 2\n b = 3"  # no trailing newline, as GitHub sends it
    files = diff_from_patches(
        [
            _item(status="removed", patch="@@ -1 +0,0 @@\n-gone"),
            _item(status="renamed", previous_filename="src/old.py", patch=patch),
            _item(status="copied", previous_filename="src/base.py", patch=patch),
            _item(status="unchanged", changes=0),
            _item(status="something-new", patch=patch),
        ]
    ).files
    assert [f.status for f in files] == ["deleted", "renamed", "copied", "modified", "modified"]
    assert files[0].left_lines == frozenset({1}) and files[0].right_lines == frozenset()
    assert [f.old_path for f in files] == [None, "src/old.py", "src/base.py", None, None]
    assert files[1].right_lines == frozenset({1, 2}) and files[1].hunks[0].lines[-1].text == "b = 3"


def test_files_api_patch_with_no_newline_marker_and_crlf() -> None:
    patch = "@@ -1 +1 @@\r\n-x = 1\r\n\\ No newline at end of file\r\n+x = 2\r"
    (f,) = diff_from_patches([_item(patch=patch)]).files
    assert [(ln.kind, ln.text) for h in f.hunks for ln in h.lines] == [
        ("-", "x = 1"),
        ("+", "x = 2"),
    ]


def test_files_api_submodule_patch_is_flagged() -> None:
    patch = f"@@ -1 +1 @@\n-Subproject commit {'a' * 40}\n+Subproject commit {'b' * 40}"
    (f,) = diff_from_patches([_item(filename="vendor/lib", patch=patch)]).files
    assert f.submodule
    (g,) = diff_from_patches([_item(patch="@@ -1 +1 @@\n-x\n+Subproject commit " + "c" * 40)]).files
    assert not g.submodule


@pytest.mark.parametrize(
    "items",
    [
        [{"status": "added"}],
        [{"filename": ""}],
        ["src/app.py"],
        [_item(patch="not a hunk")],
        [_item(patch="@@ -1,3 +1,3 @@\n a")],
    ],
)
def test_files_api_bad_items_raise_diff_error(items: list[Any]) -> None:
    with pytest.raises(DiffError):
        diff_from_patches(items)


# ---------------------------------------------------------------------------- odd and hostile input


@pytest.mark.parametrize("data", [b"", "", b"\n\n  \n", "\ufeff"])
def test_empty_input_is_an_empty_diff(data: bytes | str) -> None:
    assert parse_diff(data) == Diff(files=())


@pytest.mark.parametrize(
    "data",
    [b"just some prose\nabout a change\n", b'{"files": [1, 2, 3]}', b"\x89PNG\r\n\x1a\n\x00\x00"],
)
def test_non_diff_input_is_refused(data: bytes) -> None:
    with pytest.raises(DiffError, match="not a unified diff") as info:
        parse_diff(data)
    assert info.value.hint


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("@@ -1 +1 @@\n-a\n+b\n", "no file header"),
        (
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n-b\n",
            "shorter than its header",
        ),
        (
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,2 +1,2 @@\n a\n+b\n+c\n",
            "do not match its header",
        ),
        ("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,999999999 +1,999999999 @@\n a\n", "shorter"),
        (
            "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -" + "9" * 5000 + " +1 @@\n-a\n",
            "malformed hunk header",
        ),
        ('diff --git "a/x b/x\n', "cannot read the file path|unterminated"),
    ],
)
def test_broken_diffs_raise_one_line_errors(data: str, match: str) -> None:
    with pytest.raises(DiffError, match=match) as info:
        parse_diff(data)
    assert "\n" not in info.value.message and info.value.hint


def _one_file(body: bytes) -> bytes:
    return b"diff --git a/x.py b/x.py\nindex 1..2 100644\n--- a/x.py\n+++ b/x.py\n" + body


def test_nul_byte_in_a_hunk_is_replaced_not_fatal() -> None:
    # git's binary check only looks at the first 8,000 bytes, so a later NUL reaches a hunk.
    (f,) = parse_diff(_one_file(b"@@ -1 +1 @@\n-a\x00b\n+ok\n")).files
    assert [ln.text for ln in f.hunks[0].lines] == ["a\ufffdb", "ok"]


def test_megabyte_line_is_clipped() -> None:
    # How fast: benchmarks/stages.py (no timed assertions in tests).
    (f,) = parse_diff(_one_file(b"@@ -1 +1,2 @@\n-a\n+" + b"x" * 3_000_000 + b"\n+end\n")).files
    long = f.hunks[0].lines[1]
    assert long.text.startswith("x" * MAX_LINE_CHARS) and long.text.endswith("cut by reviewbot]")
    assert len(long.text) < MAX_LINE_CHARS + 100
    assert (f.hunks[0].lines[2].new_no, f.hunks[0].lines[2].text) == (2, "end")


def test_only_newline_splits_lines() -> None:
    # str.splitlines() would also split on form feed, \x1c and U+2028.
    (f,) = parse_diff(_one_file("@@ -1 +1 @@\n-a\x0cb\n+c\u2028d\x1ce\n".encode())).files
    assert [ln.text for ln in f.hunks[0].lines] == ["a\x0cb", "c\u2028d\x1ce"]


def test_whole_diff_with_crlf_headers_and_bom() -> None:
    data = b"\xef\xbb\xbf" + _one_file(b"@@ -1 +1 @@\n-a\n+b\n").replace(b"\n", b"\r\n")
    (f,) = parse_diff(data).files
    assert (f.path, f.old_mode, [ln.text for ln in f.hunks[0].lines]) == (
        "x.py",
        "100644",
        ["a", "b"],
    )


def test_str_input_with_escaped_bytes() -> None:
    text = _one_file(b"@@ -1 +1 @@\n-caf\xe9\n+cafe\n").decode("utf-8", "surrogateescape")
    (f,) = parse_diff(text).files
    assert f.hunks[0].lines[0].text == "caf\ufffd"


def test_blank_context_line_without_its_space() -> None:
    (f,) = parse_diff(_one_file(b"@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n")).files
    assert [(ln.kind, ln.old_no, ln.new_no, ln.text) for ln in f.hunks[0].lines] == [
        (" ", 1, 1, "a"),
        (" ", 2, 2, ""),
        ("-", 3, None, "b"),
        ("+", None, 3, "c"),
    ]


def test_git_show_preamble_and_format_patch_signature_are_skipped() -> None:
    data = (
        b"commit 0123\nAuthor: A <a@example.com>\n\n    Fix it\n\n"
        + _one_file(b"@@ -1 +1 @@\n-a\n+b\n")
        + b"-- \n2.39.5\n\n"
    )
    (f,) = parse_diff(data).files
    assert (f.path, f.additions, f.deletions) == ("x.py", 1, 1)


def test_plain_unified_diff_without_git_header() -> None:
    data = (
        b"--- a/old.txt\t2024-01-01 10:00:00\n+++ b/old.txt\t2024-01-02 10:00:00\n@@ -1 +1 @@\n-a\n+b\n"
        b"--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+n\n"
    )
    files = parse_diff(data).files
    assert [(f.path, f.status) for f in files] == [("old.txt", "modified"), ("new.txt", "added")]


def test_quoted_rename_and_copy_headers() -> None:
    data = (
        b'diff --git "a/t\\303\\251st" b/plain\nsimilarity index 100%\nrename from "t\\303\\251st"\nrename to plain\n'
        b"diff --git a/src.py b/dst.py\nsimilarity index 90%\ncopy from src.py\ncopy to dst.py\n"
        b"--- a/src.py\n+++ b/dst.py\n@@ -1 +1 @@\n-a\n+b\n"
    )
    files = parse_diff(data).files
    assert [(f.path, f.old_path, f.status) for f in files] == [
        ("plain", "tést", "renamed"),
        ("dst.py", "src.py", "copied"),
    ]


def test_mode_change_with_edits_is_modified_and_keeps_modes() -> None:
    data = b"diff --git a/run.sh b/run.sh\nold mode 100644\nnew mode 100755\nindex 1..2\n--- a/run.sh\n+++ b/run.sh\n@@ -1 +1 @@\n-a\n+b\n"
    (f,) = parse_diff(data).files
    assert (f.status, f.old_mode, f.new_mode) == ("modified", "100644", "100755")


# ---------------------------------------------------------------------------- properties and speed


_line = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\n\r\x00"),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(old=st.lists(_line, max_size=30), new=st.lists(_line, max_size=30), context=st.integers(0, 4))
def test_every_line_number_points_at_its_text(old: list[str], new: list[str], context: int) -> None:
    """Render two random files with difflib and check each parsed line against them."""
    body = list(difflib.unified_diff([s + "\n" for s in old], [s + "\n" for s in new], "a/f.txt", "b/f.txt", n=context))
    diff = parse_diff("".join(body))
    if not body:
        assert diff.files == ()
        return
    (f,) = diff.files
    for h in f.hunks:
        for ln in h.lines:
            if ln.old_no is not None:
                assert old[ln.old_no - 1] == ln.text
            if ln.new_no is not None:
                assert new[ln.new_no - 1] == ln.text
    assert f.additions - f.deletions == len(new) - len(old)
    assert f.right_lines == {ln.new_no for h in f.hunks for ln in h.lines if ln.new_no is not None}
    assert f.left_lines == {ln.old_no for h in f.hunks for ln in h.lines if ln.old_no is not None}


def _synthetic(files: int = 3000, changed: int = 100_000) -> bytes:
    per = changed // files + 1
    out: list[str] = []
    for i in range(files):
        p = f"src/pkg{i % 50}/mod_{i}.py"
        half = per // 2
        out.append(f"diff --git a/{p} b/{p}\nindex 1234567..89abcde 100644\n--- a/{p}\n+++ b/{p}\n")
        out.append(f"@@ -10,{half + 3} +10,{per - half + 3} @@ def f{i}():\n ctx1\n ctx2\n")
        out.extend(f"-old line {j} = {j * 3}\n" for j in range(half))
        out.extend(f"+new line {j} = compute({j})\n" for j in range(per - half))
        out.append(" ctx3\n")
    return "".join(out).encode()


def test_three_thousand_files_parse() -> None:
    # How fast: benchmarks/stages.py and benchmarks/plan_large.py (no timed assertions here).
    diff = parse_diff(_synthetic())
    assert len(diff.files) == 3000
    assert sum(f.additions + f.deletions for f in diff.files) >= 100_000
    assert all(len(f.hunks) == 1 and f.right_lines for f in diff.files)


def test_file_lookup_by_old_or_new_path() -> None:
    diff = tricky("rename_with_edits")
    assert diff.file("requests/session.py") is diff.file("requests/sessions.py") is diff.files[0]
    assert diff.file("nope.py") is None
    assert isinstance(diff.files[0], FileDiff)


def test_the_garbage_collector_is_restored_however_parsing_ends() -> None:
    import gc

    assert gc.isenabled()
    parse_diff(_one_file(b"@@ -1 +1 @@\n-a\n+b\n"))
    assert gc.isenabled()
    with pytest.raises(DiffError):
        parse_diff(b"@@ -1 +1 @@\n-a\n+b\n")
    assert gc.isenabled()
    gc.disable()
    try:
        diff_from_patches([{"filename": "a.py", "status": "added", "patch": "@@ -0,0 +1 @@\n+x"}])
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()


def test_a_parsed_diff_goes_straight_to_the_oldest_generation() -> None:
    import gc

    diff = parse_diff(_one_file(b"@@ -1 +1 @@\n-a\n+b\n"))
    hunk = diff.files[0].hunks[0]
    assert any(obj is hunk for obj in gc.get_objects(generation=2))
    assert gc.get_freeze_count() == 0


def test_objects_someone_else_froze_stay_frozen() -> None:
    import gc

    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        diff = parse_diff(_one_file(b"@@ -1 +1 @@\n-a\n+b\n"))
        assert gc.get_freeze_count() == frozen
        assert diff.files[0].hunks[0].lines[1].text == "b"
    finally:
        gc.unfreeze()
