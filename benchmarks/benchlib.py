"""Benchmark support: where things are, subprocess timing with peak memory, tables and
PASS/MISS lines. Benchmarks print figures; they never assert (speed belongs here, not in
the test suite)."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The real PR diffs live beside the repository (../shared), never inside it.
SHARED_DIFFS = ROOT.parent / "shared" / "data" / "diffs"
REAL_DIFFS = ("small-flask-5063", "medium-pip-10202", "large-pip-4712")
VENV_BIN = Path(sys.executable).parent
REVIEWBOT = str(VENV_BIN / "reviewbot")
# Realistic price ratio (USD per Mtok, input/output): a small model vs a frontier model.
CHEAP_MODEL, FRONTIER_MODEL = "openai/gpt-5.4-mini", "openai/gpt-5.5"
CHEAP_PRICE, FRONTIER_PRICE = (0.40, 1.60), (5.0, 25.0)


def real_diff(name: str) -> Path | None:
    path = SHARED_DIFFS / f"{name}.diff"
    return path if path.is_file() else None


def config_yaml(*, api_base: str | None = None, extra: str = "") -> str:
    """A config with the two benchmark models and their prices (and a fake endpoint)."""
    lines = [
        "models:",
        f"  cheap: [{CHEAP_MODEL}]",
        f"  frontier: [{FRONTIER_MODEL}]",
        "prices:",
        f"  {CHEAP_MODEL}: {{input: {CHEAP_PRICE[0]}, output: {CHEAP_PRICE[1]}}}",
        f"  {FRONTIER_MODEL}: {{input: {FRONTIER_PRICE[0]}, output: {FRONTIER_PRICE[1]}}}",
    ]
    if api_base:
        lines.append("endpoints:")
        for model in (CHEAP_MODEL, FRONTIER_MODEL):
            lines += [f"  {model}:", f"    api_base: {api_base}", "    max_input_tokens: 400000"]
    return "\n".join(lines) + "\n" + extra


@dataclass(frozen=True)
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds of the child (all its threads)
    maxrss_mb: float  # peak resident memory of the child
    returncode: int
    stdout: bytes
    stderr: bytes


# Runs the command from a small, freshly exec'd Python and reports the child's wall time
# and peak RSS. Measuring from here directly would be wrong on Linux: a child spawned with
# vfork/fork starts from this (large) process's memory high-water mark.
_LAUNCHER = """
import json, os, subprocess, sys, time
args, result = json.loads(sys.argv[1]), sys.argv[2]
start = time.perf_counter()
proc = subprocess.Popen(args)
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - start
with open(result, "w") as fh:
    json.dump({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
               "rc": os.waitstatus_to_exitcode(status)}, fh)
"""
# The environment runs Python with PYTHONDONTWRITEBYTECODE=1, so without this every start
# would compile every module from source; an installed package has its bytecode. The cache
# goes to a temporary folder, never into the repository.
PYCACHE = Path(tempfile.gettempdir()) / "reviewbot-bench-pycache"


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    env.update(extra or {})
    return env


def ensure_bytecode() -> None:
    """Re-run this script once with the bytecode cache on (see PYCACHE), so in-process
    import times are those of an installed package."""
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, *sys.argv], bench_env())


def run_measured(
    args: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | Path | None = None, stdin: bytes | None = None
) -> Run:
    """Run a command; its wall time and its own peak RSS."""
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        out_path, err_path, result = Path(tmp, "out"), Path(tmp, "err"), Path(tmp, "result.json")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            subprocess.run(
                [sys.executable, "-c", _LAUNCHER, json.dumps(list(args)), str(result)],
                stdout=out,
                stderr=err,
                env=env if env is not None else bench_env(),
                cwd=cwd,
                input=stdin,
                check=False,
            )
        if not result.is_file():
            raise RuntimeError(f"launcher failed: {err_path.read_text()[-2000:]}")
        facts = json.loads(result.read_text())
        return Run(
            facts["wall"],
            facts["cpu"],
            facts["maxrss_kb"] / 1024,
            facts["rc"],
            out_path.read_bytes(),
            err_path.read_bytes(),
        )


def median_run(args: Sequence[str], runs: int, *, warmup: bool = True, **kwargs: Any) -> tuple[Run, list[float]]:
    """The run with the median wall time, and all wall times (after one untimed warm-up
    run that fills the bytecode cache)."""
    if warmup:
        run_measured(args, **kwargs)
    results = sorted((run_measured(args, **kwargs) for _ in range(runs)), key=lambda r: r.wall)
    return results[len(results) // 2], [r.wall for r in results]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table (readable in a terminal, pasteable in README)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    numeric = [all(_is_num(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return (
            "| "
            + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True))
            + " |"
        )

    sep = (
        "| " + " | ".join(("-" * (w - 1) + ":") if n else "-" * w for w, n in zip(widths, numeric, strict=True)) + " |"
    )
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def _cell(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 10 else f"{v:,.1f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def _is_num(s: str) -> bool:
    return s.replace(",", "").replace(".", "", 1).replace("-", "", 1).replace("%", "").replace("$", "").isdigit()


def verdict(name: str, ok: bool, detail: str) -> str:
    return f"{'PASS' if ok else 'MISS'}  {name}: {detail}"


def header(title: str, reproduce: str) -> str:
    """Title, machine, date and the command that reproduces the figures."""
    cpus = os.cpu_count()
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"# {title}\n{when} · Python {platform.python_version()} · {platform.machine()} · "
        f"{cpus} CPU(s) · load average {load} (other work on the machine slows wall times)\n"
        f"reproduce: {reproduce}\n"
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
