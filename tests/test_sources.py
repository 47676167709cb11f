"""Diff sources: files, standard input and `git diff` in a real temporary repository, with
the one-line errors a user sees for each way they can fail."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot import sources
from reviewbot.diff import parse_diff
from reviewbot.errors import DiffError, UsageError
from reviewbot.sources import git_diff, read_diff_file, read_stdin

# ---------------------------------------------------------------------------- files


def test_read_diff_file_returns_exact_bytes(tmp_path: Path) -> None:
    data = b"diff --git a/x b/x\r\n--- a/x\r\n+++ b/x\r\n@@ -1 +1 @@\r\n-\xe9\r\n+e\r\n"
    path = tmp_path / "change.diff"
    path.write_bytes(data)
    assert read_diff_file(str(path)) == data  # CRLF and latin-1 bytes untouched


def test_read_diff_file_missing(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="diff file not found") as info:
        read_diff_file(str(tmp_path / "nope.diff"))
    assert info.value.hint and info.value.exit_code == 2


def test_read_diff_file_directory(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a directory"):
        read_diff_file(str(tmp_path))


def test_read_diff_file_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secret.diff"
    path.write_bytes(b"x")

    def deny(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    # Tests may run as root, where chmod 000 does not stop a read.
    monkeypatch.setattr(Path, "open", deny)
    with pytest.raises(UsageError, match="permission denied"):
        read_diff_file(str(path))


def test_read_diff_file_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_DIFF_BYTES", 10)
    path = tmp_path / "big.diff"
    path.write_bytes(b"0123456789")
    assert read_diff_file(str(path)) == b"0123456789"  # exactly at the cap is fine
    path.write_bytes(b"0123456789A")
    with pytest.raises(DiffError, match="larger than"):
        read_diff_file(str(path))


# ---------------------------------------------------------------------------- stdin


class _Terminal(io.TextIOWrapper):
    def isatty(self) -> bool:
        return True


def test_read_stdin_from_a_terminal_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal(io.BytesIO(b"")))
    with pytest.raises(UsageError, match="no diff on standard input") as info:
        read_stdin()
    assert info.value.hint and "-" in info.value.hint


def test_read_stdin_closed_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(UsageError, match="no diff on standard input"):
        read_stdin()


def test_read_stdin_returns_piped_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"diff --git a/x b/x\r\n\xff\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    assert read_stdin() == data


def test_read_stdin_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_DIFF_BYTES", 4)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"12345")))
    with pytest.raises(DiffError, match="standard input is larger than"):
        read_stdin()


# ---------------------------------------------------------------------------- git


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        [
            "git",
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
            *args,
        ],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No system or user git config leaks in; repositories are not found above tmp_path."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.delenv("GIT_DIR", raising=False)
    return tmp_path


@pytest.fixture
def repo(git_env: Path) -> Path:
    repo = git_env / "repo"
    (repo / "pkg").mkdir(parents=True)
    _git(repo, "init", "-q")
    (repo / "pkg" / "util.py").write_text("def a():\n    return 1\n\n\ndef b():\n    return 2\n")
    (repo / "win.txt").write_bytes(b"one\r\ntwo\r\n")
    (repo / "gone.txt").write_text("bye\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "mv", "pkg/util.py", "pkg/helpers.py")
    (repo / "pkg" / "helpers.py").write_text("def a():\n    return 1\n\n\ndef b():\n    return 3\n")
    (repo / "win.txt").write_bytes(b"one\r\nTWO\r\n")
    _git(repo, "rm", "-q", "gone.txt")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "change")
    return repo


def test_git_diff_range(repo: Path) -> None:
    diff = parse_diff(git_diff("HEAD~1..HEAD", cwd=str(repo)))
    assert [(f.path, f.status, f.old_path) for f in diff.files] == [
        ("gone.txt", "deleted", None),
        ("pkg/helpers.py", "renamed", "pkg/util.py"),
        ("win.txt", "modified", None),
    ]
    helpers = diff.files[1]
    assert [(ln.kind, ln.text) for h in helpers.hunks for ln in h.lines if ln.kind != " "] == [
        ("-", "    return 2"),
        ("+", "    return 3"),
    ]


def test_git_diff_keeps_crlf_bytes(repo: Path) -> None:
    assert b"+TWO\r\n" in git_diff("HEAD~1..HEAD", cwd=str(repo))


def test_git_diff_ignores_user_settings_that_change_the_output(repo: Path) -> None:
    driver = repo.parent / "fake-diff.sh"
    driver.write_text("#!/bin/sh\necho 'external diff was run'\n")
    driver.chmod(0o755)
    for key, value in [
        ("diff.noprefix", "true"),
        ("diff.mnemonicPrefix", "true"),
        ("diff.relative", "true"),
        ("color.ui", "always"),
        ("diff.submodule", "log"),
        ("diff.external", str(driver)),
    ]:
        _git(repo, "config", key, value)
    data = git_diff("HEAD~1..HEAD", cwd=str(repo / "pkg"))  # a subdirectory, with diff.relative
    assert b"\x1b[" not in data and b"external diff was run" not in data
    assert b"diff --git a/win.txt b/win.txt" in data
    assert [f.path for f in parse_diff(data).files] == ["gone.txt", "pkg/helpers.py", "win.txt"]


def test_git_diff_bad_revision(repo: Path) -> None:
    with pytest.raises(UsageError, match=re.escape("git cannot resolve 'nosuchbranch...HEAD'")) as info:
        git_diff("nosuchbranch...HEAD", cwd=str(repo))
    assert info.value.hint and "fetch-depth" in info.value.hint
    assert "\n" not in info.value.message


def test_git_diff_outside_a_repository(git_env: Path) -> None:
    plain = git_env / "plain"
    plain.mkdir()
    with pytest.raises(UsageError, match="not a git repository"):
        git_diff("HEAD~1..HEAD", cwd=str(plain))


def test_git_diff_missing_directory(git_env: Path) -> None:
    with pytest.raises(UsageError, match="not a directory"):
        git_diff("HEAD", cwd=str(git_env / "nope"))


def test_git_missing(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = repo.parent / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(UsageError, match="git is not installed"):
        git_diff("HEAD~1..HEAD", cwd=str(repo))


@pytest.mark.parametrize("spec", ["--output=/tmp/reviewbot-owned", "-p", "", "  ", "main\x00", "a\nb"])
def test_git_range_that_is_an_option_or_empty(repo: Path, spec: str) -> None:
    with pytest.raises(UsageError):
        git_diff(spec, cwd=str(repo))
    assert not Path("/tmp/reviewbot-owned").exists()


def test_git_range_that_names_a_file_is_not_read_as_a_path(repo: Path) -> None:
    # The trailing `--` makes git treat the argument as a revision only.
    with pytest.raises(UsageError, match="cannot resolve"):
        git_diff("win.txt", cwd=str(repo))


def test_git_diff_size_cap(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_DIFF_BYTES", 50)
    with pytest.raises(DiffError, match=re.escape("git diff HEAD~1..HEAD is larger than")):
        git_diff("HEAD~1..HEAD", cwd=str(repo))
