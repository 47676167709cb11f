"""Benchmark: what routing spends. For the shared real diffs and the synthetic PR, a dry run
per routing policy prints the estimated routed cost against the same review on the frontier
model alone, which files went to the frontier tier and why, and two checks: no file of kind
docs or data escalated on its lines or words, and every file a path rule names (auth, crypto,
payments, CI, migrations, keys...) on the frontier tier. Estimated (dry-run) figures: the
cascade's cost depends on what a real cheap model asks for, so it is measured with
`reviewbot eval`, not here. Target: routed <= 25% of all-frontier on the medium and large diffs.

    python benchmarks/routing.py [--synthetic-files 300] [--show 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import benchlib
import synthetic

TARGET_SHARE = 0.25
POLICIES: dict[str, str] = {"file": "", "hunk": "risk:\n  granularity: hunk\n"}  # policy -> extra config
# The path rules the product promises to escalate (README: auth, crypto, payments, CI
# workflows, migrations, key files); lower-weight ones (containers, settings) may stay cheap.
PATH_RULE_WORDS = (
    "authentication code",
    "crypto/security code",
    "payments code",
    "database migration",
    "CI workflow",
    "key or secrets file",
)


def dry_run(diff: Path, config: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [benchlib.REVIEWBOT, "review", "--diff", str(diff), "--config", str(config), "--dry-run", "--format", "json"],
        capture_output=True,
        env=benchlib.bench_env(),
        check=False,
    )
    if proc.returncode not in (0, 1):
        sys.exit(f"dry run failed ({proc.returncode}): {proc.stderr.decode()[-500:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic-files", type=int, default=300)
    parser.add_argument("--show", type=int, default=15, help="escalated files listed per case")
    args = parser.parse_args()
    print(benchlib.header("Routing: routed cost vs all-frontier", "python benchmarks/routing.py"))
    from reviewbot.risk import file_kind

    tmp = Path(tempfile.mkdtemp(prefix="reviewbot-routing-"))
    cases: list[tuple[str, Path]] = []
    for name in ("small-flask-5063", "medium-pip-10202", "large-pip-4712"):
        path = benchlib.real_diff(name)
        if path is None:
            print(f"skipped {name}: ../shared/data/diffs is not beside the repository")
        else:
            cases.append((name, path))
    synth = tmp / "synthetic.diff"
    synth.write_text(
        synthetic.to_git_diff(synthetic.synthetic_files(args.synthetic_files, args.synthetic_files * 30)),
        encoding="utf-8",
    )
    cases.append((f"synthetic-{args.synthetic_files}", synth))
    rows, verdicts = [], []
    for policy, extra in POLICIES.items():
        config = tmp / f"{policy}.yml"
        config.write_text(benchlib.config_yaml(extra=extra), encoding="utf-8")
        for name, diff in cases:
            report = dry_run(diff, config)
            cost = report["cost"]
            routed, frontier = cost["total_usd"], cost["all_frontier_usd"]
            share = routed / frontier if routed is not None and frontier else None
            files = [f for f in report["files"] if f["tier"]]
            up = [f for f in files if f["tier"] == "frontier"]
            prose_up = [
                f
                for f in up
                if file_kind(f["path"]) in ("docs", "data")
                and not any(any(w in r for w in PATH_RULE_WORDS) or "(config)" in r for r in f["reasons"])
            ]
            rule_cheap = [
                f
                for f in files
                if f["tier"] == "cheap" and any(any(w in r for w in PATH_RULE_WORDS) for r in f["reasons"])
            ]
            rows.append(
                (
                    policy,
                    name,
                    len(files),
                    len(up),
                    f"${routed:.4f}",
                    f"${frontier:.4f}",
                    f"{share:.0%}" if share is not None else "unknown",
                    len(prose_up),
                    len(rule_cheap),
                )
            )
            if name.startswith(("medium", "large")) and share is not None:
                verdicts.append(
                    benchlib.verdict(
                        f"{policy} {name} routed <= {TARGET_SHARE:.0%} of all-frontier",
                        share <= TARGET_SHARE,
                        f"{share:.1%}",
                    )
                )
            verdicts.append(
                benchlib.verdict(
                    f"{policy} {name} no docs/data escalation",
                    not prose_up,
                    ", ".join(f["path"] for f in prose_up[:5]) or "none",
                )
            )
            verdicts.append(
                benchlib.verdict(
                    f"{policy} {name} every path-rule file on frontier",
                    not rule_cheap,
                    ", ".join(f["path"] for f in rule_cheap[:5]) or "all",
                )
            )
            if policy == "file" and up:
                print(f"\n{name}: files on the frontier tier ({len(up)} of {len(files)}), strongest reasons")
                for f in sorted(up, key=lambda f: -(f["score"] or 0))[: args.show]:
                    print(f"  {f['score']:>3}  [{file_kind(f['path'])}] {f['path']}: {'; '.join(f['reasons'][:2])}")
    print()
    print(
        benchlib.table(
            (
                "policy",
                "case",
                "files",
                "frontier",
                "routed",
                "all-frontier",
                "share",
                "docs/data up",
                "rule files cheap",
            ),
            rows,
        )
    )
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
