"""Benchmark: start-up. `reviewbot --help` as a subprocess (median of N; target <= 0.3 s),
and, for `--help`, `config schema` and `review --dry-run`, whether litellm was imported
(it must not be: its import takes seconds) and the slowest imports (`python -X importtime`).

    python benchmarks/startup.py [--runs 7] [--top 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import benchlib
import synthetic

TARGET_HELP_S = 0.3


def importtime(args: list[str]) -> tuple[list[tuple[int, int, int, str]], set[str]]:
    """(depth, self µs, cumulative µs, module) per import, and the top-level packages."""
    run = benchlib.run_measured([sys.executable, "-X", "importtime", "-m", "reviewbot", *args])
    rows: list[tuple[int, int, int, str]] = []
    for line in run.stderr.decode("utf-8", "replace").splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, total, name = (part for part in line[len("import time:") :].split("|", 2))
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append((depth, int(own), int(total), name.strip()))
    return rows, {name.split(".")[0] for *_, name in rows}


def offenders(rows: list[tuple[int, int, int, str]], count: int) -> list[tuple[str, float, str]]:
    """The slowest imports made directly by the program (not by another import), which add
    up to the whole import time, with the module of most own time inside each."""
    out: list[tuple[str, float, str]] = []
    for i, (depth, own, total, name) in enumerate(rows):
        if depth != 0:
            continue
        inner = [(own, name)]  # -X importtime lists a module's imports before the module
        for d, sub_own, _, sub in reversed(rows[:i]):
            if d == 0:
                break
            inner.append((sub_own, sub))
        heaviest_own, heaviest = max(inner)
        out.append((name, total / 1e6, f"{heaviest} ({heaviest_own / 1e6:.3f} s own)"))
    out.sort(key=lambda r: -r[1])
    return [*out[:count], ("(all imports)", sum(r[1] for r in out), "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=8, help="slowest imports shown per command")
    args = parser.parse_args()
    print(
        benchlib.header(
            "startup: `reviewbot --help` and what each command imports",
            f"python benchmarks/startup.py --runs {args.runs} --top {args.top}",
        )
    )
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        config = Path(tmp, "bench.yml")
        config.write_text(benchlib.config_yaml())
        diff = benchlib.real_diff("small-flask-5063")
        if diff is None:
            diff = Path(tmp, "small.diff")
            diff.write_text(synthetic.to_git_diff(synthetic.synthetic_files(3, 100)))
        commands = {
            "--help": ["--help"],
            "config schema": ["config", "schema"],
            "review --dry-run (small PR)": [
                "review",
                "--config",
                str(config),
                "--diff",
                str(diff),
                "--dry-run",
                "--format",
                "json",
                "--no-progress",
            ],
        }
        rows = []
        slowest: dict[str, list[tuple[str, float, str]]] = {}
        clean: dict[str, bool] = {}
        for label, argv in commands.items():
            run, walls = benchlib.median_run([benchlib.REVIEWBOT, *argv], args.runs)
            imports, packages = importtime(argv)
            clean[label] = "litellm" not in packages
            slowest[label] = offenders(imports, args.top)
            rows.append(
                (label, run.wall, min(walls), max(walls), run.maxrss_mb, len(imports), "no" if clean[label] else "YES")
            )
    print(f"## Wall time as a subprocess (median of {args.runs} after a warm-up run)\n")
    print(benchlib.table(("command", "median s", "min s", "max s", "peak RSS MB", "modules", "litellm imported"), rows))
    for label, top in slowest.items():
        print(f"\n## Slowest imports: reviewbot {label} (-X importtime, cumulative seconds)\n")
        print(benchlib.table(("imported by the program", "seconds", "heaviest module inside"), top))
    print()
    print(
        benchlib.verdict(
            f"`reviewbot --help` <= {TARGET_HELP_S} s", rows[0][1] <= TARGET_HELP_S, f"median {rows[0][1]:.3f} s"
        )
    )
    for label, ok in clean.items():
        print(
            benchlib.verdict(f"litellm not imported by `reviewbot {label}`", ok, "not imported" if ok else "imported")
        )


if __name__ == "__main__":
    main()
