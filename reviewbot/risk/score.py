"""Risk scoring (pure): one FileDiff and the config's risk rules -> a FileRisk. Adds up the
signals (signals.py) that match the path and the added lines, the size of the change, removed
tests and the config's own escalate rules (user regexes with a time limit), and says why."""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from dataclasses import dataclass
from typing import Any

from ..config import RiskConfig, Tier
from ..diff import FileDiff
from ..errors import ConfigError
from ..ignore import glob_match
from .signals import (
    _CASED_GATES,
    _CONFIG_FILE,
    _LINE_RULES,
    _LOWER_GATES,
    _PATH_RULES,
    _PATH_WORD_SEP,
    _SECRET_ASSIGN,
    _TEST_FILE,
    _TEST_WEAK,
    _normalise,
    _test_names,
    file_kind,
)


@dataclass(frozen=True)
class FileRisk:
    path: str
    score: int
    tier: Tier
    reasons: tuple[str, ...]  # e.g. ("path matches **/auth/**", "adds subprocess call with shell=True")
    # True when an escalate rule from the config sent the file to frontier: the budget
    # downgrades such files last.
    rule_escalated: bool = False
    # risk.granularity: hunk — the tier of each hunk, when only some of them are risky.
    hunk_tiers: tuple[Tier, ...] | None = None


MAX_SCORE = 100
NO_SIGNAL = "no risk signal"
LARGE_CHANGE_POINTS = 30
REMOVED_TESTS_POINTS = 35
# Config rules decide the tier on their own; their points only rank files for the budget.
RULE_POINTS = 60
SAME_CATEGORY_POINTS = 10
# Rank of reasons that decide the tier whatever the score: shown before every scored signal.
_DECISIVE = 1000


@dataclass(frozen=True)
class _Signal:
    rank: int  # ordering strength: the rule's points, or _DECISIVE for tier-deciding rules
    points: int  # what it adds to the score
    reason: str
    lines: tuple[int, ...] = ()  # the added lines a line rule matched (new-file numbers)


class _Added:
    """The added lines of one file, joined once. Their line numbers and offsets (for
    bisecting a regex match back to its line) are built only when something matched: most
    files match nothing."""

    def __init__(self, file: FileDiff, texts: list[str]) -> None:
        self._file = file
        self.texts = texts
        self.joined = "\n".join(texts)
        self._starts: list[int] | None = None
        self._numbers: list[int] | None = None

    def lines_matching(
        self, regex: Any, confirm: re.Pattern[str] | None = None, timeout: float | None = None
    ) -> list[int]:
        """Numbers of the added lines `regex` matches. With `timeout` (a `regex`-module
        pattern), raises TimeoutError when matching takes longer than that in total."""
        found: list[int] = []
        last = -1
        matches = regex.finditer(self.joined) if timeout is None else regex.finditer(self.joined, timeout=timeout)
        for m in matches:
            if self._starts is None:
                self._starts = [0, *itertools.accumulate(len(t) + 1 for t in self.texts[:-1])]
            i = bisect.bisect_right(self._starts, m.start()) - 1
            if i != last and (confirm is None or confirm.search(self.texts[i])):
                found.append(self._line_number(i))
                last = i
        return found

    def _line_number(self, i: int) -> int:
        """New-file number of the i-th added line."""
        if self._numbers is None:
            self._numbers = [ln.new_no or 0 for h in self._file.hunks for ln in h.lines if ln.kind == "+"]
        return self._numbers[i]


def assess(file: FileDiff, rules: RiskConfig) -> FileRisk:
    """Score one file. Reasons come strongest first; `no risk signal` when there are none."""
    added, removed = _split(file)
    norm = _normalise(file.path)
    kind = file_kind(file.path)
    prose = kind in ("docs", "data")
    lines = [] if prose else [s for s in _line_signals(norm, added, skip=_TEST_WEAK if kind == "test" else frozenset())]
    signals = [
        *_path_signals(norm, added, keywords=not prose),
        *lines,
        *_size_and_test_signals(file.path, added, removed, rules),
    ]
    escalations = _escalations(file.path, added, rules)
    signals += escalations
    score = min(MAX_SCORE, sum(s.points for s in signals))
    cheap = next((g for g in rules.cheap_paths if glob_match(file.path, g)), None)
    if cheap is not None:
        tier: Tier = "cheap"
        signals.append(_Signal(_DECISIVE + 1, 0, f"path matches {cheap} in cheap_paths (config): never escalated"))
    else:
        tier = "frontier" if escalations or score >= rules.threshold else "cheap"
    split = _hunk_tiers(file, signals, lines) if tier == "frontier" and rules.granularity == "hunk" else None
    if split is not None:
        risky = [h.new_start for h, t in zip(file.hunks, split, strict=True) if t == "frontier"]
        signals.append(
            _Signal(
                -1,
                0,
                f"hunk-level: the hunk(s) at line {', '.join(map(str, risky))} go to the frontier "
                f"tier, the other {split.count('cheap')} to cheap (risk.granularity: hunk)",
            )
        )
    reasons = _ordered(signals) or (NO_SIGNAL,)
    return FileRisk(
        file.path, score, tier, reasons, rule_escalated=bool(escalations) and cheap is None, hunk_tiers=split
    )


def _hunk_tiers(file: FileDiff, signals: list[_Signal], lines: list[_Signal]) -> tuple[Tier, ...] | None:
    """Per hunk, frontier when it holds a line a line rule matched, else cheap; None when the
    whole file must go (a path, size, removed-test or config signal scored too) or every hunk
    is risky. Only files escalated by their added lines alone are split."""
    if len(file.hunks) < 2 or any(s.points for s in signals if s not in lines):
        return None
    marked = {n for s in lines for n in s.lines}
    split: tuple[Tier, ...] = tuple(
        "frontier" if any(ln.kind == "+" and ln.new_no in marked for ln in h.lines) else "cheap" for h in file.hunks
    )
    return split if "cheap" in split and "frontier" in split else None


def _split(file: FileDiff) -> tuple[_Added, list[str]]:
    """The added lines and the removed texts, in one pass over the file's lines: this runs
    for every diff line, and one loop costs half of a comprehension per kind of line."""
    added: list[str] = []
    removed: list[str] = []
    for hunk in file.hunks:
        for ln in hunk.lines:
            if ln.kind == "+":
                added.append(ln.text)
            elif ln.kind == "-":
                removed.append(ln.text)
    return _Added(file, added), removed


def _ordered(signals: list[_Signal]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for s in sorted(signals, key=lambda s: -s.rank):  # stable: ties keep discovery order
        seen.setdefault(s.reason, None)
    return tuple(seen)


def _path_signals(norm: str, added: _Added, *, keywords: bool = True) -> list[_Signal]:
    """Path rules add up (auth code inside a migration is both), once per kind of path.
    `keywords`: also the keyword rules (not for docs and data: `docs/ssl.md` is no TLS code)."""
    words = _PATH_WORD_SEP.split(norm)
    word_set = set(words)
    out: list[_Signal] = []
    matched: set[str] = set()
    for rule in _PATH_RULES:
        if rule.what in matched:
            continue
        if rule.regex is None:
            if not keywords or rule.words.isdisjoint(word_set):
                continue
            shown = next(w for w in words if w in rule.words)
        else:
            m = rule.regex.search(norm)
            if m is None:
                continue
            shown = rule.shown or m.group(0).strip("/")
        matched.add(rule.what)
        out.append(_Signal(rule.points, rule.points, f"path matches {rule.what} ({shown})"))
    if (
        not matched & {"key or secrets file", "settings file"}
        and _CONFIG_FILE.search(norm)
        and _SECRET_ASSIGN.search(added.joined)
    ):
        out.append(_Signal(45, 45, "path matches configuration with secrets (config/*.yml)"))
    return out


def _line_signals(norm_path: str, added: _Added, skip: frozenset[str] = frozenset()) -> list[_Signal]:
    """One reason per rule that matched. A category counts in full once; a further kind in
    the same category adds SAME_CATEGORY_POINTS, so five spellings of one shell call do not
    outweigh an eval, yet md5 passwords plus ECB plus random tokens still add up."""
    text = added.joined
    if not text:
        return []
    lowered = text.lower()
    present = {g for g in _LOWER_GATES if g in lowered}
    present.update(g for g in _CASED_GATES if g in text)
    counted: set[str] = set()
    out: list[_Signal] = []
    for rule in _LINE_RULES:
        if (
            rule.category in skip
            or rule.gates.isdisjoint(present)
            or (rule.paths is not None and not rule.paths.search(norm_path))
        ):
            continue
        lines = sorted(
            {n for gate, rx in rule.patterns if gate in present for n in added.lines_matching(rx, rule.confirm)}
        )
        if lines:
            points = SAME_CATEGORY_POINTS if rule.category in counted else rule.points
            counted.add(rule.category)
            out.append(_Signal(rule.points, points, f"adds {rule.what} ({_cite(lines)})", tuple(lines)))
    return out


def _cite(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(str(n) for n in lines[:3])
    return f"lines {shown}" + (f" and {len(lines) - 3} more" if len(lines) > 3 else "")


def _size_and_test_signals(path: str, added: _Added, removed: list[str], rules: RiskConfig) -> list[_Signal]:
    out: list[_Signal] = []
    n_added, n_removed = len(added.texts), len(removed)
    if n_added + n_removed >= rules.large_change_lines:
        out.append(
            _Signal(LARGE_CHANGE_POINTS, LARGE_CHANGE_POINTS, f"large rewrite ({n_added + n_removed} changed lines)")
        )
    names = _removed_test_names(added, removed)
    if names:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.append(_Signal(REMOVED_TESTS_POINTS, REMOVED_TESTS_POINTS, f"removes tests ({shown})"))
    elif n_removed > n_added and _TEST_FILE.search(path):
        out.append(
            _Signal(
                REMOVED_TESTS_POINTS,
                REMOVED_TESTS_POINTS,
                f"removes tests (test file loses lines: -{n_removed} +{n_added})",
            )
        )
    return out


def _removed_test_names(added: _Added, removed: list[str]) -> list[str]:
    """Test definitions on removed lines that are not defined again on added lines (a test
    that only moved or was re-indented is not a removal)."""
    if not removed:
        return []
    gone = _test_names(removed)
    if not gone:
        return []
    kept = set(_test_names(added.texts))
    return [n for n in dict.fromkeys(gone) if n not in kept]


def _escalations(path: str, added: _Added, rules: RiskConfig) -> list[_Signal]:
    """The config's escalate rules: each match is decisive; together they add RULE_POINTS
    once, so the budget ranks these files above those that merely scored."""
    out = [_Signal(_DECISIVE, 0, f"path matches {g} (config)") for g in rules.escalate_paths if glob_match(path, g)]
    if added.joined:
        for pattern in rules.escalate_patterns:
            try:
                lines = added.lines_matching(_compiled(pattern), timeout=USER_REGEX_TIMEOUT_S)
            except TimeoutError:  # a pattern that backtracks on this text: escalate, never hang
                out.append(
                    _Signal(
                        _DECISIVE,
                        0,
                        f"pattern '{pattern}' (config) gave up after "
                        f"{USER_REGEX_TIMEOUT_S} s on the added lines: escalated to be safe",
                    )
                )
                continue
            if lines:
                out.append(_Signal(_DECISIVE, 0, f"added {_cite(lines)} matches '{pattern}' (config)"))
    if out:
        out[0] = _Signal(_DECISIVE, RULE_POINTS, out[0].reason)
    return out


# A user pattern (risk.escalate_patterns) runs on text a PR author wrote, so it must not be
# able to hang a run: `(a+)+$` on one long line backtracks for hours with `re`. It runs on the
# `regex` engine (tiktoken's dependency; Python's syntax) with a time limit per file; google-re2
# would be linear but rejects Python syntax users write (look-arounds, backreferences).
USER_REGEX_TIMEOUT_S = 0.25


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    import regex

    try:
        # MULTILINE: `^` and `$` in a user pattern mean the start and end of an added line.
        return regex.compile(pattern, regex.MULTILINE | regex.VERSION0)
    except (regex.error, re.error) as exc:
        raise ConfigError(
            f"risk.escalate_patterns: {pattern!r} is not a valid regex ({exc})",
            hint="escape special characters, e.g. 'pickle\\.loads'",
        ) from exc
