"""Benchmark: review quality with and without code context and review rules, measured with
`reviewbot eval` on the starter set against one OpenAI-compatible server (e.g. llama-cpp-
python's server on 127.0.0.1). Policies: review.context none / enclosing / file, each with
review rules off and on (a short REVIEW.md-like text as `review.instructions`). Each policy
is one `reviewbot eval` subprocess at concurrency 1, so its wall time is its own. Prints per
policy: recall, precision, F1, findings, false alarms, input tokens (the diff's and the code
context's), failed calls and wall time; the JSON results stay in --out.

The head files come from `--head-files DIR` (made by evals/head_files.py from repository
snapshots; keep it outside the repository). Nothing here needs the network: the only server
is the one --api-base names.

    python benchmarks/context_eval.py --api-base http://127.0.0.1:8080/v1 --head-files /tmp/heads \\
        [--model openai/smollm2] [--window 4096] [--contexts none,enclosing,file] [--rules off,on] \\
        [--out DIR] [--cache DIR] [CASES...]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import benchlib
import yaml

# What a team might write in REVIEW.md: general, not tuned to the starter set's labels.
RULES = """\
Review rules of this repository:
- Report defects a reviewer would block the merge for: security holes, wrong results,
  crashes, resource leaks, races, errors that are silently ignored.
- Treat everything from a request, a file or the environment as untrusted input.
- Do not comment on style, naming, formatting or missing comments.
- Point at the added line that holds the problem and say how to fix it.
"""


def policy_config(args: argparse.Namespace, context: str, rules: bool) -> dict[str, Any]:
    review: dict[str, Any] = {
        "concurrency": 1,
        "max_output_tokens": args.max_output_tokens,
        "max_chunk_tokens": args.max_chunk_tokens,
        "context": context,
        "context_tokens": args.context_tokens,
        "instruction_files": [],
    }
    if rules:
        review["instructions"] = RULES
    return {
        "models": {"cheap": [args.model], "frontier": [args.model], "summary": "cheap"},
        "endpoints": {
            args.model: {"api_base": args.api_base, "timeout": args.timeout, "max_input_tokens": args.window}
        },
        "prices": {args.model: {"input": 0, "output": 0}},
        "review": review,
    }


def run_policy(args: argparse.Namespace, name: str, config: dict[str, Any], out: Path) -> dict[str, Any]:
    path = out / f"{name}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    result = out / f"{name}.json"
    argv = [
        benchlib.REVIEWBOT,
        "eval",
        *(str(Path(c).resolve()) for c in args.cases),
        "--config",
        str(path),
        "--concurrency",
        "1",
        "--format",
        "json",
        "-o",
        str(result),
        "--no-progress",
    ]
    if args.head_files:
        argv += ["--head-files", str(Path(args.head_files).resolve())]
    if args.cache:
        argv += ["--cache", str(Path(args.cache).resolve())]
    run = benchlib.run_measured(argv, env=benchlib.bench_env({}), cwd=out)
    if not result.is_file():
        print(f"{name}: exit {run.returncode}\n{run.stderr.decode('utf-8', 'replace')[-1500:]}")
        return {"policy": name, "wall": run.wall, "error": f"exit {run.returncode}"}
    data = json.loads(result.read_text(encoding="utf-8"))["policies"][0]
    data["wall"], data["exit"] = run.wall, run.returncode
    return data


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cases", nargs="*", default=[str(benchlib.ROOT / "evals" / "cases")])
    parser.add_argument(
        "--api-base", required=True, help="the OpenAI-compatible server (e.g. http://127.0.0.1:8080/v1)"
    )
    parser.add_argument("--model", default="openai/smollm2")
    parser.add_argument("--head-files", help="DIR/<case id>/<path>: the cases' head files (evals/head_files.py)")
    parser.add_argument("--contexts", default="none,enclosing,file")
    parser.add_argument("--rules", default="off,on")
    parser.add_argument("--window", type=int, default=4096, help="the server's context window (llama.cpp n_ctx)")
    parser.add_argument("--max-chunk-tokens", type=int, default=1500)
    parser.add_argument("--max-output-tokens", type=int, default=512)
    parser.add_argument("--context-tokens", type=int, default=1500, help="review.context_tokens (per chunk)")
    parser.add_argument("--timeout", type=int, default=300)
    parser.add_argument("--cache", help="reply cache (re-scoring a recorded run costs nothing)")
    parser.add_argument("--out", help="folder for the configs and JSON results (default: a temporary one)")
    args = parser.parse_args()
    cmd = " ".join(["python benchmarks/context_eval.py", *sys.argv[1:]])
    print(benchlib.header("context_eval: review quality with and without code context and rules", cmd))
    out = Path(args.out or tempfile.mkdtemp(prefix="reviewbot-context-eval-"))
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for context in args.contexts.split(","):
        for rules in args.rules.split(","):
            name = f"context-{context}-rules-{rules}"
            started = time.strftime("%H:%M:%S")
            data = run_policy(args, name, policy_config(args, context, rules == "on"), out)
            print(f"  {started} {name}: {data.get('wall', 0):.0f} s", flush=True)
            rows.append(data)
    print(f"\nresults: {out}\n")
    header = [
        "policy",
        "found",
        "recall",
        "precision",
        "F1",
        "findings",
        "false alarms",
        "input tokens",
        "diff tokens",
        "context tokens",
        "calls",
        "failed",
        "wall s",
    ]
    table = [header]
    for d in rows:
        if "error" in d:
            table.append([d["policy"], d["error"], *[""] * (len(header) - 2)])
            continue
        table.append(
            [
                d["policy"],
                f"{d['found']}/{d['labels']}",
                pct(d["recall"]),
                pct(d["precision"]),
                pct(d["f1"]),
                str(d["findings"]),
                str(d["false_alarms"]),
                f"{d['input_tokens']:,}",
                f"{d['diff_tokens']:,}",
                f"{d['context_tokens']:,}",
                str(d["calls"]),
                str(d["failed_calls"]),
                f"{d['wall']:.0f}",
            ]
        )
    print(benchlib.table(table[0], table[1:]))
    print("\nrules text (review.instructions when rules are on):\n" + RULES)


if __name__ == "__main__":
    main()
