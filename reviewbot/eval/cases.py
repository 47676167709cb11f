"""Eval support (edge: reads files): labelled cases. Input: paths to case files or folders —
reviewbot's own format (one YAML case per file, or JSONL with one case per line; see
docs/eval-format.md) and the AACR-Bench layout (`cases/NNN-….json` beside `NNN-….diff`,
read in place). Output: frozen `Case` values. Bad input is a one-line UsageError."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UsageError
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
        for child in sorted(path.rglob("*")):
            if child.suffix in (".yaml", ".yml", ".jsonl") and child.is_file():
                yield from _load_file(child)
        return
    if not path.is_file():
        raise UsageError(f"no such case file or folder: {path}")
    yield from _load_file(path)


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
        {"id", "diff", "diff_file", "labels", "must_not_flag", "title", "description", "source", "language", "notes"},
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
    return Case(
        id=_text(data.get("id"), f"{where}: id"),
        diff=diff,
        labels=labels,
        must_not_flag=clean,
        title=_opt(data.get("title")),
        description=_opt(data.get("description")),
        source={str(k): str(v) for k, v in source.items()} if isinstance(source, dict) else None,
        origin=where,
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
