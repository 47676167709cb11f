"""Benchmark: planning a very large pull request, i.e. what `reviewbot review --dry-run` does
before and including rendering (parse, select, risk, redact, render, count tokens, pack,
route, budget, estimate, report JSON) on a synthetic 3,000-file / 100,000-changed-line diff.
Prints a per-stage breakdown of one in-process run, the Python heap peak, and the real CLI
timed as a subprocess (median of N) with its peak RSS. Target: <= 2 s after interpreter start.

    python benchmarks/plan_large.py [--files 3000] [--lines 100000] [--runs 3]
"""

from __future__ import annotations

import time

import benchlib

benchlib.ensure_bytecode()
_T0 = time.perf_counter()  # before any reviewbot import: imports are a stage too

import argparse  # noqa: E402
import functools  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import synthetic  # noqa: E402

TARGET_S = 2.0


class StageTimer:
    """Exclusive wall time per stage: a wrapped call's time is charged to its own stage and
    taken out of the stage of whichever wrapped call encloses it. Calls on other threads
    (the token-counting worker) are kept apart: they overlap the main thread's stages."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._local = threading.local()
        self._lock = threading.Lock()

    def add(self, stage: str, seconds: float, calls: int = 0) -> None:
        with self._lock:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + seconds
            self.calls[stage] = self.calls.get(stage, 0) + calls

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack: list[list[float]] = self._local.__dict__.setdefault("stack", [])
            stack.append([0.0])
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                inner = stack.pop()[0]
                worker = threading.current_thread() is not threading.main_thread()
                self.add(f"{WORKER}{stage}" if worker else stage, elapsed - inner, 1)
                if stack:
                    stack[-1][0] += elapsed

        return timed

    def patch(self, owner: Any, name: str, stage: str) -> None:
        if hasattr(owner, name):  # tolerate refactors: an unknown name is just not broken out
            setattr(owner, name, self.wrap(stage, getattr(owner, name)))


WORKER = "(worker thread) "


def instrument(timer: StageTimer) -> None:
    from reviewbot import chunker, cost, pipeline, redact, tokens

    for name, stage in (
        ("select_files", "select files (ignore rules)"),
        ("assess", "risk"),
        ("compliance_group", "compliance groups"),
        ("prepare", "render hunks"),
        ("pack", "pack chunks"),
        ("route_chunks", "route"),
        ("plan_budget", "budget + estimate"),
        ("dry_run", "report (dry run)"),
    ):
        timer.patch(pipeline, name, stage)
    if hasattr(pipeline, "begin_prepare"):
        begin = pipeline.begin_prepare

        def begin_prepare(*args: Any, **kwargs: Any) -> Any:
            finish = timer.wrap("render hunks", begin)(*args, **kwargs)
            return timer.wrap("wait for token counts", finish)

        pipeline.begin_prepare = begin_prepare
    timer.patch(chunker, "count_tokens", "count tokens")
    timer.patch(tokens, "count_tokens_many", "count tokens")  # the worker's calls too
    timer.patch(chunker, "count_tokens_many", "count tokens")
    timer.patch(redact.Redactor, "redact_lines", "redact secrets")
    timer.patch(redact.Redactor, "redact", "redact secrets")
    timer.patch(tokens, "_load", "load tokenizer")
    timer.patch(cost._BundledMap, "get", "load price map")  # a bound classmethod: stays bound


def plan_once(data: bytes, config_text: str, timer: StageTimer | None) -> tuple[Any, str]:
    """The dry-run path of `reviewbot review`, stage by stage as the CLI runs it."""
    from reviewbot import render as reporters
    from reviewbot.diff import parse_diff
    from reviewbot.session import execute, load_effective_config

    wrap = timer.wrap if timer else (lambda _stage, fn: fn)
    cfg, notes = wrap("load config", load_effective_config)({}, text=config_text)
    diff = wrap("parse diff", parse_diff)(data)
    report = execute(diff, cfg, source="synthetic", notes=notes, dry_run=True, audit_log=None)
    text = wrap("render JSON", reporters.render_json)(report)
    return report, text


def in_process(data: bytes, config_text: str) -> float:
    timer = StageTimer()
    t_import, t_import_cpu = time.perf_counter(), time.thread_time()
    import reviewbot.pipeline
    import reviewbot.render
    import reviewbot.session  # noqa: F401

    timer.add("imports", time.perf_counter() - t_import)
    import_cpu = time.thread_time() - t_import_cpu
    instrument(timer)
    collector = CollectorTimer()
    gc.callbacks.append(collector)
    start, start_cpu = time.perf_counter(), time.thread_time()
    try:
        report, text = plan_once(data, config_text, timer)
    finally:
        gc.callbacks.remove(collector)
    total, main_cpu = time.perf_counter() - start, time.thread_time() - start_cpu
    main = {k: v for k, v in timer.seconds.items() if not k.startswith(WORKER)}
    timer.add("other (glue, prompts, cost)", total - sum(v for k, v in main.items() if k != "imports"))
    whole = total + timer.seconds["imports"]
    rows = [
        (stage, secs, f"{secs / whole * 100:.0f}%", timer.calls.get(stage) or "")
        for stage, secs in sorted(timer.seconds.items(), key=lambda kv: (kv[0].startswith(WORKER), -kv[1]))
    ]
    since_start = time.perf_counter() - _T0
    print("## In-process run, per stage (exclusive wall seconds; worker-thread time overlaps)\n")
    print(benchlib.table(("stage", "seconds", "share", "calls"), rows))
    sent = [c for c in report.chunks if c.status != "skipped"]
    print(
        f"\nplan total {total:.2f} s + imports {timer.seconds['imports']:.2f} s; "
        f"{since_start:.2f} s since this script started (includes generating the diff)"
    )
    print(
        f"{len(report.files)} files, {sum(1 for f in report.files if f.reviewed)} reviewed, "
        f"{len(sent)} chunks ({sum(1 for c in sent if c.tier == 'frontier')} frontier), "
        f"{sum(c.tokens for c in sent):,} diff tokens, JSON report {len(text):,} characters"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process so far: {rss:.0f} MB")
    # The main thread's own CPU time does not grow while other programs hold the cores, so
    # it estimates the wall time on an idle machine (the worker's counting overlaps it).
    print(
        f"main-thread CPU: imports {import_cpu:.2f} s + plan {main_cpu:.2f} s = {import_cpu + main_cpu:.2f} s "
        "(≈ wall time on an idle 2-core machine, without interpreter start)"
    )
    passes = ", ".join(f"gen{g} {n}× {secs:.3f} s" for g, (n, secs) in sorted(collector.passes.items()))
    print(
        f"cyclic garbage collector during the plan (inside the stages above): {passes}; "
        f"{collector.collected} objects freed"
    )
    return import_cpu + main_cpu


class CollectorTimer:
    """A gc callback: passes per generation and their wall time. The parse pauses the
    collector; the objects it made are still traversed by the passes that follow."""

    def __init__(self) -> None:
        self.passes: dict[int, tuple[int, float]] = {}
        self.collected = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
            return
        n, secs = self.passes.get(info["generation"], (0, 0.0))
        self.passes[info["generation"]] = (n + 1, secs + time.perf_counter() - self._start)
        self.collected += info["collected"]


def heap_peak(data: bytes, config_text: str) -> float:
    """Python heap peak (MB) of a second, untimed plan run under tracemalloc."""
    tracemalloc.start()
    plan_once(data, config_text, None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def review_args(diff_path: Path, config_path: Path) -> list[str]:
    return [
        "review",
        "--config",
        str(config_path),
        "--diff",
        str(diff_path),
        "--dry-run",
        "--format",
        "json",
        "--no-progress",
    ]


def cli_runs(diff_path: Path, config_path: Path, runs: int) -> tuple[benchlib.Run, list[float]]:
    return benchlib.median_run([benchlib.REVIEWBOT, *review_args(diff_path, config_path)], runs)


# The CLI's entry point, run as the console script does, that writes its main thread's CPU
# seconds (since the process started, interpreter start and imports included) when it ends,
# and how much of it went to counting tokens: when the main thread is done before the worker
# it counts the jobs the worker has not started, which shortens the run but adds to its CPU.
_MAIN_CPU = """
import sys, threading, time
from reviewbot import chunker, tokens
from reviewbot.cli import main

counting = 0.0

def timed(count):
    def count_on_main_thread(texts):
        global counting
        if threading.current_thread() is not threading.main_thread():
            return count(texts)
        start = time.thread_time()
        try:
            return count(texts)
        finally:
            counting += time.thread_time() - start
    return count_on_main_thread

tokens.count_tokens_many = timed(tokens.count_tokens_many)
chunker.count_tokens_many = timed(chunker.count_tokens_many)
try:
    main(sys.argv[2:])
finally:
    with open(sys.argv[1], "w") as fh:
        fh.write(f"{time.thread_time()!r} {counting!r}")
"""


def main_thread_cpu(diff_path: Path, config_path: Path) -> tuple[float, float]:
    """(main-thread CPU seconds, of which counting tokens) of one whole CLI run: unlike wall
    time, CPU time barely grows while other programs hold the cores, so the main thread's
    own work estimates the idle-machine wall time (the worker's counting overlaps it)."""
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        result = Path(tmp, "cpu")
        run = benchlib.run_measured(
            [sys.executable, "-c", _MAIN_CPU, str(result), *review_args(diff_path, config_path)]
        )
        if run.returncode != 0:
            sys.exit(f"CLI failed: {run.stderr.decode()[-2000:]}")
        total, counting = map(float, result.read_text().split())
    return total, counting


def synthetic_runs(
    diff_path: Path, config_path: Path, runs: int
) -> tuple[benchlib.Run, list[float], list[tuple[float, float]]]:
    """The console script's median run and wall times, and the main-thread CPU of as many runs
    through _MAIN_CPU, taken alternately so that both see the same load on the machine."""
    args = [benchlib.REVIEWBOT, *review_args(diff_path, config_path)]
    benchlib.run_measured(args)  # warm-up: fills the bytecode cache
    timed: list[benchlib.Run] = []
    cpu: list[tuple[float, float]] = []
    for _ in range(runs):
        timed.append(benchlib.run_measured(args))
        cpu.append(main_thread_cpu(diff_path, config_path))
    timed.sort(key=lambda r: r.wall)
    return timed[len(timed) // 2], [r.wall for r in timed], cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="CLI runs (the median is reported)")
    args = parser.parse_args()
    cmd = f"python benchmarks/plan_large.py --files {args.files} --lines {args.lines} --runs {args.runs}"
    print(benchlib.header("plan_large: parse + plan a large PR (dry run)", cmd))
    files = synthetic.synthetic_files(args.files, args.lines)
    data = synthetic.to_git_diff(files).encode()
    mix = synthetic.summary(files)
    lines = data.count(b"\n")
    print(f"synthetic diff: {len(data) / 1e6:.1f} MB, {lines:,} lines; mix {mix}\n")
    config_text = benchlib.config_yaml()
    idle_estimate = in_process(data, config_text)
    print(f"Python heap peak of one plan (tracemalloc, separate run): {heap_peak(data, config_text):.0f} MB\n")

    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        diff_path, config_path = Path(tmp, "synthetic.diff"), Path(tmp, "bench.yml")
        diff_path.write_bytes(data)
        config_path.write_text(config_text)
        rows = []
        run, walls, cpu = synthetic_runs(diff_path, config_path, args.runs)
        results = [("synthetic", run, walls)]
        for name in benchlib.REAL_DIFFS:
            if (path := benchlib.real_diff(name)) is not None:
                results.append((name, *cli_runs(path, config_path, args.runs)))
        for name, run, walls in results:
            if run.returncode != 0:
                sys.exit(f"CLI failed on {name}: {run.stderr.decode()[-2000:]}")
            rows.append((name, run.wall, min(walls), max(walls), run.cpu, run.maxrss_mb, f"{len(run.stdout):,}"))
        print(f"## CLI as a subprocess: reviewbot review --diff <case> --dry-run --format json ({args.runs} runs)\n")
        print(
            benchlib.table(
                ("case", "median s", "min s", "max s", "CPU s (median run)", "peak RSS MB", "JSON bytes"), rows
            )
        )
        if not benchlib.real_diff(benchlib.REAL_DIFFS[0]):
            print(f"(real diffs skipped: {benchlib.SHARED_DIFFS} not found)")
        total = [t for t, _ in cpu]
        own = [t - counting for t, counting in cpu]
        print(
            f"\nsynthetic, main-thread CPU from process start ({args.runs} more runs, alternating with the timed ones): "
            f"median {benchlib.median(total):.2f} s "
            f"(min {min(total):.2f}, max {max(total):.2f}); without the token counts it took over from the worker: "
            f"median {benchlib.median(own):.2f} s (min {min(own):.2f}, max {max(own):.2f})"
        )
        print()
        print(
            benchlib.verdict(
                f"dry run of {args.files:,} files / {args.lines:,} lines <= {TARGET_S} s",
                rows[0][1] <= TARGET_S,
                f"median {rows[0][1]:.2f} s, min {rows[0][2]:.2f} s "
                f"(CLI, from process start); idle-machine estimate: main-thread CPU "
                f"{benchlib.median(total):.2f} s (CLI), {idle_estimate:.2f} s (in-process, imports and plan)",
            )
        )


if __name__ == "__main__":
    main()
