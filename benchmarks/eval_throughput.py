"""`reviewbot eval` throughput against a fake model, and the cost of a cached re-score.

The fake model answers every review request after a fixed latency (default 0.5 s) with one
finding on each label the prompt shows (the tests' LabelModel), so the figures are reviewbot's
own orchestration: planning, chunking, prompts, parsing, anchoring, matching, scoring. Cases:
the AACR-Bench subset in ../shared/data/eval/aacr (read in place) when present, plus the
project's own cases (evals/ and tests/eval_cases/).

    .venv/bin/python benchmarks/eval_throughput.py [--latency 0.5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from benchlib import header, table, verdict  # noqa: E402
from test_eval import LabelModel  # noqa: E402

from reviewbot.calling import Target  # noqa: E402
from reviewbot.config import Config  # noqa: E402
from reviewbot.eval.cache import CachingClient  # noqa: E402
from reviewbot.eval.cases import load_cases  # noqa: E402
from reviewbot.eval.run import EvalSettings, Policy, run_eval  # noqa: E402
from reviewbot.llm import LLMRequest, LLMResponse  # noqa: E402

MODEL = "openai/fake-eval"


class SlowLabels:
    def __init__(self, inner: LabelModel, latency: float) -> None:
        self.inner, self.latency = inner, latency

    def complete(self, request: LLMRequest) -> LLMResponse:
        time.sleep(self.latency)
        return replace(self.inner.complete(request), latency_ms=int(self.latency * 1000))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.5)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    print(
        header(
            "reviewbot eval throughput (fake model)",
            f".venv/bin/python benchmarks/eval_throughput.py --latency {args.latency} --concurrency {args.concurrency}",
        )
    )
    sources = [
        p
        for p in (ROOT.parent / "shared" / "data" / "eval" / "aacr", ROOT / "evals", ROOT / "tests" / "eval_cases")
        if p.exists()
    ]
    cases = []
    for source in sources:
        cases += [c for c in load_cases([source]) if c.id not in {x.id for x in cases}]
    print(f"cases: {len(cases)} from {', '.join(str(s.relative_to(ROOT.parent)) for s in sources)}\n")
    policy = Policy(
        "fake",
        Config.model_validate(
            {
                "models": {"cheap": [MODEL], "frontier": [MODEL], "summary": "cheap"},
                "endpoints": {MODEL: {"api_base": "http://127.0.0.1:9/v1"}},
                "prices": {MODEL: {"input": 1.0, "output": 2.0}},
                "review": {"concurrency": 2},
            }
        ),
    )

    def targets(config: Config, plan: object) -> object:
        return lambda model: Target(model, "http://127.0.0.1:9/v1", None, {}, 30.0, "127.0.0.1:9", None)

    settings = EvalSettings(concurrency=args.concurrency)
    model = SlowLabels(LabelModel(cases), args.latency)
    with tempfile.TemporaryDirectory() as tmp:
        cache = CachingClient(model, tmp)
        t0 = time.perf_counter()
        first = run_eval(cases, [policy], cache, targets, settings)  # type: ignore[arg-type]
        live = time.perf_counter() - t0
        calls = cache.misses
        replay = CachingClient(None, tmp, offline=True)
        t0 = time.perf_counter()
        again = run_eval(cases, [policy], replay, targets, settings)  # type: ignore[arg-type]
        cached = time.perf_counter() - t0
    ideal = calls * args.latency / (args.concurrency * 2)
    rows = [
        [
            "live (fake model)",
            len(cases),
            calls,
            f"{live:.2f}",
            f"{len(cases) / live:.2f}",
            f"{100 * (first.policies[0].scores.recall or 0):.1f}%",
        ],
        [
            "cached re-score (offline)",
            len(cases),
            replay.hits,
            f"{cached:.2f}",
            f"{len(cases) / cached:.2f}",
            f"{100 * (again.policies[0].scores.recall or 0):.1f}%",
        ],
    ]
    print(table(["run", "cases", "model calls", "wall s", "cases/s", "recall"], rows))
    print(f"\nideal live wall (calls × latency ÷ (cases in flight × chunks in flight)): {ideal:.2f} s")
    print(
        verdict(
            "cached re-score makes no model call",
            replay.misses == 0 and replay.hits == calls,
            f"{replay.hits} hits, {replay.misses} misses",
        )
    )
    print(
        verdict(
            "cached re-score scores the same",
            again.policies[0].scores == first.policies[0].scores,
            f"recall {again.policies[0].scores.recall}",
        )
    )


if __name__ == "__main__":
    main()
