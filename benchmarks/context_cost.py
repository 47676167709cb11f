"""Benchmark: what code context costs. Part 1: context tokens ÷ diff tokens per context mode
(`review.context` none / enclosing / file; capped at review.context_tokens' default and
uncapped) on the shared real PR diffs, planned in process as `reviewbot review --dry-run`
plans them. The head versions of their files come from local git snapshots of the PRs'
repositories holding the sidecar's `head_sha` (a diff whose head commit is in no snapshot is
skipped with a message); with --head-files, the starter eval set and the AACR-Bench subset
too (the cases whose head files are there). Part 2: GitHub
requests of `reviewbot github` on the synthetic 3,000-file PR with context off and on,
against the fake GitHub (the head files come through one GraphQL request per 100 files).
Nothing here uses the network.

    python benchmarks/context_cost.py [--mirror GIT_DIR]... [--head-files DIR]... [--skip-github]
    REVIEWBOT_MIRRORS=/m/pip.git:/m/flask.git python benchmarks/context_cost.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import benchlib
import synthetic

UNCAPPED = 100_000  # review.context_tokens' upper bound
# (column, config keys): each review.context mode at the default cap and uncapped, and
# enclosing with the definitions the change calls (review.context_calls).
VARIANTS: tuple[tuple[str, dict[str, object]], ...] = (
    ("enclosing (cap 1,500)", {"review.context": "enclosing"}),
    ("enclosing (uncapped)", {"review.context": "enclosing", "review.context_tokens": UNCAPPED}),
    ("enclosing + calls (cap 1,500)", {"review.context": "enclosing", "review.context_calls": True}),
    ("file (cap 1,500)", {"review.context": "file"}),
    ("file (uncapped)", {"review.context": "file", "review.context_tokens": UNCAPPED}),
)


@dataclass
class Sample:
    name: str
    diffs: list[tuple[bytes, dict[str, str]]]  # (diff, head texts by path), planned one by one
    note: str


def git_show_many(mirror: Path, commit: str, paths: list[str]) -> dict[str, bytes]:
    """`COMMIT:PATH` blobs in one `git cat-file --batch` (absent paths left out)."""
    request = "".join(f"{commit}:{p}\n" for p in paths).encode()
    out = subprocess.run(
        ["git", "-C", str(mirror), "cat-file", "--batch"], input=request, capture_output=True, check=True
    ).stdout
    found: dict[str, bytes] = {}
    pos = 0
    for path in paths:
        end = out.index(b"\n", pos)
        header = out[pos:end].split()
        pos = end + 1
        if len(header) == 3 and header[1] == b"blob":
            size = int(header[2])
            found[path] = out[pos : pos + size]
            pos += size + 1
    return found


def holding(mirrors: list[Path], commit: str) -> Path | None:
    for m in mirrors:
        if (
            subprocess.run(
                ["git", "-C", str(m), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True, check=False
            ).returncode
            == 0
        ):
            return m
    return None


def real_samples(mirrors: list[Path]) -> list[Sample]:
    from reviewbot.diff import first_mismatch, parse_diff

    out: list[Sample] = []
    for name in benchlib.REAL_DIFFS:
        path = benchlib.real_diff(name)
        sidecar = benchlib.SHARED_DIFFS / f"{name}.json"
        if path is None or not sidecar.is_file():
            print(f"(skipped {name}: not in {benchlib.SHARED_DIFFS})")
            continue
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        head = str(meta.get("head_sha", ""))
        mirror = holding(mirrors, head) if head else None
        if mirror is None:
            print(
                f"(skipped {name}: head commit {head[:12]} of {meta.get('repo')} is in no snapshot given; "
                "pass one with --mirror or REVIEWBOT_MIRRORS)"
            )
            continue
        diff = path.read_bytes()
        files = [f for f in parse_diff(diff).files if f.hunks and not f.binary and f.status != "deleted"]
        blobs = git_show_many(mirror, head, [f.path for f in files])
        texts, stale = {}, 0
        for f in files:
            text = blobs.get(f.path, b"").decode("utf-8", "replace")
            if f.path in blobs and first_mismatch(f, text) is None:
                texts[f.path] = text
            else:
                stale += 1
        note = f"{len(texts)}/{len(files)} files at {meta.get('repo')}@{head[:12]}" + (
            f" ({stale} absent or not matching the diff)" if stale else ""
        )
        out.append(Sample(name, [(diff, texts)], note))
    return out


def eval_samples(head_dirs: list[str]) -> list[Sample]:
    """The starter set and the AACR-Bench subset (read in place), each with the head files
    found for its cases under the --head-files folders."""
    from reviewbot.eval.cases import attach_head_files, load_cases

    sets = [
        ("starter set", benchlib.ROOT / "evals" / "cases"),
        ("AACR-Bench subset", benchlib.ROOT.parent / "shared" / "data" / "eval" / "aacr"),
    ]
    out: list[Sample] = []
    for name, folder in sets:
        if not folder.is_dir():
            print(f"(skipped the {name}: {folder} not found)")
            continue
        cases = load_cases([folder])
        for head_dir in head_dirs:
            cases = attach_head_files(cases, head_dir)
        with_heads = [c for c in cases if c.head_files]
        if not with_heads:
            print(f"(skipped the {name}: no head files for its cases in {', '.join(head_dirs)})")
            continue
        out.append(
            Sample(
                f"{name} ({len(with_heads)} of {len(cases)} cases)",
                [(c.diff, dict(c.head_files)) for c in with_heads],
                f"{sum(len(c.head_files) for c in with_heads)} files (evals/head_files.py)",
            )
        )
    return out


def ratios(samples: list[Sample]) -> list[list[object]]:
    from reviewbot.config import load_config, override
    from reviewbot.cost import Pricer
    from reviewbot.diff import parse_diff
    from reviewbot.pipeline import plan_review

    base = load_config(None, text=benchlib.config_yaml())
    rows: list[list[object]] = []
    for sample in samples:
        parsed = [(parse_diff(diff), texts) for diff, texts in sample.diffs]
        cells: list[object] = []
        diff_tokens = 0
        for _, settings in VARIANTS:
            cfg = override(base, settings)
            context = diff_tokens = 0
            for diff, texts in parsed:
                plan = plan_review(diff, cfg, source=sample.name, pricer=Pricer(cfg.prices), file_texts=texts)
                sent = [r for r in plan.routes if r.models and r.chunk.id not in plan.skip]
                context += sum(r.chunk.context_tokens for r in sent)
                diff_tokens += sum(r.chunk.tokens for r in sent)
            cells.append(f"{context:,} (×{context / diff_tokens:.2f})" if diff_tokens else "—")
        rows.append([sample.name, f"{diff_tokens:,}", *cells, sample.note])
    return rows


def github_requests() -> list[list[object]]:
    """`reviewbot github` on the synthetic PR, context off and on, with a fake model at no
    latency: only the request count matters here."""
    import e2e
    from fakes.openai_server import FakeOpenAIServer

    from reviewbot.diff import parse_diff

    files = synthetic.synthetic_files(3000, 100_000)
    text = synthetic.to_git_diff(files)
    case = e2e.Case("synthetic-3000", text.encode(), synthetic.to_files_api(files))
    heads: dict[str, str] = {}
    for f in parse_diff(text).files:  # the lines the diff shows, blank lines between hunks
        if f.hunks and not f.binary and f.status != "deleted":
            known = {ln.new_no: ln.text for h in f.hunks for ln in h.lines if ln.new_no is not None}
            heads[f.path] = "".join(known.get(n, "") + "\n" for n in range(1, max(known) + 1))
    model = e2e.FakeModel(0.0, cache=False)
    rows: list[list[object]] = []
    with (
        FakeOpenAIServer(responder=model.respond) as server,
        tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp,
    ):
        for label, review in (
            ("none", ""),
            ("enclosing", "context: enclosing"),
            ("enclosing for frontier only", "context: {frontier: enclosing}"),
        ):
            result = e2e.run_github(case, model, server, Path(tmp), 8, None, review=review, head_texts=heads)
            if result.returncode not in (0, 1):
                print(f"github {label}: exit {result.returncode}\n{result.stderr}")
            # The budget, ⌈N/100⌉ + 6, plus one GraphQL request per 100 files the
            # context reads (review.context's own price: ⌈M/100⌉).
            target = math.ceil(len(case.files_api) / 100) + math.ceil(result.head_files_read / 100) + 6
            graphql = sum(1 for call in result.github_calls if call.endswith("graphql"))
            rows.append(
                [
                    label,
                    len(case.files_api),
                    result.github_requests,
                    graphql,
                    result.head_files_read,
                    target,
                    "PASS" if (result.github_requests or 0) <= target else "MISS",
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mirror",
        action="append",
        default=[],
        type=Path,
        help="a local git snapshot (bare or checkout) of a diff's repository; repeat. "
        "Also REVIEWBOT_MIRRORS, separated by ':'",
    )
    parser.add_argument(
        "--head-files",
        action="append",
        default=[],
        help="DIR/<case id>/<path> (evals/head_files.py): add the starter set and the AACR-Bench "
        "subset's cases found there; repeat",
    )
    parser.add_argument("--skip-github", action="store_true", help="only part 1")
    args = parser.parse_args()
    mirrors = [*args.mirror, *(Path(p) for p in os.environ.get("REVIEWBOT_MIRRORS", "").split(os.pathsep) if p)]
    cmd = " ".join(["python benchmarks/context_cost.py", *sys.argv[1:]])
    print(benchlib.header("context_cost: code context tokens and GitHub requests", cmd))
    samples = real_samples(mirrors) + (eval_samples(args.head_files) if args.head_files else [])
    header = ["diff", "diff tokens sent", *(label for label, _ in VARIANTS)]
    print("\nContext tokens (× the diff's tokens) per review.context mode, default config otherwise:\n")
    print(benchlib.table([*header, "head files"], ratios(samples)) if samples else "(no diff had its head files)")
    if args.skip_github:
        return
    print("\nGitHub requests, `reviewbot github` on the synthetic PR (fake GitHub, fake model):\n")
    rows = github_requests()
    print(
        benchlib.table(
            [
                "review.context",
                "files N",
                "GitHub requests",
                "of them GraphQL",
                "head files read M",
                "target ⌈N/100⌉+⌈M/100⌉+6",
                "",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    benchlib.ensure_bytecode()
    sys.path.insert(0, str(benchlib.ROOT / "tests"))
    main()
