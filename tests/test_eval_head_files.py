"""Eval cases with the head versions of their files (docs/eval-format.md, "Head files"), so
`review.context` can be measured: the context reaches the model's request only when the case
carries its head files and the policy turns context on; a bad head-file entry is a one-line
usage error (exit 2)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer

from reviewbot.errors import UsageError
from reviewbot.eval.cases import attach_head_files, load_cases

REPO = Path(__file__).resolve().parents[1]
MODEL = "openai/fake-small"
PATH = "shop/cart.py"
# Only the diff's lines and the enclosing function can carry this: it is line 5 of the head
# file, outside the hunk (which shows lines 10-14).
MARKER = "Sum of the cart's prices, before tax."
HEAD = f'''import decimal


def total(cart, coupon=None):
    """{MARKER}"""
    subtotal = decimal.Decimal(0)
    for item in cart:
        subtotal += item.price * item.quantity
    if coupon is not None:
        subtotal -= coupon.amount
    discount = decimal.Decimal("0.1") if subtotal > 100 else 0
    return subtotal * (1 - discount)


def count(cart):
    return sum(item.quantity for item in cart)
'''
DIFF = (
    "\n".join(
        [
            f"diff --git a/{PATH} b/{PATH}",
            f"--- a/{PATH}",
            f"+++ b/{PATH}",
            "@@ -9,5 +9,6 @@ def total(cart, coupon=None):",
            "     if coupon is not None:",
            "         subtotal -= coupon.amount",
            "-    return subtotal",
            '+    discount = decimal.Decimal("0.1") if subtotal > 100 else 0',
            "+    return subtotal * (1 - discount)",
            " ",
            " ",
        ]
    )
    + "\n"
)
LABEL = {
    "path": PATH,
    "line": 11,
    "category": "bug",
    "severity": "low",
    "description": "a discount on a negative subtotal",
}


def write_case(folder: Path, name: str = "cart", **extra: Any) -> Path:
    (folder / f"{name}.diff").write_text(DIFF, encoding="utf-8")
    case = {"id": name, "diff_file": f"{name}.diff", "labels": [LABEL], **extra}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(case), encoding="utf-8")
    return path


def write_heads(folder: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text, encoding="utf-8")
    return folder


def policy(tmp: Path, name: str, base: str, context: str) -> Path:
    path = tmp / f"{name}.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "models": {"cheap": [MODEL], "frontier": [MODEL], "summary": "cheap"},
                "endpoints": {MODEL: {"api_base": base, "api_key_env": "FAKE_KEY", "timeout": 10}},
                "prices": {MODEL: {"input": 1.0, "output": 2.0}},
                "review": {"context": context},
            }
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake-eval-key")


def prompts(server: FakeOpenAIServer) -> list[str]:
    return ["\n".join(str(m.get("content", "")) for m in r.body["messages"]) for r in server.chat_requests]


def run_eval(
    capsys: pytest.CaptureFixture[str], tmp: Path, cases: Path, context: str, *extra: str
) -> tuple[dict[str, Any], list[str]]:
    with FakeOpenAIServer() as server:
        cfg = policy(tmp, f"context-{context}", server.base_url, context)
        code, out, err = run_cli(
            capsys, ["eval", str(cases), "--config", str(cfg), "--format", "json", "--no-progress", *extra]
        )
        sent = prompts(server)
    assert code == 0, err
    return json.loads(out)["policies"][0], sent


def test_head_files_beside_the_case_put_the_enclosing_function_in_the_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    write_heads(cases / "cart.files", {PATH: HEAD})
    write_case(cases, head_files="cart.files")

    with_context, sent = run_eval(capsys, tmp_path, cases, "enclosing")
    assert len(sent) == 1
    context = sent[0].split("<context>", 1)[1].split("</context>", 1)[0]
    assert f'5     """{MARKER}"""' in context  # numbered like the diff, from the head file
    assert "\n12 " not in context  # a line the hunk shows is not repeated
    assert with_context["head_file_cases"] == 1
    assert with_context["context_tokens"] > 0 and with_context["diff_tokens"] > 0

    # The same case with context off: the request is the diff alone.
    without, sent = run_eval(capsys, tmp_path, cases, "none")
    assert len(sent) == 1 and MARKER not in sent[0]
    assert without["context_tokens"] == 0 and without["head_file_cases"] == 1


def test_a_mapping_and_a_head_files_folder_per_case_id_work_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapped = tmp_path / "mapped"
    mapped.mkdir()
    write_heads(mapped / "stored", {"cart-head.py": HEAD})
    write_case(mapped, head_files={PATH: "stored/cart-head.py"})
    _, sent = run_eval(capsys, tmp_path, mapped, "enclosing")
    assert MARKER in sent[0]

    plain = tmp_path / "plain"
    plain.mkdir()
    write_case(plain)
    cache = write_heads(tmp_path / "cache" / "cart", {PATH: HEAD}).parent
    _, sent = run_eval(capsys, tmp_path, plain, "enclosing")
    assert MARKER not in sent[0]  # no head files: the diff alone, whatever the policy says
    scored, sent = run_eval(capsys, tmp_path, plain, "enclosing", "--head-files", str(cache))
    assert MARKER in sent[0] and scored["head_file_cases"] == 1


def test_yaml_inside_a_head_files_folder_is_not_read_as_a_case(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    write_heads(cases / "cart.files", {PATH: HEAD})
    text = DIFF.replace(PATH, "deploy/values.yaml")
    (cases / "deploy.diff").write_text(text, encoding="utf-8")
    write_heads(cases / "deploy.files", {"deploy/values.yaml": HEAD})  # not YAML at all
    (cases / "deploy.yaml").write_text(
        yaml.safe_dump({"id": "deploy", "diff_file": "deploy.diff", "labels": [], "head_files": "deploy.files"})
    )
    write_case(cases, head_files="cart.files")
    loaded = load_cases([cases])
    assert [c.id for c in loaded] == ["cart", "deploy"]
    assert loaded[0].head_files == {PATH: HEAD}


@pytest.mark.parametrize(
    ("heads", "spec", "message"),
    [
        ({"shop/other.py": HEAD}, "h", "head_files: head file 'shop/other.py' is not a file the diff adds or changes"),
        (
            {PATH: HEAD.replace("    return subtotal * (1 - discount)", "    return subtotal")},
            "h",
            "head_files: head file 'shop/cart.py' does not match the diff at new line 12",
        ),
        ({}, "missing", "head_files: no such folder:"),
        ({}, {PATH: ""}, "head_files: map each path in the diff to a stored file"),
        ({}, ["h"], "head_files: give a folder (the files at their repository paths) or a mapping"),
    ],
)
def test_a_bad_head_file_entry_is_a_one_line_usage_error(
    heads: dict[str, str], spec: Any, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_heads(tmp_path / "h", heads)
    case = write_case(tmp_path, head_files=spec)
    code, out, err = run_cli(capsys, ["eval", str(case), "--no-progress"])
    assert code == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith(f"reviewbot: error: {case}: ") and message in first, err
    assert "Traceback" not in err


def test_a_stray_file_in_the_head_files_folder_names_the_folder(tmp_path: Path) -> None:
    cases = load_cases([write_case(tmp_path)])
    write_heads(tmp_path / "cache" / "cart", {PATH: HEAD, "README.md": "notes"})
    with pytest.raises(UsageError) as err:
        attach_head_files(cases, tmp_path / "cache")
    assert err.value.message == (
        f"{tmp_path / 'cache' / 'cart'}: head file 'README.md' is not a file the diff adds or changes"
    )
    with pytest.raises(UsageError, match="--head-files: no such folder"):
        attach_head_files(cases, tmp_path / "nowhere")


# --- evals/head_files.py: head files rebuilt from a local snapshot ----------------------------


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("head_files", REPO / "evals" / "head_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
        "HOME": str(repo),
        "PATH": os.environ.get("PATH", ""),
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    ).stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_head_files_are_rebuilt_from_a_snapshot_at_the_base_or_the_head_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "snapshot"
    base_text = HEAD.replace('    discount = decimal.Decimal("0.1") if subtotal > 100 else 0\n', "").replace(
        "    return subtotal * (1 - discount)", "    return subtotal"
    )
    write_heads(repo, {PATH: base_text})
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    base = _git(repo, "rev-parse", "HEAD")
    write_heads(repo, {PATH: HEAD})
    _git(repo, "commit", "-q", "-am", "head")
    head = _git(repo, "rev-parse", "HEAD")

    cases = tmp_path / "cases"
    cases.mkdir()
    for name, commit in (("at-base", base), ("at-head", head), ("elsewhere", "ab" * 20)):
        write_case(cases, name, source={"repository": "example/shop", "commit": commit, "licence": "MIT"})
    out = tmp_path / "heads"
    assert _script().main([str(out), str(cases), "--mirror", str(repo)]) == 0
    printed = capsys.readouterr()
    assert "head files for 2 case(s)" in printed.out
    assert f"skipped elsewhere: commit {'ab' * 6} of example/shop is in no snapshot given" in printed.err

    loaded = {c.id: c for c in attach_head_files(load_cases([cases]), out)}
    assert loaded["at-base"].head_files == {PATH: HEAD} == loaded["at-head"].head_files
    assert loaded["elsewhere"].head_files == {}
    assert "| `at-base` | example/shop |" in (out / "SOURCES.md").read_text(encoding="utf-8")
