"""Eval support (edge: reads files): labelled cases. Input: paths to case files or folders —
reviewbot's own format (one YAML case per file, or JSONL with one case per line; see
docs/eval-format.md) and the AACR-Bench layout (`cases/NNN-….json` beside `NNN-….diff`,
read in place) — and, optionally, the head versions of the files a case touches (its
`head_files`, or a folder per case id under a `--head-files` directory), for
`review.context`. Output: frozen `Case` values. Bad input is a one-line UsageError."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ..diff import Diff, first_mismatch, parse_diff
from ..errors import ReviewbotError, UsageError
from ..vocab import SEVERITIES, Side

MAX_CASE_BYTES = 5 * 1024 * 1024  # a case file or diff larger than this is refused, not read

# AACR-Bench's issue types in reviewbot's category words (the prompt asks for these).
AACR_CATEGORIES = {
    "code defect": "bug",
    "security vulnerability": "security",
    "performance": "performance",
    "maintainability and readability": "maintainability",
}


@dataclass(frozen=True)
class Region:
    """Lines of one file on one side: what a label points at, or what must not be flagged."""

    path: str
    side: Side
    start: int
    end: int  # inclusive

    def near(self, path: str | None, side: str, start: int, end: int, tolerance: int) -> bool:
        """Same file and side, and the ranges overlap or lie within `tolerance` lines."""
        return (
            path == self.path and side == self.side and start <= self.end + tolerance and end >= self.start - tolerance
        )


@dataclass(frozen=True)
class Label:
    region: Region
    category: str  # reviewbot's words: bug, security, performance, maintainability, …
    min_severity: str  # a finding below this does not count as finding the label
    description: str


@dataclass(frozen=True)
class Case:
    id: str
    diff: bytes
    labels: tuple[Label, ...]
    must_not_flag: tuple[Region, ...] = ()
    rejected: tuple[Label, ...] = ()  # comments reviewers rejected: a finding here is noise
    title: str | None = None
    description: str | None = None
    source: Mapping[str, str] | None = None  # repository, commit, licence, note
    origin: str = ""  # the file it was read from
    # The head (new) version of files the diff adds or changes, by diff path: what
    # `review.context` shows around each hunk. Empty: the case is reviewed from its diff alone.
    head_files: Mapping[str, str] = field(default_factory=dict)
    head_from: tuple[Path, ...] = ()  # the folder or stored files they were read from


def load_cases(paths: Iterable[str | Path]) -> list[Case]:
    """Every case under the given files and folders, sorted by id; ids must be unique."""
    cases: list[Case] = []
    for path in paths:
        cases.extend(_load_path(Path(path)))
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            raise UsageError(
                f"two cases have the id {case.id!r}: {seen[case.id]} and {case.origin}",
                hint="case ids must be unique across everything passed to `reviewbot eval`",
            )
        seen[case.id] = case.origin
    if not cases:
        raise UsageError(
            "no eval cases found in " + ", ".join(str(p) for p in paths),
            hint="pass case files (*.yaml, *.jsonl) or folders holding them; see docs/eval-format.md",
        )
    return sorted(cases, key=lambda c: c.id)


def _load_path(path: Path) -> Iterator[Case]:
    if path.is_dir():
        aacr = path / "cases" if (path / "cases").is_dir() else path
        if any(aacr.glob("*.json")) and any(aacr.glob("*.diff")):
            yield from (_aacr_case(p) for p in sorted(aacr.glob("*.json")))
            return
        yield from _load_folder(path)
        return
    if not path.is_file():
        raise UsageError(f"no such case file or folder: {path}")
    yield from _load_file(path)


def _load_folder(path: Path) -> Iterator[Case]:
    """Every case file under `path`, except files inside a case's head-file folder (a head
    file may well be YAML): all are read first, so the order of the walk does not matter; an
    error in a file that turns out to be a head file is no error."""
    read: list[tuple[Path, list[Case] | UsageError]] = []
    for child in sorted(path.rglob("*")):
        if child.suffix in (".yaml", ".yml", ".jsonl") and child.is_file():
            try:
                read.append((child, list(_load_file(child))))
            except UsageError as exc:
                read.append((child, exc))
    heads = {p.resolve() for _, got in read if isinstance(got, list) for case in got for p in case.head_from}
    for child, got in read:
        here = child.resolve()
        if any(here == h or h in here.parents for h in heads):
            continue
        if isinstance(got, UsageError):
            raise got
        yield from got


def _load_file(path: Path) -> Iterator[Case]:
    text = _read(path).decode("utf-8", errors="replace")
    if path.suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield _own_case(_json(line, f"{path}:{number}"), path, f"{path}:{number}")
        return
    if path.suffix == ".json":
        data = _json(text, str(path))
        yield (
            _aacr_case(path)
            if "labels" in data and "source" in data and "pr_url" in data.get("source", {})
            else _own_case(data, path, str(path))
        )
        return
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({type(exc).__name__})") from exc
    yield _own_case(data, path, str(path))


def _own_case(data: Any, path: Path, where: str) -> Case:
    if not isinstance(data, dict):
        raise UsageError(f"{where}: a case must be a mapping with id, diff and labels")
    _only(
        data,
        {
            "id",
            "diff",
            "diff_file",
            "labels",
            "must_not_flag",
            "title",
            "description",
            "source",
            "language",
            "notes",
            "head_files",
        },
        where,
    )
    if "diff" in data:
        diff = str(data["diff"]).encode("utf-8")
    elif "diff_file" in data:
        diff = _read(path.parent / str(data["diff_file"]))
    else:
        raise UsageError(f"{where}: a case needs `diff` (the text) or `diff_file` (a path beside it)")
    labels = tuple(_label(item, f"{where}: labels[{i}]") for i, item in enumerate(data.get("labels") or []))
    clean = tuple(
        _region(item, f"{where}: must_not_flag[{i}]") for i, item in enumerate(data.get("must_not_flag") or [])
    )
    source = data.get("source")
    case = Case(
        id=_text(data.get("id"), f"{where}: id"),
        diff=diff,
        labels=labels,
        must_not_flag=clean,
        title=_opt(data.get("title")),
        description=_opt(data.get("description")),
        source={str(k): str(v) for k, v in source.items()} if isinstance(source, dict) else None,
        origin=where,
    )
    if data.get("head_files") is None:
        return case
    return _with_heads(
        case, _stored_heads(data["head_files"], path.parent, f"{where}: head_files"), f"{where}: head_files"
    )


def _label(item: Any, where: str) -> Label:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: a label is a mapping (path, line or lines, category, severity, description)")
    _only(item, {"path", "side", "line", "lines", "category", "severity", "description"}, where)
    severity = str(item.get("severity", "info")).lower()
    if severity not in SEVERITIES:
        raise UsageError(f"{where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return Label(
        _region(item, where, label=True),
        str(item.get("category", "")).lower(),
        severity,
        _opt(item.get("description")) or "",
    )


def _region(item: Any, where: str, *, label: bool = False) -> Region:
    if not isinstance(item, dict):
        raise UsageError(f"{where}: must be a mapping with path and line or lines")
    if not label:
        _only(item, {"path", "side", "line", "lines", "note"}, where)
    side = str(item.get("side", "RIGHT")).upper()
    if side not in ("RIGHT", "LEFT"):
        raise UsageError(f"{where}: side must be RIGHT (new lines) or LEFT (old lines)")
    lines = item.get("lines", item.get("line"))
    if isinstance(lines, int) and not isinstance(lines, bool):
        start = end = lines
    elif isinstance(lines, list) and len(lines) == 2 and all(isinstance(n, int) for n in lines):
        start, end = lines
    else:
        raise UsageError(f"{where}: give `line: N` or `lines: [FIRST, LAST]`")
    if start < 1 or end < start:
        raise UsageError(f"{where}: lines must be 1-based with FIRST <= LAST")
    return Region(_text(item.get("path"), f"{where}: path"), side, start, end)  # type: ignore[arg-type]


def _aacr_case(path: Path) -> Case:
    """AACR-Bench subset layout: labels with from_line/to_line, lower-case sides, its own
    category names, no severity; `rejected` comments count as noise when a finding hits one."""
    data = _json(_read(path).decode("utf-8", errors="replace"), str(path))
    diff_path = path.with_suffix(".diff")
    if not diff_path.is_file():
        raise UsageError(f"{path}: its diff {diff_path.name} is missing beside it")

    def label(item: Mapping[str, Any]) -> Label:
        start, end = int(item["from_line"]), int(item["to_line"])
        region = Region(
            str(item["path"]),
            "LEFT" if str(item.get("side")).lower() == "left" else "RIGHT",
            min(start, end),
            max(start, end),
        )
        category = AACR_CATEGORIES.get(str(item.get("category", "")).lower(), str(item.get("category", "")).lower())
        return Label(region, category, "info", str(item.get("text", "")))

    try:
        labels = tuple(label(i) for i in data.get("labels", []))
        rejected = tuple(label(i) for i in data.get("rejected", []))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: not an AACR-Bench case ({type(exc).__name__}: {exc})") from exc
    src = data.get("source", {})
    source = {
        "repository": str(src.get("repo", "")),
        "commit": str(src.get("head_commit", "")),
        "licence": str(src.get("repo_licence", {}).get("spdx_guess", ""))
        if isinstance(src.get("repo_licence"), dict)
        else "",
        "pr_url": str(src.get("pr_url", "")),
        "labels": "AACR-Bench (Apache-2.0)",
    }
    return Case(
        id=str(data.get("id") or path.stem),
        diff=_read(diff_path),
        labels=labels,
        rejected=rejected,
        source=source,
        origin=str(path),
    )


# --- head versions of the touched files (review.context) ------------------------------------


def attach_head_files(cases: Iterable[Case], folder: str | Path) -> list[Case]:
    """Head files for the cases that carry none, from `folder/<case id>/<path in the diff>`
    (e.g. a cache made from repository snapshots, kept outside the repository). A case with
    no folder there keeps its diff alone; a folder for an id not passed is not read."""
    root = Path(folder)
    if not root.is_dir():
        raise UsageError(f"--head-files: no such folder: {root}")
    out = []
    for case in cases:
        where = root / case.id
        if case.head_files or not plain_case_id(case.id) or not where.is_dir():
            out.append(case)
            continue
        out.append(_with_heads(case, _stored_heads(where.name, root, str(where)), str(where)))
    return out


def plain_case_id(name: str) -> bool:
    """A case id usable as one folder name (no separator, not `.`/`..`): what a head-file
    folder per case may be named, so no id reaches outside the folder that holds them."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def _stored_heads(spec: Any, base: Path, where: str) -> tuple[dict[str, Path], tuple[Path, ...]]:
    """`head_files` as written: a folder (relative to the case file) whose tree mirrors the
    repository's paths, or a mapping of diff path -> stored file. (path -> file, what to skip
    when walking a folder of cases)."""
    if isinstance(spec, str) and spec.strip():
        folder = base / spec
        if not folder.is_dir():
            raise UsageError(f"{where}: no such folder: {folder}")
        files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}
        return files, (folder,)
    if isinstance(spec, dict) and spec:
        files = {}
        for key, value in spec.items():
            if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
                raise UsageError(
                    f"{where}: map each path in the diff to a stored file, e.g. `src/app.py: heads/app.py`"
                )
            files[key] = base / value
        return files, tuple(files.values())
    raise UsageError(f"{where}: give a folder (the files at their repository paths) or a mapping of path -> file")


def _with_heads(case: Case, stored: tuple[dict[str, Path], tuple[Path, ...]], where: str) -> Case:
    """The case with its head files read and checked: each is a text file the diff adds or
    changes, and shows every line the diff shows on the new side, where the diff shows it."""
    files, origin = stored
    diff = _parsed(case.diff, where)
    targets = {f.path: f for f in diff.files if f.status != "deleted" and not f.binary}
    texts: dict[str, str] = {}
    for name, stored_at in files.items():
        target = targets.get(name)
        if target is None:
            raise UsageError(
                f"{where}: head file {name!r} is not a file the diff adds or changes",
                hint="head files are the new versions of the diff's files, at the paths the diff gives them",
            )
        try:
            text = _read(stored_at).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{where}: head file {name!r} is not UTF-8 text") from exc
        line = first_mismatch(target, text)
        if line is not None:
            raise UsageError(
                f"{where}: head file {name!r} does not match the diff at new line {line}",
                hint="a head file is the file after the change: the diff applied to the base version",
            )
        texts[name] = text
    return replace(case, head_files=texts, head_from=origin)


def _parsed(diff: bytes, where: str) -> Diff:
    try:
        return parse_diff(diff)
    except ReviewbotError as exc:
        raise UsageError(f"{where}: the case's diff cannot be read: {exc.message}") from exc


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_CASE_BYTES:
            raise UsageError(f"{path}: {size:,} bytes is over the {MAX_CASE_BYTES:,}-byte limit for a case file")
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc


def _only(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise UsageError(f"{where}: unknown key {unknown[0]!r}", hint="known keys: " + ", ".join(sorted(allowed)))


def _text(value: Any, where: str) -> str:
    if not isinstance(value, (str, int)) or not str(value).strip():
        raise UsageError(f"{where} is missing or empty")
    return str(value)


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)
