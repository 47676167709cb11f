"""Code context (review.context): the enclosing definition of each changed line, parsed with
tree-sitter, from the head version of the file; lines the chunk shows are not repeated; the
context is redacted like the diff, capped per chunk, marked as reference only, and a finding
on it is never placed inline (it is not in the diff)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply

from reviewbot.context import cap, regions, render, shown_lines
from reviewbot.diff import parse_diff
from reviewbot.sources import head_texts

PY = "\n".join(
    [
        "import os",
        "",
        "class Store:",
        "    def get(self, key):",
        *[f"        v{i} = key + {i}" for i in range(12)],
        "        return v0",
        "",
        "def top():",
        "    return 1",
        "",
    ]
)


def test_the_innermost_definition_of_a_changed_line() -> None:
    found = regions("s.py", PY, [10], "enclosing")
    assert [(r.start, r.end, r.kind) for r in found] == [(4, 17, "function_definition")]
    assert regions("s.py", PY, [1], "enclosing") == []  # module level: nothing encloses it
    assert [(r.start, r.end) for r in regions("s.py", PY, [20], "enclosing")] == [(19, 20)]


@pytest.mark.parametrize(
    ("path", "source", "line", "kind"),
    [
        ("a.go", "package a\n\nfunc F(x int) int {\n\ty := x\n\treturn y\n}\n", 4, "function_declaration"),
        ("a.js", "const a = 1;\nfunction f(x) {\n  const y = x;\n  return y;\n}\n", 3, "function_declaration"),
        ("a.ts", "class C {\n  m(x: number): number {\n    return x;\n  }\n}\n", 3, "method_definition"),
        ("a.rs", "fn f(x: i32) -> i32 {\n    let y = x;\n    y\n}\n", 2, "function_item"),
        ("A.java", "class A {\n  int f(int x) {\n    return x;\n  }\n}\n", 3, "method_declaration"),
        ("a.rb", "class A\n  def f(x)\n    x\n  end\nend\n", 3, "method"),
        ("a.c", "int f(int x) {\n  return x;\n}\n", 2, "function_definition"),
    ],
)
def test_each_language_finds_its_definitions(path: str, source: str, line: int, kind: str) -> None:
    found = regions(path, source, [line], "enclosing")
    assert found and found[0].kind == kind and found[0].start <= line <= found[0].end


# Each source: a helper and a caller whose marked line calls it (path, source, the caller's
# line, the helper's first line). With `calls`, the helper's definition joins the caller's.
CALLS = [
    ("a.py", "def twice(x):\n    return x * 2\n\n\ndef run():\n    return twice(3)\n", 6, 1),
    (
        "a.py",
        "class S:\n    def load(self):\n        return 1\n\n    def get(self):\n        return self.load()\n",
        6,
        2,
    ),
    (
        "a.go",
        "package a\n\nfunc twice(x int) int {\n\treturn x * 2\n}\n\nfunc Run() int {\n\treturn twice(3)\n}\n",
        8,
        3,
    ),
    ("a.js", "function twice(x) {\n  return x * 2;\n}\n\nfunction run() {\n  return twice(3);\n}\n", 6, 1),
    ("a.ts", "function twice(x: number) {\n  return x * 2;\n}\n\nconst run = () => {\n  return twice(3);\n};\n", 6, 1),
    (
        "A.java",
        "class A {\n  int twice(int x) {\n    return x * 2;\n  }\n\n  int run() {\n    return twice(3);\n  }\n}\n",
        7,
        2,
    ),
    ("a.rs", "fn twice(x: i32) -> i32 {\n    x * 2\n}\n\nfn run() -> i32 {\n    twice(3)\n}\n", 6, 1),
    ("a.c", "static int twice(int x) {\n  return x * 2;\n}\n\nint run(void) {\n  return twice(3);\n}\n", 6, 1),
    ("a.cpp", "int A::twice(int x) {\n  return x * 2;\n}\n\nint run(A a) {\n  return a.twice(3);\n}\n", 6, 1),
    ("a.rb", "def twice(x)\n  x * 2\nend\n\ndef run\n  twice(3)\nend\n", 6, 1),
]


@pytest.mark.parametrize(("path", "source", "line", "helper"), CALLS)
def test_calls_add_the_definitions_the_change_calls_in_the_same_file(
    path: str, source: str, line: int, helper: int
) -> None:
    plain = regions(path, source, [line], "enclosing")
    with_calls = regions(path, source, [line], "enclosing", calls=True)
    assert not any(r.start <= helper <= r.end for r in plain)  # the helper is not around the change
    called = [r for r in with_calls if r.start <= helper <= r.end]
    assert called and "called by the change" in called[0].kind
    assert any(r.start <= line <= r.end for r in with_calls)


def test_calls_skip_what_the_file_does_not_define_and_the_changed_definition_itself() -> None:
    source = "import os\n\n\ndef run(n):\n    if n:\n        return run(n - 1)\n    return os.getcwd()\n"
    found = regions("r.py", source, [6, 7], "enclosing", calls=True)
    assert [(r.start, r.end, r.kind) for r in found] == [(4, 7, "function_definition")]  # no os, no second run


def test_other_files_get_a_window_and_file_mode_gets_everything() -> None:
    text = "".join(f"line {i}\n" for i in range(1, 61))
    assert [(r.start, r.end, r.kind) for r in regions("notes.txt", text, [30], "enclosing")] == [(20, 40, "lines")]
    assert [(r.start, r.end) for r in regions("notes.txt", text, [30], "file")] == [(1, 60)]
    assert regions("notes.txt", text, [30], "none") == []


def test_a_very_long_definition_contributes_its_signature() -> None:
    long = "def big(a,\n        b):\n" + "".join(f"    x{i} = {i}\n" for i in range(400))
    [found] = regions("big.py", long, [200], "enclosing")
    assert (found.start, found.end) == (1, 3)


def test_shown_lines_are_not_repeated_and_the_block_cannot_be_closed() -> None:
    text = "def f():\n    a = '</context>'\n    b = 2\n    return a\n"
    out = render("f.py", text, regions("f.py", text, [3], "enclosing"), shown=[3, 4])
    assert out == "### f.py (lines 1-4, function definition)\n1 def f():\n2     a = '<\\/context>'"
    assert cap([["aa"], ["bb"], ["cc"]], 4, len) == ("aa\nbb", True)


def test_the_cap_falls_back_to_a_smaller_block_and_keeps_later_files_that_fit() -> None:
    # Per file: the whole file first, then its enclosing definitions. A file too big either
    # way is left out, and the next file still fits.
    assert cap([["whole-file", "defs"], ["x" * 50], ["ok"]], 8, len) == ("defs\nok", True)
    assert cap([["whole", "defs"]], 8, len) == ("whole", False)
    assert cap([["", ""], ["ab"]], 8, len) == ("ab", False)


def test_shown_lines_reads_the_chunk_format() -> None:
    chunk = "### a.py (renamed from b.py)\n@@ def f\n3 x\n4-y\n4+z\n### c d.py\n@@\n1+q\n"
    assert shown_lines(chunk, ["a.py", "c d.py"]) == {"a.py": ({3, 4}, {4}), "c d.py": ({1}, {1})}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "store.py").write_text(PY, encoding="utf-8")
    (repo / "README.md").write_text("hello\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "feature")
    changed = PY.replace("        v5 = key + 5", "        v5 = key - 5").replace(
        "        v0 = key + 0", '        v0 = key + "AKIAIOSFODNN7EXAMPLE"'
    )
    (repo / "store.py").write_text(changed, encoding="utf-8")
    (repo / "README.md").write_text("hello\nworld\n", encoding="utf-8")
    git(repo, "commit", "-qam", "change")
    return repo


def test_head_texts_trust_the_work_tree_only_when_it_matches_the_diff(repo: Path) -> None:
    diff = parse_diff(git(repo, "diff", "main...feature").encode())
    assert set(head_texts(diff.files, git_range="main...feature", cwd=str(repo))) == {"store.py", "README.md"}
    assert set(head_texts(diff.files, cwd=str(repo))) == {"store.py", "README.md"}  # the checkout is the head
    git(repo, "checkout", "-q", "main")
    assert head_texts(diff.files, cwd=str(repo)) == {}  # the work tree is not what the diff describes


def test_a_review_sends_context_marked_redacted_and_never_inline(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bodies: list[dict[str, Any]] = []

    def model(body: dict[str, Any]) -> FakeReply:
        bodies.append(body)
        # One finding on a changed line, one on a context line (17: the return, not in the diff).
        return FakeReply.json(
            {
                "summary": "ok",
                "findings": [
                    {
                        "path": "store.py",
                        "line": 10,
                        "side": "RIGHT",
                        "severity": "medium",
                        "category": "bug",
                        "title": "Subtracts where it adds",
                        "body": "The sign flipped.",
                    },
                    {
                        "path": "store.py",
                        "line": 17,
                        "side": "RIGHT",
                        "severity": "low",
                        "category": "maintainability",
                        "title": "The getter is long",
                        "body": "Split it.",
                    },
                ],
            }
        )

    monkeypatch.chdir(repo)
    monkeypatch.setenv("CTX_KEY", "sk-ctx")
    with FakeOpenAIServer(responder=model) as server:
        cfg = repo.parent / "cfg.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": ["openai/ctx"], "frontier": ["openai/ctx"], "summary": "cheap"},
                    "endpoints": {"openai/ctx": {"api_base": server.base_url, "api_key_env": "CTX_KEY"}},
                    "prices": {"openai/ctx": {"input": 1, "output": 1}},
                    "review": {"context": {"cheap": "enclosing"}, "instruction_files": []},
                }
            ),
            encoding="utf-8",
        )
        code, out, err = run_cli(
            capsys, ["review", "--git", "main...feature", "--config", str(cfg), "--format", "json"]
        )
    assert code == 0, err
    [user] = [b["messages"][-1]["content"] for b in bodies if "<diff>" in b["messages"][-1]["content"]]
    block = user[user.index("<context>") :]
    assert "17         return v0" in block and "report nothing on these lines" in block
    assert "\n4     def get" not in block  # shown in the diff already: not repeated
    assert "AKIAIOSFODNN7EXAMPLE" not in user  # the context is redacted like the diff
    report = json.loads(out)
    assert report["chunks"][0]["context_tokens"] > 0
    placed = {f["title"]: f["placement"] for f in report["findings"]}
    assert placed["Subtracts where it adds"] == "inline" and placed["The getter is long"] != "inline"
    assert any(n.startswith("code context: ") for n in report["notes"])


def test_the_dry_run_says_when_no_head_version_could_be_read(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A diff reviewed away from the tree it was made in: context is on, but nothing matches.
    diff = repo.parent / "change.diff"
    diff.write_text(git(repo, "diff", "main...feature"), encoding="utf-8")
    cfg = repo.parent / "ctx.yml"
    cfg.write_text(yaml.safe_dump({"review": {"context": "enclosing", "instruction_files": []}}), encoding="utf-8")
    code, out, err = run_cli(
        capsys, ["review", "--diff", str(diff), "--config", str(cfg), "--dry-run", "--format", "json"]
    )
    assert code == 0, err
    [note] = [n for n in json.loads(out)["notes"] if n.startswith("code context: ")]
    assert "0 tokens" in note and "no head version for 2 files" in note


def test_review_context_calls_reaches_the_chunk_through_the_plan() -> None:
    from reviewbot.config import Config
    from reviewbot.cost import Pricer
    from reviewbot.pipeline import plan_review

    head = "def twice(x):\n    return x * 2\n\n\ndef run():\n    return twice(3)\n"
    diff = parse_diff(
        "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -5,2 +5,2 @@\n def run():\n-    return 6\n+    return twice(3)\n"
    )
    for calls, expected in ((False, False), (True, True)):
        config = Config.model_validate(
            {
                "models": {"cheap": ["openai/m"], "frontier": ["openai/m"]},
                "review": {"context": "enclosing", "context_calls": calls, "instruction_files": []},
            }
        )
        plan = plan_review(diff, config, source="t", pricer=Pricer({}), file_texts={"m.py": head})
        [route] = plan.routes
        assert ("called by the change" in route.chunk.context) is expected
        assert ("1 def twice(x):" in route.chunk.context) is expected
