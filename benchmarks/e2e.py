"""Benchmark: reviewbot end to end against a fake OpenAI-compatible model (fixed latency,
realistic usage) and a fake GitHub, both on 127.0.0.1. Local mode runs `reviewbot review`
as a subprocess; GitHub mode runs `reviewbot github` as a subprocess with the Actions
environment. Cases: the real PR diffs (when ../shared/data/diffs is present) and a
synthetic 3,000-file PR. Per case: wall time, active model time against the ideal
ceil(chunks / concurrency) x latency, prompt tokens / diff tokens, the share of reviewable
changed lines sent, GitHub requests, routed cost against all-frontier, peak memory, and our
own share of a small PR's wall time. Prints PASS/MISS per target.

    python benchmarks/e2e.py [--latency 0.5] [--cases small,medium,large,synthetic]
                             [--modes local,github] [--no-cache]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib
import synthetic

sys.path.insert(0, str(benchlib.ROOT / "tests"))
from fakes.github_server import FakeGitHub
from fakes.openai_server import FakeOpenAIServer, FakeReply

BASE, HEAD = "b2" * 20, "a1" * 20
KEY_ENV = "FAKE_LLM_KEY"
# Cached input is a tenth of the input price at both providers' current list prices.
CACHED = {benchlib.CHEAP_MODEL: 0.04, benchlib.FRONTIER_MODEL: 0.50}
CASES = {"small": "small-flask-5063", "medium": "medium-pip-10202", "large": "large-pip-4712"}
_DIFF_LINE = re.compile(r"(\d+)([+-])")
_FILE_HEADER = re.compile(r"### (.*?)(?: \((?:added|deleted|renamed from |copied from |mode )[^\n]*\))?$")


# --- the fake model ------------------------------------------------------------------------


@dataclass
class Seen:
    at: float  # perf_counter when the request arrived
    model: str
    chunk: bool  # a chunk review (has <diff>), not the PR overview
    prompt_tokens: int
    cached_tokens: int
    sent: set[tuple[str, str, int]]  # (path, side, number) of changed lines in the request


class FakeModel:
    """Answers after a fixed latency with OpenAI-style usage: prompt tokens counted with
    reviewbot's own tokenizer; completions of 150-400 tokens; with caching on, a repeated
    system prompt is reported as cached the way OpenAI does (prefixes of 1,024+ tokens, in
    128-token steps)."""

    def __init__(self, latency: float, cache: bool) -> None:
        from reviewbot.tokens import count_tokens

        self.latency, self.cache, self.count = latency, cache, count_tokens
        self.seen: list[Seen] = []
        self._prefixes: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.seen, self._prefixes = [], set()

    def respond(self, request: dict[str, Any]) -> FakeReply:
        at = time.perf_counter()
        messages = request.get("messages", [])
        model = str(request.get("model", ""))
        contents = [str(m.get("content", "")) for m in messages]
        prompt = openai_prompt_tokens(request, self.count)
        user = contents[-1] if contents else ""
        chunk = "<diff>" in user
        cached = self._cached(model, contents[0] if contents else "")
        sent = _sent_lines(user) if chunk else set()
        with self._lock:
            self.seen.append(Seen(at, model, chunk, prompt, cached, sent))
        rng = random.Random(hashlib.sha256(user.encode("utf-8", "replace")).digest())
        content = (
            json.dumps({"summary": "Refactors the code; nothing risky stands out.", "findings": []})
            if chunk
            else "The pull request refactors several modules; no finding stands out."
        )
        return FakeReply(
            content=content,
            prompt_tokens=prompt,
            completion_tokens=rng.randint(150, 400),
            cached_tokens=cached,
            delay=self.latency,
        )

    def _cached(self, model: str, system: str) -> int:
        if not self.cache:
            return 0
        tokens = self.count(system)
        with self._lock:
            seen = (model, system) in self._prefixes
            self._prefixes.add((model, system))
        return tokens // 128 * 128 if seen and tokens >= 1024 else 0


def openai_prompt_tokens(request: dict[str, Any], count: Any) -> int:
    """Prompt tokens as OpenAI bills a chat request: every message's role and content plus 3
    tokens of framing, 3 more to prime the reply (the OpenAI cookbook's counting recipe), and
    a JSON Schema in response_format, which the model reads too (counted as its JSON text)."""
    tokens = 3
    for message in request.get("messages", []):
        tokens += 3 + count(str(message.get("role", ""))) + count(str(message.get("content", "")))
    response_format = request.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        tokens += count(json.dumps(response_format.get("json_schema", {})))
    return tokens


def _sent_lines(user: str) -> set[tuple[str, str, int]]:
    """Changed lines in a chunk request: `### path` headers (with an optional note), then
    `12+code` / `9-code` lines."""
    body = user.split("<diff>", 1)[1].rsplit("</diff>", 1)[0]
    sent: set[tuple[str, str, int]] = set()
    path = ""
    for line in body.split("\n"):
        header = _FILE_HEADER.match(line)
        if header:
            path = header[1]
            continue
        m = _DIFF_LINE.match(line)
        if m:
            sent.add((path, "L" if m[2] == "-" else "R", int(m[1])))
    return sent


# --- the cases -----------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    diff: bytes
    files_api: list[dict[str, Any]]
    reviewable_lines: set[tuple[str, str, int]] = field(default_factory=set)
    diff_tokens: int = 0
    frontier_files: set[str] = field(default_factory=set)


def files_from_diff(text: str) -> list[dict[str, Any]]:
    """A `git diff` as GitHub's `/pulls/{n}/files` items (no patch for binary files)."""
    items: list[dict[str, Any]] = []
    for block in re.split(r"(?m)^(?=diff --git )", text):
        if not block.startswith("diff --git "):
            continue
        head, _, _ = block.partition("\n@@")
        name = re.search(r"(?m)^\+\+\+ b/(.+)$", head) or re.search(r"(?m)^rename to (.+)$", head)
        old = re.search(r"(?m)^rename from (.+)$", head)
        path = name[1] if name else block.split(" b/", 1)[1].split("\n", 1)[0]
        if "\ndeleted file mode" in head:
            path, status = re.search(r"(?m)^--- a/(.+)$", head)[1], "removed"  # type: ignore[index]
        else:
            status = "added" if "\nnew file mode" in head else "renamed" if old else "modified"
        patch = block[block.index("\n@@") + 1 :].rstrip("\n") if "\n@@" in block else None
        lines = patch.split("\n") if patch else []
        adds = sum(1 for ln in lines if ln.startswith("+"))
        dels = sum(1 for ln in lines if ln.startswith("-"))
        item: dict[str, Any] = {
            "sha": hashlib.sha1(path.encode()).hexdigest(),
            "filename": path,
            "status": status,
            "additions": adds,
            "deletions": dels,
            "changes": adds + dels,
        }
        if patch:
            item["patch"] = patch
        if old:
            item["previous_filename"] = old[1]
        items.append(item)
    return items


def load_cases(names: list[str], synth_files: int, synth_lines: int) -> list[Case]:
    cases = []
    for name in names:
        if name == "synthetic":
            files = synthetic.synthetic_files(synth_files, synth_lines)
            cases.append(
                Case(f"synthetic-{synth_files}", synthetic.to_git_diff(files).encode(), synthetic.to_files_api(files))
            )
            continue
        path = benchlib.real_diff(CASES[name])
        if path is None:
            print(f"(skipped {name}: {benchlib.SHARED_DIFFS} not found)")
            continue
        items_path = path.with_suffix(".files.json")
        items = (
            json.loads(items_path.read_text(encoding="utf-8"))
            if items_path.is_file()
            else files_from_diff(path.read_text(encoding="utf-8", errors="replace"))
        )
        cases.append(Case(CASES[name], path.read_bytes(), items))
    for case in cases:
        _facts(case)
    return cases


def _facts(case: Case) -> None:
    """Reviewable changed lines and diff tokens, as reviewbot's own stages see the diff; and
    which files a risk rule sends to the frontier tier."""
    from reviewbot.config import RiskConfig
    from reviewbot.diff import parse_diff
    from reviewbot.ignore import select_files
    from reviewbot.risk import assess
    from reviewbot.tokens import count_tokens_many

    reviewable, _ = select_files(parse_diff(case.diff))
    texts = []
    for f in reviewable:
        parts = [f"--- a/{f.old_path or f.path}\n+++ b/{f.path}\n"]
        for h in f.hunks:
            parts.append(f"@@ -{h.old_start},{h.old_len} +{h.new_start},{h.new_len} @@ {h.section}".rstrip() + "\n")
            parts.extend(f"{ln.kind}{ln.text}\n" for ln in h.lines)
            case.reviewable_lines.update(
                (f.path, "R" if ln.kind == "+" else "L", ln.new_no or ln.old_no or 0)
                for ln in h.lines
                if ln.kind != " "
            )
        texts.append("".join(parts))
        if assess(f, RiskConfig()).tier == "frontier":
            case.frontier_files.add(f.path)
    case.diff_tokens = sum(count_tokens_many(texts))


# --- runs ----------------------------------------------------------------------------------


@dataclass
class Result:
    case: str
    mode: str
    wall: float
    maxrss_mb: float
    seen: list[Seen]
    report: dict[str, Any] | None
    outputs: dict[str, str]
    github_requests: int | None
    returncode: int
    stderr: str
    github_calls: list[str] = field(default_factory=list)  # "METHOD path" of each GitHub request
    head_files_read: int = 0  # files asked for at the head through GraphQL (review.context)


def config_text(base_url: str, concurrency: int, max_chunk_tokens: int | None = None, review: str = "") -> str:
    lines = ["models:", f"  cheap: [{benchlib.CHEAP_MODEL}]", f"  frontier: [{benchlib.FRONTIER_MODEL}]", "endpoints:"]
    for model in (benchlib.CHEAP_MODEL, benchlib.FRONTIER_MODEL):
        lines += [
            f"  {model}:",
            f"    api_base: {base_url}",
            f"    api_key_env: {KEY_ENV}",
            "    max_input_tokens: 400000",
        ]
    lines.append("prices:")
    for model, (inp, out) in (
        (benchlib.CHEAP_MODEL, benchlib.CHEAP_PRICE),
        (benchlib.FRONTIER_MODEL, benchlib.FRONTIER_PRICE),
    ):
        lines.append(f"  {model}: {{input: {inp}, output: {out}, cached_input: {CACHED[model]}}}")
    lines += ["review:", f"  concurrency: {concurrency}"]
    if max_chunk_tokens:
        lines.append(f"  max_chunk_tokens: {max_chunk_tokens}")
    lines += [f"  {line}" for line in review.splitlines()]  # more review.* keys, e.g. "context: enclosing"
    return "\n".join(lines) + "\n"


def run_local(
    case: Case, model: FakeModel, server: FakeOpenAIServer, tmp: Path, concurrency: int, max_chunk_tokens: int | None
) -> Result:
    config, diff = tmp / "local.yml", tmp / f"{case.name}.diff"
    config.write_text(config_text(server.base_url, concurrency, max_chunk_tokens))
    diff.write_bytes(case.diff)
    model.reset()
    run = benchlib.run_measured(
        [
            benchlib.REVIEWBOT,
            "review",
            "--config",
            str(config),
            "--diff",
            str(diff),
            "--format",
            "json",
            "--no-progress",
        ],
        env=benchlib.bench_env({KEY_ENV: "sk-fake-benchmark"}),
        cwd=tmp,
    )
    report = json.loads(run.stdout) if run.stdout.strip().startswith(b"{") else None
    return Result(
        case.name,
        "local",
        run.wall,
        run.maxrss_mb,
        list(model.seen),
        report,
        {},
        None,
        run.returncode,
        run.stderr.decode("utf-8", "replace")[-1500:],
    )


def run_github(
    case: Case,
    model: FakeModel,
    server: FakeOpenAIServer,
    tmp: Path,
    concurrency: int,
    max_chunk_tokens: int | None,
    *,
    review: str = "",
    head_texts: dict[str, str] | None = None,
) -> Result:
    """`review`: more review.* config lines; `head_texts`: the files at the PR head (what
    review.context reads through GraphQL)."""
    with FakeGitHub("octo", "demo") as gh:
        gh.add_pull(1, case.files_api, base_sha=BASE, head_sha=HEAD, title="A change", body="")
        gh.set_content(".reviewbot.yml", config_text(server.base_url, concurrency, max_chunk_tokens, review), ref=BASE)
        for path, text in (head_texts or {}).items():
            gh.set_content(path, text, ref=HEAD)
        event, outputs, summary = tmp / "event.json", tmp / "github-output", tmp / "step-summary"
        for p in (outputs, summary):
            p.write_text("")
        event.write_text(
            json.dumps(
                {
                    "action": "opened",
                    "number": 1,
                    "pull_request": {
                        "number": 1,
                        "head": {"sha": HEAD, "ref": "feature"},
                        "base": {"sha": BASE, "ref": "main"},
                    },
                }
            )
        )
        (tmp / "runner").mkdir(exist_ok=True)
        env = benchlib.bench_env(
            {
                "GITHUB_REPOSITORY": "octo/demo",
                "GITHUB_API_URL": gh.api_url,
                "GITHUB_TOKEN": gh.token or "",
                "GITHUB_EVENT_NAME": "pull_request",
                "GITHUB_EVENT_PATH": str(event),
                "GITHUB_SHA": "e5" * 20,
                "GITHUB_OUTPUT": str(outputs),
                "GITHUB_STEP_SUMMARY": str(summary),
                "GITHUB_RUN_ID": "1",
                "GITHUB_RUN_ATTEMPT": "1",
                "RUNNER_TEMP": str(tmp / "runner"),
                KEY_ENV: "sk-fake-benchmark",
            }
        )
        model.reset()
        run = benchlib.run_measured([benchlib.REVIEWBOT, "github"], env=env, cwd=tmp)
        values = _outputs(outputs.read_text(encoding="utf-8"))
        return Result(
            case.name,
            "github",
            run.wall,
            run.maxrss_mb,
            list(model.seen),
            None,
            values,
            len(gh.requests),
            run.returncode,
            run.stderr.decode("utf-8", "replace")[-1500:],
            [f"{r.method} {r.path}" for r in gh.requests],
            sum(
                1
                for r in gh.requests
                if r.path.endswith("graphql") and isinstance(r.body, dict)
                for v in (r.body.get("variables") or {}).values()
                if str(v).startswith(f"{HEAD}:")
            ),
        )


def _outputs(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delimiter = line.split("<<", 1)
            values[name] = "\n".join(iter(lambda: next(lines), delimiter))
        elif "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def litellm_import_seconds(runs: int = 3) -> float:
    run, _ = benchlib.median_run([sys.executable, "-c", "import litellm"], runs)
    return run.wall


# --- figures -------------------------------------------------------------------------------


@dataclass
class Figures:
    chunks: int
    active: float
    ideal: float
    prompt_tokens: int
    cached_tokens: int
    sent_share: float
    routed_usd: float | None
    frontier_usd: float | None
    frontier_ok: bool | None


def figures(result: Result, case: Case, latency: float, concurrency: int) -> Figures:
    chunk_calls = [s for s in result.seen if s.chunk]
    arrivals = sorted(s.at for s in chunk_calls)
    active = (arrivals[-1] + latency - arrivals[0]) if arrivals else 0.0
    ideal = math.ceil(len(chunk_calls) / concurrency) * latency
    sent = set().union(*(s.sent for s in chunk_calls)) if chunk_calls else set()
    share = len(sent & case.reviewable_lines) / len(case.reviewable_lines) if case.reviewable_lines else 1.0
    routed = frontier = None
    frontier_ok = None
    if result.report is not None:
        cost = result.report["cost"]
        routed, frontier = cost.get("total_usd"), cost.get("all_frontier_usd")
        chunk_model = {c["id"]: c.get("model") for c in result.report["chunks"]}
        frontier_ok = all(
            chunk_model.get(cid) == benchlib.FRONTIER_MODEL
            for f in result.report["files"]
            if f["path"] in case.frontier_files
            for cid in f["chunks"]
        )
    elif "cost-usd" in result.outputs:
        routed = float(result.outputs["cost-usd"])
    return Figures(
        len(chunk_calls),
        active,
        ideal,
        sum(s.prompt_tokens for s in chunk_calls),
        sum(s.cached_tokens for s in chunk_calls),
        share,
        routed,
        frontier,
        frontier_ok,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the fake model takes per request")
    parser.add_argument("--cases", default="small,medium,large,synthetic")
    parser.add_argument("--modes", default="local,github")
    parser.add_argument("--concurrency", type=int, default=8, help="review.concurrency (the default is 8)")
    parser.add_argument(
        "--max-chunk-tokens", type=int, default=None, help="review.max_chunk_tokens (default: reviewbot's own, 6000)"
    )
    parser.add_argument("--synthetic-files", type=int, default=3000)
    parser.add_argument("--synthetic-lines", type=int, default=100_000)
    parser.add_argument("--no-cache", action="store_true", help="the fake reports no cached prompt tokens")
    args = parser.parse_args()
    cmd = " ".join(["python benchmarks/e2e.py", *sys.argv[1:]])
    print(benchlib.header("e2e: reviewbot against a fake model and a fake GitHub", cmd))
    cases = load_cases(args.cases.split(","), args.synthetic_files, args.synthetic_lines)
    modes = args.modes.split(",")
    model = FakeModel(args.latency, cache=not args.no_cache)
    results: list[tuple[Case, Result, Figures]] = []
    with (
        FakeOpenAIServer(responder=model.respond) as server,
        tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp,
    ):
        warm = Case("warm-up", synthetic.to_git_diff(synthetic.synthetic_files(30, 300)).encode(), [])
        run_local(warm, model, server, Path(tmp), args.concurrency, None)  # fills the bytecode cache
        for case in cases:
            for mode in modes:
                runner = run_local if mode == "local" else run_github
                result = runner(case, model, server, Path(tmp), args.concurrency, args.max_chunk_tokens)
                if result.returncode != 0:
                    print(f"{case.name} {mode}: exit {result.returncode}\n{result.stderr}")
                results.append((case, result, figures(result, case, args.latency, args.concurrency)))
    litellm_s = litellm_import_seconds()
    report(results, args, litellm_s)


def report(results: list[tuple[Case, Result, Figures]], args: argparse.Namespace, litellm_s: float) -> None:
    rows = []
    for case, r, f in results:
        ratio = f.prompt_tokens / case.diff_tokens if case.diff_tokens else 0.0
        cost = (
            f"${f.routed_usd:.4f} / ${f.frontier_usd:.4f} = {f.routed_usd / f.frontier_usd * 100:.0f}%"
            if f.routed_usd is not None and f.frontier_usd
            else (f"${f.routed_usd:.4f}" if f.routed_usd is not None else "-")
        )
        gh = (
            f"{r.github_requests} (≤ {math.ceil(len(case.files_api) / 100) + 5})"
            if r.github_requests is not None
            else "-"
        )
        rows.append(
            (
                case.name,
                r.mode,
                r.wall,
                f.chunks,
                f"{f.active:.1f} / {f.ideal:.1f}",
                f"{f.prompt_tokens:,} / {case.diff_tokens:,} = {ratio:.2f}",
                f"{f.cached_tokens / f.prompt_tokens * 100:.0f}%" if f.prompt_tokens else "-",
                f"{f.sent_share * 100:.1f}%",
                gh,
                cost,
                r.maxrss_mb,
            )
        )
    print(
        f"latency {args.latency} s per request, concurrency {args.concurrency}, "
        f"max_chunk_tokens {args.max_chunk_tokens or 'default (6000)'}, "
        f"prices per Mtok: cheap ${benchlib.CHEAP_PRICE[0]}/${benchlib.CHEAP_PRICE[1]}, "
        f"frontier ${benchlib.FRONTIER_PRICE[0]}/${benchlib.FRONTIER_PRICE[1]} "
        f"(cached input {'on' if not args.no_cache else 'off'})\n"
    )
    print(
        benchlib.table(
            (
                "case",
                "mode",
                "wall s",
                "chunks",
                "active / ideal s",
                "prompt / diff tokens",
                "cached",
                "changed lines sent",
                "GitHub requests",
                "routed / all-frontier",
                "peak RSS MB",
            ),
            rows,
        )
    )
    print()
    breakdown(results)
    own_share(results, args.latency, args.concurrency, litellm_s)
    verdicts(results, args.concurrency)


def breakdown(results: list[tuple[Case, Result, Figures]]) -> None:
    """Where prompt tokens come from: the diff as rendered for the model (every line carries
    its number) and the fixed text of every request (system prompt, instructions, framing)."""
    from reviewbot.prompts import PromptSet
    from reviewbot.tokens import count_tokens

    # The report's chunk tokens are the planned input: the chunk plus the empty prompt.
    empty_prompt = PromptSet.load().overhead_tokens(count_tokens)
    rows = []
    for case, r, f in results:
        if r.report is None or not f.chunks:
            continue
        reviewed = [c["tokens"] for c in r.report["chunks"] if c["status"] == "reviewed"]
        rendered = sum(reviewed) - empty_prompt * len(reviewed)
        overhead = f.prompt_tokens - rendered
        rows.append(
            (
                case.name,
                case.diff_tokens,
                rendered,
                f"+{(rendered / case.diff_tokens - 1) * 100:.0f}%",
                f.chunks,
                overhead,
                overhead // f.chunks,
                f"{f.prompt_tokens / case.diff_tokens:.2f}",
            )
        )
    if rows:
        print("## Where the prompt tokens go (local runs)\n")
        print(
            benchlib.table(
                (
                    "case",
                    "raw diff tokens",
                    "rendered diff tokens",
                    "numbering cost",
                    "requests",
                    "fixed tokens",
                    "per request",
                    "prompt / raw diff",
                ),
                rows,
            )
        )
        print()


def own_share(results: list[tuple[Case, Result, Figures]], latency: float, concurrency: int, litellm_s: float) -> None:
    for case, r, f in results:
        if r.mode != "local" or not case.name.startswith("small"):
            continue
        rounds = math.ceil(f.chunks / concurrency) + (1 if any(not s.chunk for s in r.seen) else 0)
        ours = r.wall - rounds * latency - litellm_s
        print(
            f"our own share of {case.name} (local): wall {r.wall:.2f} s - model latency {rounds} x {latency} s "
            f"- litellm import {litellm_s:.2f} s = {ours:.2f} s ({ours / r.wall * 100:.0f}% of the wall time)\n"
        )
        print(
            benchlib.verdict(
                f"{case.name} local: wall time dominated by model latency and the litellm import",
                ours < rounds * latency + litellm_s,
                f"ours {ours:.2f} s vs {rounds * latency + litellm_s:.2f} s",
            )
            + "\n"
        )


def verdicts(results: list[tuple[Case, Result, Figures]], concurrency: int) -> None:
    for case, r, f in results:
        tag = f"{case.name} {r.mode}"
        print(
            benchlib.verdict(
                f"{tag}: every reviewable changed line sent",
                f.sent_share >= 1.0,
                f"{f.sent_share * 100:.2f}% of {len(case.reviewable_lines):,}",
            )
        )
        if f.ideal:
            print(
                benchlib.verdict(
                    f"{tag}: active time <= 1.25 x ideal",
                    f.active <= 1.25 * f.ideal,
                    f"{f.active:.2f} s vs {f.ideal:.2f} s (x{f.active / f.ideal:.2f})",
                )
            )
        if r.github_requests is not None:
            bound = math.ceil(len(case.files_api) / 100) + 5
            print(
                benchlib.verdict(
                    f"{tag}: GitHub requests <= ceil(files/100) + 5",
                    r.github_requests <= bound,
                    f"{r.github_requests} for {len(case.files_api):,} files (bound {bound})",
                )
            )
        if case.name.startswith("medium") and r.mode == "local":
            ratio = f.prompt_tokens / case.diff_tokens
            print(benchlib.verdict(f"{tag}: prompt tokens <= 1.15 x diff tokens", ratio <= 1.15, f"x{ratio:.2f}"))
        if r.mode == "local" and f.routed_usd and f.frontier_usd:
            share = f.routed_usd / f.frontier_usd
            target = case.name.startswith(("medium", "large"))
            print(
                benchlib.verdict(
                    f"{tag}: routed cost <= 25% of all-frontier, risk-rule files on frontier"
                    + ("" if target else " (not a target for this case)"),
                    share <= 0.25 and bool(f.frontier_ok),
                    f"{share * 100:.0f}%; {len(case.frontier_files)} risk-rule file(s) "
                    f"{'all' if f.frontier_ok else 'NOT all'} reviewed by {benchlib.FRONTIER_MODEL}",
                )
            )


if __name__ == "__main__":
    benchlib.ensure_bytecode()
    main()
