"""Edge: where a diff comes from. Input: a file path, standard input, or a git range.
Output: the raw diff bytes, never decoded here (diff.parse_diff owns decoding). Every
failure is a one-line UsageError/DiffError with a hint; no OSError or CalledProcessError
escapes. The GitHub pull-request source lives in github/api.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from .diff import FileDiff, first_mismatch
from .errors import DiffError, UsageError

# A 200 MB diff is far past anything worth reviewing (GitHub's own diff view gives up at
# 20,000 lines); refuse it before it is held in memory several times over.
MAX_DIFF_BYTES = 200 * 1024 * 1024
GIT_TIMEOUT_S = 300.0
_READ_CHUNK = 1 << 20
# What git (LC_ALL=C) prints when a range names a commit it does not have.
_UNRESOLVED = (
    "bad revision",
    "unknown revision",
    "ambiguous argument",
    "invalid revision",
    "bad object",
)


def _too_large(what: str) -> DiffError:
    return DiffError(
        f"{what} is larger than {MAX_DIFF_BYTES // (1024 * 1024)} MB",
        hint="review a narrower range, or exclude generated files from the diff",
    )


def _read_capped(stream: IO[bytes], what: str) -> bytes:
    """Read at most MAX_DIFF_BYTES; one byte more means the input is too large."""
    parts: list[bytes] = []
    size = 0
    while True:
        part = stream.read(min(_READ_CHUNK, MAX_DIFF_BYTES + 1 - size))
        if not part:
            return b"".join(parts)
        parts.append(part)
        size += len(part)
        if size > MAX_DIFF_BYTES:
            raise _too_large(what)


def read_diff_file(path: str) -> bytes:
    """The bytes of a .diff/.patch file (binary mode: text mode would turn CRLF into LF)."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{path} is a directory, not a diff file", hint="pass a .diff or .patch file")
    try:
        with p.open("rb") as fh:
            return _read_capped(fh, path)
    except FileNotFoundError:
        raise UsageError(f"diff file not found: {path}", hint="check the path, or pipe the diff to `-`") from None
    except PermissionError:
        raise UsageError(f"cannot read {path}: permission denied", hint="check the file's permissions") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None


def read_stdin() -> bytes:
    """The diff piped to standard input. A terminal with nothing piped is an error rather
    than a silent wait for input that will never come."""
    stdin = sys.stdin
    if stdin is None or stdin.isatty():
        raise UsageError(
            "no diff on standard input",
            hint="pipe one in (`git diff main... | reviewbot review -`) or pass --diff FILE",
        )
    try:
        return _read_capped(stdin.buffer, "standard input")
    except OSError as exc:
        raise UsageError(f"cannot read standard input: {exc.strerror or exc}") from None


def _git_argv(range_spec: str) -> list[str]:
    # Pin every setting a user's git config could change in the output: explicit a/ b/
    # prefixes (diff.noprefix, diff.mnemonicPrefix), no textconv or external drivers, no
    # colour, `Subproject commit` lines for submodules (diff.submodule=log changes them) and
    # whole-repo paths (diff.relative; set with -c because --no-relative needs git 2.28).
    # The trailing `--` makes git read the range as a revision, never as a path.
    return [
        "git",
        "-c",
        "diff.relative=false",
        "diff",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--find-renames",
        "--submodule=short",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        range_spec,
        "--",
    ]


def _check_git_args(range_spec: str, cwd: str | None) -> None:
    if not range_spec.strip():
        raise UsageError("empty git range", hint="pass a range such as main...HEAD")
    if any(c in range_spec for c in "\n\r\x00"):
        raise UsageError(f"git range contains a control character: {range_spec!r}")
    if range_spec.startswith("-"):
        # Anything starting with "-" would reach git as an option, e.g. --output=FILE.
        raise UsageError(
            f"git range must not start with '-': {range_spec}",
            hint="pass a range such as main...HEAD",
        )
    if cwd is not None and not Path(cwd).is_dir():
        raise UsageError(f"not a directory: {cwd}", hint="run reviewbot inside the repository")
    if shutil.which("git") is None:
        raise UsageError("git is not installed or not on PATH", hint="install git, or pass the diff as a file")


def _git_error(range_spec: str, cwd: str | None, stderr: str) -> UsageError:
    first = next((ln.strip() for ln in stderr.splitlines() if ln.strip()), "git diff failed")
    where = cwd or os.getcwd()
    if "not a git repository" in stderr.lower():
        return UsageError(
            f"not a git repository: {where}",
            hint="run reviewbot inside a clone, or pass the diff as a file",
        )
    if any(s in stderr for s in _UNRESOLVED):
        return UsageError(
            f"git cannot resolve {range_spec!r}: {first}",
            hint="fetch both ends first (in Actions: actions/checkout with fetch-depth: 0)",
        )
    return UsageError(f"git diff {range_spec} failed: {first}")


def git_diff(range_spec: str, cwd: str | None = None) -> bytes:
    """`git diff RANGE` in cwd, as bytes. Runs git with a list argv (never a shell), an
    English locale so its errors can be recognised, and a size cap on what it prints."""
    _check_git_args(range_spec, cwd)
    env = {
        **os.environ,
        "LC_ALL": "C",
        "LANGUAGE": "C",
        "GIT_PAGER": "cat",
        "GIT_TERMINAL_PROMPT": "0",
    }
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(
                _git_argv(range_spec),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
            )
        except OSError as exc:
            raise UsageError(f"cannot run git: {exc.strerror or exc}", hint="check that git is installed") from None
        out = _collect(proc, f"git diff {range_spec}")
        err.seek(0)
        stderr = err.read(64 * 1024).decode("utf-8", "replace")
    if proc.returncode != 0:
        raise _git_error(range_spec, cwd, stderr)
    return out


def _collect(proc: subprocess.Popen[bytes], what: str) -> bytes:
    """Read the child's stdout under the size cap and a time limit, killing it on either."""
    fired = threading.Event()

    def kill() -> None:
        fired.set()
        proc.kill()

    timer = threading.Timer(GIT_TIMEOUT_S, kill)
    timer.daemon = True
    timer.start()
    stdout = proc.stdout
    if stdout is None:  # pragma: no cover - Popen was given stdout=PIPE
        raise UsageError(f"{what}: no output stream")
    try:
        out = _read_capped(stdout, what)
    except DiffError:
        proc.kill()
        raise
    finally:
        timer.cancel()
        stdout.close()
        proc.wait()
    if fired.is_set():
        raise UsageError(f"{what} took longer than {GIT_TIMEOUT_S:.0f} s", hint="review a narrower range")
    return out


# --- the repository's review rules ----------------------------------------------------------

MAX_INSTRUCTION_FILE_BYTES = 256 * 1024


def read_instruction_file(
    names: Sequence[str], *, git_range: str | None = None, cwd: str | None = None
) -> tuple[str, str] | None:
    """The first of `names` that exists, as (name, text): from the base of `git_range` when
    one is given (the rules that judge a change come from before it), else from the working
    tree. Names outside the repository (absolute, `..`) are never read; a file over 256 KiB is
    cut. Nothing found, or git unable to say: None (a run without rules, never an error)."""
    base = _range_base(git_range, cwd) if git_range else None
    for name in names:
        parts = Path(name).parts
        if not name.strip() or Path(name).is_absolute() or ".." in parts or name.startswith("-"):
            continue
        data = _git_blob(base, name, cwd) if base else _work_tree_file(Path(cwd or ".") / name)
        if data is not None:
            return name, data[:MAX_INSTRUCTION_FILE_BYTES].decode("utf-8", "replace")
    return None


def _work_tree_file(path: Path, limit: int = MAX_INSTRUCTION_FILE_BYTES) -> bytes | None:
    try:
        if not path.is_file():
            return None
        with path.open("rb") as fh:
            return fh.read(limit)
    except OSError:
        return None


def _git_quiet(argv: Sequence[str], cwd: str | None) -> bytes | None:
    env = {**os.environ, "LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}
    try:
        proc = subprocess.run(
            ["git", *argv],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _range_base(range_spec: str, cwd: str | None) -> str | None:
    """`A...B` → merge-base of A and B; `A..B` → A; `A` (against the work tree) → A."""
    if range_spec.startswith("-"):
        return None
    if "..." in range_spec:
        left, right = (side or "HEAD" for side in range_spec.split("...", 1))
        if right.startswith("-"):
            return None
        out = _git_quiet(["merge-base", left, right], cwd)
        return out.decode().strip() if out else None
    left = range_spec.split("..", 1)[0] or "HEAD"
    return left if not left.startswith("-") else None


def _git_blob(base: str, name: str, cwd: str | None) -> bytes | None:
    return _git_quiet(["cat-file", "blob", f"{base}:{name}"], cwd)


# --- the head version of reviewed files (review.context) ------------------------------------

MAX_CONTEXT_FILE_BYTES = 1024 * 1024


def head_texts(files: Sequence[FileDiff], *, git_range: str | None = None, cwd: str | None = None) -> dict[str, str]:
    """The new version of each file that has added or context lines, for code context: from
    the range's right side with `--git A...B` / `A..B`, else from the working tree. A working
    tree file is used only when every line the diff shows on the new side matches it (a diff
    file need not describe this checkout). Files over 1 MiB, binary or unreadable: left out."""
    right = _range_right(git_range) if git_range else None
    root = Path(cwd or ".").resolve()
    out: dict[str, str] = {}
    for f in files:
        if f.binary or f.status == "deleted" or not f.hunks or not _canonical(f.path):
            continue
        if not right and not (root / f.path).resolve().is_relative_to(root):
            continue  # a symlink out of the tree
        data = _git_blob(right, f.path, cwd) if right else _work_tree_file(root / f.path, MAX_CONTEXT_FILE_BYTES + 1)
        if data is None or len(data) > MAX_CONTEXT_FILE_BYTES or b"\x00" in data[:8192]:
            continue
        text = data.decode("utf-8", "replace")
        if right or first_mismatch(f, text) is None:
            out[f.path] = text
    return out


def _canonical(path: str) -> bool:
    """A repository path as git writes it: relative, no `.`/`..`/empty parts. Any other is
    never read for context: the path rules (compliance) match the path as the diff gives it,
    so `docs/../secure/keys.py` must not reach `secure/keys.py`, nor `../x` leave the tree."""
    parts = path.split("/")
    return bool(path) and not path.startswith(("/", "-")) and all(p not in ("", ".", "..") for p in parts)


def _range_right(range_spec: str) -> str | None:
    """`A...B` / `A..B` → B (HEAD when empty); `A` alone compares with the work tree: None."""
    for sep in ("...", ".."):
        if sep in range_spec:
            right = range_spec.split(sep, 1)[1] or "HEAD"
            return None if right.startswith("-") else right
    return None
