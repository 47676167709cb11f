"""Rebuild the head versions of eval cases' files from local git snapshots of their source
repositories, into a folder for `reviewbot eval --head-files DIR` (DIR/<case id>/<path>).

Each case names its repository and commit (`source:`). Where that commit is the diff's base
(the starter set: "every diff applies cleanly to the files at the recorded commit"), the base
files are read with `git show COMMIT:PATH` and the case's diff is applied with `git apply` in a
temporary folder; where the commit is already the head (AACR-Bench's `head_commit`), the files
are read as they are. Either way every file is checked against the diff as `reviewbot eval`
checks it, and a case whose commit is in no snapshot, or whose diff does not apply, is skipped
with a message. Nothing is fetched: this reads the snapshots you pass, never the network.

The output holds the projects' own code under their own licences: keep it outside this
repository (SOURCES.md in it lists each case's repository, commit and licence).

    python evals/head_files.py OUT_DIR --mirror /path/to/flask.git --mirror /path/to/requests.git [CASES...]
    REVIEWBOT_MIRRORS=/m/flask.git:/m/requests.git python evals/head_files.py OUT_DIR

CASES default to evals/cases. A mirror is any git directory or checkout holding the commit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from reviewbot.diff import FileDiff, first_mismatch, parse_diff
from reviewbot.eval.cases import Case, load_cases, plain_case_id

HERE = Path(__file__).resolve().parent


def git(mirror: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(mirror), *args], input=stdin, capture_output=True, check=False,
                          env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_NO_REPLACE_OBJECTS": "1"})


class Mirrors:
    """Which snapshot holds a commit (asked once per commit)."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.found: dict[str, Path | None] = {}

    def holding(self, commit: str) -> Path | None:
        if commit not in self.found:
            self.found[commit] = next((m for m in self.paths
                                       if git(m, "cat-file", "-e", f"{commit}^{{commit}}").returncode == 0), None)
        return self.found[commit]


def wanted(case: Case) -> list[FileDiff]:
    """The files a head version is needed for: added or changed text files with hunks."""
    return [f for f in parse_diff(case.diff).files if f.status != "deleted" and not f.binary and f.hunks]


def at_commit(mirror: Path, commit: str, path: str) -> bytes | None:
    out = git(mirror, "show", f"{commit}:{path}")
    return out.stdout if out.returncode == 0 else None


def by_applying(mirror: Path, commit: str, case: Case, files: list[FileDiff]) -> dict[str, str] | str:
    """The commit is the diff's base: base files + `git apply`. A reason string when not."""
    diff = parse_diff(case.diff)
    with tempfile.TemporaryDirectory(prefix="reviewbot-heads-") as tmp:
        root = Path(tmp)
        for f in diff.files:
            if f.status == "added":
                continue
            old = f.old_path or f.path
            data = at_commit(mirror, commit, old)
            if data is None:
                return f"{old} is not in {commit[:12]}"
            (root / old).parent.mkdir(parents=True, exist_ok=True)
            (root / old).write_bytes(data)
        (root / "case.diff").write_bytes(case.diff)
        # Outside any repository, `git apply` patches the folder's files like patch(1).
        applied = subprocess.run(["git", "apply", "--whitespace=nowarn", "case.diff"], cwd=root,
                                 capture_output=True, check=False, env={**os.environ, "GIT_CEILING_DIRECTORIES": tmp})
        if applied.returncode != 0:
            return "the diff does not apply: " + applied.stderr.decode("utf-8", "replace").strip().splitlines()[0]
        try:
            return {f.path: (root / f.path).read_bytes().decode("utf-8") for f in files}
        except UnicodeDecodeError:
            return "a file is not UTF-8 text"


def as_is(mirror: Path, commit: str, files: list[FileDiff]) -> dict[str, str] | str:
    """The commit is the diff's head: the files as they are there."""
    out: dict[str, str] = {}
    for f in files:
        data = at_commit(mirror, commit, f.path)
        if data is None:
            return f"{f.path} is not in {commit[:12]}"
        out[f.path] = data.decode("utf-8", "replace")
    return out


def heads_for(case: Case, mirrors: Mirrors) -> dict[str, str] | str:
    source = case.source or {}
    commit = source.get("commit", "")
    if len(commit) < 7 or not all(c in "0123456789abcdef" for c in commit.lower()):
        return "no source commit"
    mirror = mirrors.holding(commit)
    if mirror is None:
        return f"commit {commit[:12]} of {source.get('repository', '?')} is in no snapshot given"
    files = wanted(case)
    if not files:
        return "no added or changed text file"
    reasons = []
    for attempt in (lambda: by_applying(mirror, commit, case, files), lambda: as_is(mirror, commit, files)):
        got = attempt()
        if isinstance(got, str):
            reasons.append(got)
            continue
        bad = next(((p, n) for p, t in got.items() for f in files if f.path == p
                    for n in [first_mismatch(f, t)] if n is not None), None)
        if bad is None:
            return got
        reasons.append(f"{bad[0]} does not match the diff at new line {bad[1]}")
    return "; ".join(reasons)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="the folder to write (DIR/<case id>/<path>); keep it outside the repository")
    parser.add_argument("cases", nargs="*", default=[str(HERE / "cases")], help="case files or folders (default: evals/cases)")
    parser.add_argument("--mirror", action="append", default=[], type=Path,
                        help="a local git snapshot (bare or checkout); repeat. Also REVIEWBOT_MIRRORS, separated by ':'")
    args = parser.parse_args(argv)
    paths = [*args.mirror, *(Path(p) for p in os.environ.get("REVIEWBOT_MIRRORS", "").split(os.pathsep) if p)]
    if not paths:
        parser.error("give at least one --mirror (or REVIEWBOT_MIRRORS)")
    mirrors = Mirrors(paths)
    args.out.mkdir(parents=True, exist_ok=True)
    written, skipped, sources = 0, [], []
    for case in load_cases(args.cases):
        got = heads_for(case, mirrors)
        if isinstance(got, str):
            skipped.append((case.id, got))
            continue
        # A case's id and its diff's paths come from case files (downloaded data, maybe): only a
        # plain name and paths that stay inside its folder are ever removed or written.
        root = args.out.resolve()
        folder = root / case.id
        unsafe = [p for p in got if not (folder / p).resolve().is_relative_to(folder)]
        if not plain_case_id(case.id) or unsafe:
            skipped.append((case.id, "its id is not a plain folder name, or a path leaves its folder"))
            continue
        if folder.exists():
            shutil.rmtree(folder)
        for path, text in got.items():
            (folder / path).parent.mkdir(parents=True, exist_ok=True)
            (folder / path).write_text(text, encoding="utf-8", newline="")
        written += 1
        src = case.source or {}
        sources.append(f"| `{case.id}` | {src.get('repository', '?')} | `{src.get('commit', '?')}` | "
                       f"{src.get('licence', '?')} | {len(got)} |")
    (args.out / "SOURCES.md").write_text(
        "# Head files rebuilt by evals/head_files.py\n\nThe projects' own code, under their own licences "
        "(the case's `source`); the changes are the eval cases'. Do not commit this folder.\n\n"
        "| case | repository | commit | licence | files |\n| --- | --- | --- | --- | ---: |\n"
        + "\n".join(sources) + "\n", encoding="utf-8")
    for cid, reason in skipped:
        print(f"skipped {cid}: {reason}", file=sys.stderr)
    print(f"head files for {written} case(s) in {args.out}; {len(skipped)} skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
