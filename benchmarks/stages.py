"""Benchmark: the hot paths one by one, the measurements that used to be timed tests (parse
speed, a clipped megabyte line, risk over 100,000 added lines, token counting, redaction of
hostile one-megabyte lines). Prints the best of N runs of each next to the bound the old test
asserted, and checks that redaction time grows linearly with the input.

    python benchmarks/stages.py [--runs 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import benchlib
import synthetic

# Built at run time so that secret scanners do not flag this file.
_AWS_ID = "AKIA" + "IOSFODNN7Q4ZX2WB"
_GITHUB = "ghp" + "_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"
# Lines built to make a backtracking pattern quadratic; name -> one-kilobyte-ish unit.
_HOSTILE: tuple[tuple[str, str], ...] = (
    ("plain letters", "a"), ("key", "key"), ("password=", "password="),
    ("api_key = 'x' ", "api_key = 'x' "), ("pass ", "pass "), ("AKIA", "AKIA"),
    ("eyJ", "eyJ"), ("sk-", "sk-"), ("eyJa.", "eyJa."), ("BEGIN PRIVATE KEY", "-----BEGIN PRIVATE KEY-----"),
    ("://a:", "://a:"), ("a=", "a="), ("Aa1", "Aa1"), ("a.b-c_", "a.b-c_"),
    ("two token kinds", f"{_AWS_ID} {_GITHUB} "),
)  # fmt: skip


def best_of(runs: int, fn: Callable[[], object], *, cpu: bool = False) -> float:
    clock = time.process_time if cpu else time.perf_counter
    best = float("inf")
    for _ in range(runs):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def parse_rows(runs: int) -> list[tuple[object, ...]]:
    from reviewbot.diff import parse_diff

    data = synthetic.to_git_diff(synthetic.synthetic_files()).encode()
    long_line = (
        b"diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1,2 @@\n-a\n+" + b"x" * 3_000_000 + b"\n+end\n"
    )
    return [
        ("parse 3,000 files / 100,000 changed lines (5.6 MB)", best_of(runs, lambda: parse_diff(data)), 1.0),
        ("parse a diff with one 3 MB line (clipped)", best_of(runs, lambda: parse_diff(long_line)), 1.0),
    ]


def select_and_redact_rows(runs: int) -> list[tuple[object, ...]]:
    """The synthetic PR's other per-line stages: the ignore rules, and redaction of every
    hunk's lines as the chunker calls it (one Redactor for the run, CPU seconds)."""
    from reviewbot.diff import parse_diff
    from reviewbot.ignore import select_files
    from reviewbot.redact import Redactor

    diff = parse_diff(synthetic.to_git_diff(synthetic.synthetic_files()))
    reviewable, _ = select_files(diff)
    hunks = [[ln.text for ln in h.lines] for f in reviewable for h in f.hunks]

    def redact_all() -> None:
        redactor = Redactor()
        for lines in hunks:
            redactor.redact_lines(lines)

    return [
        (
            f"select files: the synthetic PR's {len(diff.files):,} files (CPU s)",
            best_of(runs, lambda: select_files(diff), cpu=True),
            None,
        ),
        (
            f"redact the synthetic PR's {len(hunks):,} reviewable hunks (CPU s)",
            best_of(runs, redact_all, cpu=True),
            None,
        ),
    ]


def risk_rows(runs: int) -> list[tuple[object, ...]]:
    from reviewbot.config import RiskConfig
    from reviewbot.diff import DiffLine, FileDiff, Hunk, parse_diff
    from reviewbot.ignore import select_files
    from reviewbot.risk import assess

    samples = [
        "    result = compute(value, other)  # adjust",
        "def handler(request):",
        "    q = session.query(User).filter(User.id == uid)",
        "    log.info('update %s', name)",
        "const t = `hello ${name}`;",
        "        items[i] = items[i].strip()",
    ]
    files = []
    for n in range(3000):
        count = 100_000 // 3000 + (1 if n < 100_000 % 3000 else 0)
        lines = tuple(DiffLine("+", None, i + 1, samples[(n + i) % len(samples)]) for i in range(count))
        files.append(FileDiff(f"src/pkg{n % 40}/module_{n}.py", None, "modified", (Hunk(0, 0, 1, count, "", lines),)))
    rules = RiskConfig(escalate_paths=["**/auth/**"], escalate_patterns=[r"pickle\.loads"], cheap_paths=["docs/**"])
    mixed, _ = select_files(parse_diff(synthetic.to_git_diff(synthetic.synthetic_files())))
    return [
        (
            "risk: 100,000 added lines in 3,000 files (CPU s)",
            best_of(runs, lambda: [assess(f, rules) for f in files], cpu=True),
            1.0,
        ),
        (
            f"risk: the synthetic PR's {len(mixed):,} reviewable files (CPU s)",
            best_of(runs, lambda: [assess(f, rules) for f in mixed], cpu=True),
            None,
        ),
    ]


def token_rows(runs: int) -> list[tuple[object, ...]]:
    from reviewbot import tokens

    source = benchlib.real_diff("medium-pip-10202")
    if source is not None:
        lines = source.read_bytes().decode("utf-8", "replace").splitlines()
    else:
        lines = synthetic.to_git_diff(synthetic.synthetic_files(300, 10_000)).splitlines()
    text = "\n".join((lines * (100_000 // len(lines) + 1))[:100_000])
    parts = [text[i : i + 1500] for i in range(0, len(text), 1500)]

    def load() -> None:
        tokens.reset()
        tokens.count_tokens("x")

    rows: list[tuple[object, ...]] = [("load the tokenizer (o200k_base)", best_of(runs, load), None)]
    label = "medium-pip-10202" if source is not None else "synthetic"
    rows += [
        (
            f"count 100,000 diff lines ({label}, {len(text) / 1e6:.1f} MB) as one text",
            best_of(runs, lambda: tokens.count_tokens(text)),
            1.0,
        ),
        (
            f"count the same as {len(parts):,} texts (count_tokens_many)",
            best_of(runs, lambda: tokens.count_tokens_many(parts)),
            None,
        ),
        ("count the same, one text per call", best_of(runs, lambda: [tokens.count_tokens(p) for p in parts]), None),
    ]
    return rows


def redact_rows(runs: int) -> tuple[list[tuple[object, ...]], float]:
    from reviewbot.redact import redact

    rows: list[tuple[object, ...]] = []
    worst_ratio = 0.0
    for name, unit in _HOSTILE:
        one = unit * (1_000_000 // len(unit) + 1)
        two = one + one
        t1 = best_of(max(1, runs // 2), lambda line=one: redact(line))  # type: ignore[misc]
        t2 = best_of(max(1, runs // 2), lambda line=two: redact(line))  # type: ignore[misc]
        ratio = t2 / t1 if t1 > 0 else 0.0
        worst_ratio = max(worst_ratio, ratio)
        rows.append((f"redact a 1 MB line of {name!r}", t1, 2.0, f"x{ratio:.1f} at 2 MB"))
    return rows, worst_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions; the best is shown")
    args = parser.parse_args()
    print(
        benchlib.header(
            "stages: the hot paths one by one (best of N)", f"python benchmarks/stages.py --runs {args.runs}"
        )
    )
    rows = [
        (*r, "")
        for r in parse_rows(args.runs)
        + select_and_redact_rows(args.runs)
        + risk_rows(args.runs)
        + token_rows(args.runs)
    ]
    redacted, worst = redact_rows(args.runs)
    rows += redacted
    shown = [
        (
            what,
            secs,
            "" if bound is None else f"< {bound:g} s",
            "" if bound is None else ("PASS" if secs < bound else "MISS"),
            note,
        )  # type: ignore[operator]
        for what, secs, bound, note in rows
    ]
    print(benchlib.table(("measurement", "best s", "old test bound", "", "note"), shown))
    print()
    # Twice the input should take about twice the time; a quadratic pattern takes four times.
    print(
        benchlib.verdict(
            "redaction is linear", worst < 3.0, f"worst 2 MB / 1 MB time ratio x{worst:.1f} (quadratic would be x4)"
        )
    )


if __name__ == "__main__":
    benchlib.ensure_bytecode()
    main()
