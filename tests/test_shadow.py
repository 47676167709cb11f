"""review.shadow / --shadow: a second model reviews the same chunks; nothing it finds is
posted; the report compares the two. End to end through the CLI against a fake server, and
the comparison itself on hand-made findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply

from reviewbot.findings import Finding
from reviewbot.outcome import CallRecord, ChunkResult
from reviewbot.shadow import compare

DIFF = (
    "diff --git a/app/cache.py b/app/cache.py\n--- a/app/cache.py\n+++ b/app/cache.py\n"
    "@@ -1,3 +1,5 @@\n def get(key):\n-    return store[key]\n+    value = store.get(key)\n+    log(value)\n"
    "+    return value\n \n"
    "diff --git a/secure/keys.py b/secure/keys.py\n--- a/secure/keys.py\n+++ b/secure/keys.py\n"
    "@@ -1,2 +1,2 @@\n def key():\n-    return load()\n+    return load(cache=True)\n"
)
BOTH: dict[str, Any] = {
    "path": "app/cache.py",
    "line": 2,
    "severity": "low",
    "title": "get() hides a missing key as None",
    "body": "Callers that relied on KeyError now get None.",
}
NEAR_REVIEW: dict[str, Any] = {
    "path": "app/cache.py",
    "line": 3,
    "severity": "medium",
    "title": "Logs cached values",
    "body": "Values may hold personal data and now reach the log.",
}
NEAR_SHADOW: dict[str, Any] = {
    "path": "app/cache.py",
    "line": 4,
    "severity": "high",
    "title": "Sensitive data written to logs",
    "body": "log(value) writes whatever the cache holds.",
}
SHADOW_ALONE: dict[str, Any] = {
    "path": "app/cache.py",
    "line": 2,
    "severity": "medium",
    "title": "store.get is not thread-safe here",
    "body": "The refresher replaces store without a lock.",
}


def test_the_shadow_reviews_what_it_may_see_posts_nothing_and_is_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "c.diff").write_text(DIFF, encoding="utf-8")

    def answer(body: dict[str, Any]) -> FakeReply:
        findings = [BOTH, NEAR_REVIEW] if body["model"] == "main" else [BOTH, NEAR_SHADOW, SHADOW_ALONE]
        if "secure/keys.py" in body["messages"][-1]["content"]:
            findings = []
        return FakeReply.json(
            {"summary": "Changes the cache.", "findings": findings}, prompt_tokens=1000, completion_tokens=100
        )

    with FakeOpenAIServer(responder=answer) as server:
        cfg = tmp_path / "cfg.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": ["openai/main"], "frontier": ["openai/main"], "summary": "cheap"},
                    "endpoints": {
                        m: {"api_base": server.base_url, "allow_insecure_http": True}
                        for m in ("openai/main", "openai/other")
                    },
                    "prices": {"openai/main": {"input": 1, "output": 2}, "openai/other": {"input": 3, "output": 6}},
                    # The locked folder may reach only the main model: the shadow never sees it.
                    "compliance": [{"paths": ["secure/**"], "allow": ["openai/main"]}],
                    "review": {"instruction_files": [], "concurrency": 1},
                }
            ),
            encoding="utf-8",
        )
        code, out, err = run_cli(
            capsys,
            ["review", str(tmp_path / "c.diff"), "--config", str(cfg), "--shadow", "openai/other", "--format", "json"],
        )
        asked = [(r.body["model"], "secure/keys.py" in r.body["messages"][-1]["content"]) for r in server.chat_requests]
    assert code == 0, err
    assert ("other", True) not in asked and ("other", False) in asked  # compliance holds for the shadow
    report = json.loads(out)
    # Nothing the shadow found is among the findings.
    assert sorted(f["title"] for f in report["findings"]) == sorted([BOTH["title"], NEAR_REVIEW["title"]])
    shadow = report["shadow"]
    assert shadow["model"] == "openai/other" and shadow["agreed"] == 1 and shadow["agreed_near"] == 1
    assert [f["title"] for f in shadow["shadow_only"]] == [SHADOW_ALONE["title"]] and shadow["review_only"] == []
    assert [n["reason"] for n in shadow["not_reviewed"]] == ["compliance: the shadow model may not see this code"]
    assert shadow["shadow_usd"] == pytest.approx((1000 * 3 + 100 * 6) / 1e6)
    assert shadow["review_usd"] == pytest.approx((1000 * 1 + 100 * 2) / 1e6)
    shadow_calls = [c for c in report["calls"] if c["tier"] == "shadow"]
    assert [c["model"] for c in shadow_calls] == ["openai/other"]
    assert "shadow" in report["cost"]["tiers"]
    # The all-frontier comparison is the review's: the shadow's spend is beside it.
    review_usd = sum(c["usd"] for c in report["calls"] if c["tier"] != "shadow")
    assert report["cost"]["saving_pct"] == pytest.approx(
        round((1 - review_usd / report["cost"]["all_frontier_usd"]) * 100, 1)
    )


def finding(path: str, line: int, title: str, fp: str) -> Finding:
    return Finding(
        path=path,
        line=line,
        side="RIGHT",
        severity="high",
        category="bug",
        title=title,
        body="b",
        fingerprint=fp,
        chunk_id="c1",
    )


def call(tier: str, usd: float | None, chunk: str = "c1") -> CallRecord:
    return CallRecord("id", chunk, "m", tier, ("a.py",), (), 10, 1, None, usd, 5, "ok")


def test_only_chunks_both_reviewed_are_compared_and_an_unknown_price_stays_unknown() -> None:
    mine = (
        ChunkResult("c1", "reviewed", "m", (finding("a.py", 3, "x", "f1"), finding("a.py", 40, "y", "f2"))),
        ChunkResult("c2", "reviewed", "m", (finding("b.py", 1, "z", "f3"),)),
    )
    theirs = (
        ChunkResult("c1", "reviewed", "s", (finding("a.py", 3, "x", "f1"), finding("a.py", 10, "w", "f4"))),
        ChunkResult("c2", "failed", "s", (), error="timeout"),
    )
    result = compare("s", mine, theirs, [call("cheap", 0.01), call("shadow", None)])
    assert (result.reviewed, result.agreed, result.agreed_near) == (1, 1, 0)
    assert [f.title for f in result.primary_only] == ["y"] and [f.title for f in result.shadow_only] == ["w"]
    assert result.not_reviewed == (("c2", "timeout"),)
    assert result.primary_usd == 0.01 and result.shadow_usd is None
