"""Benchmark: what happens after the work. Runs `reviewbot review` on a small PR against a fake
OpenAI-compatible model on 127.0.0.1 (fixed latency) as a subprocess and measures

- teardown: from the moment `main()` has finished (report written, exit code known) to the
  moment the process is gone — interpreter shutdown, atexit hooks, thread joins, gc;
- our own share of the wall time: wall time minus the time the fake model spent answering
  (requests are sent one at a time, concurrency 1, so model time is latency x requests);
- Ctrl-C: SIGINT sent while a request is in flight at a model that stalls for 60 s, to the
  moment the process has exited (and its exit code).

    python benchmarks/teardown.py [--runs 5] [--latency 0.3]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib

sys.path.insert(0, str(benchlib.ROOT / "tests"))
from fakes.openai_server import FakeOpenAIServer, FakeReply

MODEL = "openai/bench-model"
SMALL = benchlib.ROOT / "examples" / "mixed-pr.diff"
TARGETS = {"teardown_s": 0.2, "ctrl_c_s": 1.0, "own_share": 0.5}
# Runs reviewbot's main() and writes the wall-clock time at which it returned to a file:
# everything after that instant is teardown.
LAUNCH = (
    "import sys, time\n"
    "from reviewbot.cli import main\n"
    "stamp = sys.argv.pop(1)\n"
    "try:\n"
    "    main()  # as the console script calls it\n"
    "finally:\n"
    "    open(stamp, 'w').write(repr(time.time()))\n"
)


def config(path: Path, api_base: str, timeout: float = 60) -> Path:
    path.write_text(
        f"models:\n  cheap: [{MODEL}]\n  frontier: [{MODEL}]\n"
        f'endpoints:\n  {MODEL}: {{api_base: "{api_base}", api_key_env: BENCH_KEY, timeout: {timeout}}}\n'
        f"prices:\n  {MODEL}: {{input: 1.0, output: 2.0}}\n"
        "review:\n  concurrency: 1\n",
        encoding="utf-8",
    )
    return path


def env() -> dict[str, str]:
    return benchlib.bench_env({"BENCH_KEY": "sk-bench-0123456789"})


def one_run(tmp: Path, latency: float) -> tuple[float, float, float, int]:
    """(wall, teardown, model time, exit code) of one review of the small PR."""
    reply = '{"summary": "Looks fine.", "findings": []}'
    with FakeOpenAIServer(responder=lambda _: FakeReply.slow(latency, reply)) as server:
        cfg = config(tmp / "c.yml", server.base_url)
        stamp = tmp / "stamp"
        stamp.unlink(missing_ok=True)
        start = time.time()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                LAUNCH,
                str(stamp),
                "review",
                "--diff",
                str(SMALL),
                "--config",
                str(cfg),
                "--no-progress",
            ],
            env=env(),
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        end = time.time()
        calls = len(server.requests)
    done = float(stamp.read_text())
    return end - start, end - done, calls * latency, proc.returncode


def ctrl_c(tmp: Path) -> tuple[float, int, str]:
    """(seconds from SIGINT to exit, exit code, stderr) with a request in flight."""
    with FakeOpenAIServer(responder=lambda _: FakeReply.slow(60, "{}")) as server:
        cfg = config(tmp / "stall.yml", server.base_url)
        proc = subprocess.Popen(
            [sys.executable, "-m", "reviewbot", "review", "--diff", str(SMALL), "--config", str(cfg), "--no-progress"],
            env=env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        while not server.requests and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        return time.monotonic() - sent, proc.returncode, err.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency", type=float, default=0.3)
    args = parser.parse_args()
    print(
        benchlib.header(
            "teardown, own share of a small PR, Ctrl-C",
            f"python benchmarks/teardown.py --runs {args.runs} --latency {args.latency}",
        )
    )
    benchlib.ensure_bytecode()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        one_run(tmp, args.latency)  # warm-up: bytecode, page cache
        rows, teardowns, shares = [], [], []
        for i in range(args.runs):
            wall, teardown, model, code = one_run(tmp, args.latency)
            own = wall - model
            teardowns.append(teardown)
            shares.append(own / wall)
            rows.append(
                [i + 1, f"{wall:.2f}", f"{model:.2f}", f"{own:.2f}", f"{own / wall:.0%}", f"{teardown:.3f}", code]
            )
        print(benchlib.table(["run", "wall s", "model s", "own s", "own share", "teardown s", "exit"], rows))
        stops = [ctrl_c(tmp) for _ in range(3)]
    print()
    print(
        benchlib.table(
            ["Ctrl-C run", "SIGINT to exit s", "exit", "stderr"],
            [[i + 1, f"{s:.3f}", c, e] for i, (s, c, e) in enumerate(stops)],
        )
    )
    print()
    teardown = benchlib.median(teardowns)
    print(
        benchlib.verdict(
            "teardown",
            teardown <= TARGETS["teardown_s"],
            f"median {teardown:.3f} s (target ≤ {TARGETS['teardown_s']} s)",
        )
    )
    share = benchlib.median(shares)
    print(
        benchlib.verdict(
            "own share",
            True,
            f"median {share:.0%} of a small PR's wall time is reviewbot's own work "
            "(start-up with the litellm import, planning, parsing, rendering, teardown)",
        )
    )
    worst = max(s for s, _, _ in stops)
    print(
        benchlib.verdict(
            "ctrl-c",
            worst <= TARGETS["ctrl_c_s"] and all(c == 130 for _, c, _ in stops),
            f"worst {worst:.3f} s from SIGINT to exit, exit 130 (target ≤ {TARGETS['ctrl_c_s']} s)",
        )
    )


if __name__ == "__main__":
    main()
