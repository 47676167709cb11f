"""review.cascade: a cheap model's reply may ask for a frontier review of its chunk; the
second look is given within the budget, its findings added once, and it is reported with
the cheap model's reason. End to end through the CLI against a fake OpenAI-compatible server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply

from reviewbot.findings import parse_reply

DIFF = (
    "diff --git a/app/cache.py b/app/cache.py\n--- a/app/cache.py\n+++ b/app/cache.py\n"
    "@@ -1,3 +1,4 @@\n def get(key):\n-    return store[key]\n+    value = store.get(key)\n+    return value\n \n"
)
CHEAP: dict[str, Any] = {
    "path": "app/cache.py",
    "line": 2,
    "severity": "low",
    "title": "get() hides a missing key as None",
    "body": "Callers that relied on KeyError now get None silently.",
}
FRONTIER: dict[str, Any] = {
    "path": "app/cache.py",
    "line": 3,
    "severity": "high",
    "title": "Cache read races the writer thread",
    "body": "store is mutated by the refresher without a lock; get() can see a half-built value.",
}


def run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cascade: object, cheap_reply: dict[str, Any]
) -> tuple[int, dict[str, Any], list[dict[str, Any]]]:
    (tmp_path / "c.diff").write_text(DIFF, encoding="utf-8")

    def answer(body: dict[str, Any]) -> FakeReply:
        if body["model"] == "cheap":
            return FakeReply.json(cheap_reply)
        return FakeReply.json({"summary": "Reads the cache.", "findings": [CHEAP, FRONTIER]})

    with FakeOpenAIServer(responder=answer) as server:
        cfg = tmp_path / "cfg.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": ["openai/cheap"], "frontier": ["openai/frontier"], "summary": "cheap"},
                    "endpoints": {
                        m: {"api_base": server.base_url, "allow_insecure_http": True}
                        for m in ("openai/cheap", "openai/frontier")
                    },
                    "prices": {
                        "openai/cheap": {"input": 0.1, "output": 0.4},
                        "openai/frontier": {"input": 5, "output": 25},
                    },
                    "review": {"instruction_files": [], "cascade": cascade},
                }
            ),
            encoding="utf-8",
        )
        code, out, err = run_cli(capsys, ["review", str(tmp_path / "c.diff"), "--config", str(cfg), "--format", "json"])
        bodies = [r.body for r in server.chat_requests]
    assert "Traceback" not in err
    return code, json.loads(out), bodies


ASKS: dict[str, Any] = {
    "summary": "Switches to store.get.",
    "findings": [CHEAP],
    "needs_frontier": "the refresher thread writes store concurrently; I cannot judge the locking",
}


def test_a_cheap_reply_that_asks_gets_a_frontier_review_with_its_findings_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, bodies = run(tmp_path, capsys, True, ASKS)
    assert code == 0
    assert [b["model"] for b in bodies] == ["cheap", "frontier"]
    assert "needs_frontier" in bodies[0]["messages"][-1]["content"]  # the cheap model is told it may ask
    assert "needs_frontier" not in bodies[1]["messages"][-1]["content"]  # the frontier one is not
    titles = sorted(f["title"] for f in report["findings"])
    assert titles == sorted([CHEAP["title"], FRONTIER["title"]])  # the cheap one once, the new one added
    (look,) = report["second_looks"]
    assert look == {
        "chunk_id": report["chunks"][0]["id"],
        "reason": ASKS["needs_frontier"],
        "status": "reviewed",
        "model": "openai/frontier",
        "added": 1,
        "note": None,
    }
    assert [c["tier"] for c in report["calls"]] == ["cheap", "frontier"]
    assert {r["tier"] for r in report["cost"]["rows"]} == {"cheap", "frontier"}


def test_with_cascade_off_the_model_is_not_told_and_a_request_is_ignored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, bodies = run(tmp_path, capsys, False, ASKS)
    assert code == 0 and [b["model"] for b in bodies] == ["cheap"]
    assert "needs_frontier" not in bodies[0]["messages"][-1]["content"]
    assert "second_looks" not in report and [f["title"] for f in report["findings"]] == [CHEAP["title"]]


def test_a_score_threshold_keeps_low_risk_chunks_from_asking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report, bodies = run(tmp_path, capsys, 90, ASKS)
    assert code == 0 and report["files"][0]["score"] < 90
    assert [b["model"] for b in bodies] == ["cheap"] and "needs_frontier" not in bodies[0]["messages"][-1]["content"]


def test_a_second_look_with_no_other_model_is_reported_not_sent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One model for both tiers: there is nobody to ask; the request is listed, not lost.
    (tmp_path / "c.diff").write_text(DIFF, encoding="utf-8")
    with FakeOpenAIServer(responder=lambda body: FakeReply.json(ASKS)) as server:
        cfg = tmp_path / "cfg.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": ["openai/one"], "frontier": ["openai/one"], "summary": "cheap"},
                    "endpoints": {"openai/one": {"api_base": server.base_url, "allow_insecure_http": True}},
                    "review": {"instruction_files": [], "cascade": True},
                }
            ),
            encoding="utf-8",
        )
        code, out, err = run_cli(capsys, ["review", str(tmp_path / "c.diff"), "--config", str(cfg)])
        assert len(server.chat_requests) == 1
    assert (
        code == 0
        and "Traceback" not in err
        and "Second looks (review.cascade)" in out
        and "not sent: the frontier tier has no other model" in out
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  needs a lock\nreview ", "needs a lock review"),
        (True, "the model asked for a frontier review"),
        ("", None),
        ("no", None),
        (False, None),
        (None, None),
        (3, None),
    ],
)
def test_needs_frontier_is_read_as_a_reason_or_true(value: object, expected: str | None) -> None:
    assert parse_reply(json.dumps({"findings": [], "needs_frontier": value})).second_look == expected


def test_hunk_granularity_plans_the_risky_hunk_on_frontier_and_the_rest_on_cheap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hunks = "".join(
        f"@@ -{n},0 +{n},1 @@\n+{text}\n"
        for n, text in ((10, "total = a + b"), (50, "subprocess.run(cmd, shell=True)"), (90, "name = user.name"))
    )
    (tmp_path / "c.diff").write_text(
        "diff --git a/app/tasks.py b/app/tasks.py\n--- a/app/tasks.py\n+++ b/app/tasks.py\n" + hunks, encoding="utf-8"
    )
    cfg = tmp_path / "cfg.yml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "models": {"cheap": ["openai/gpt-5.4-mini"], "frontier": ["openai/gpt-5.5"]},
                "risk": {"granularity": "hunk"},
                "review": {"instruction_files": []},
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run_cli(
        capsys, ["review", str(tmp_path / "c.diff"), "--config", str(cfg), "--dry-run", "--format", "json"]
    )
    report = json.loads(out)
    assert code == 0, err
    chunks = {c["tier"]: c for c in report["chunks"]}
    assert set(chunks) == {"frontier", "cheap"} and all(c["files"] == ["app/tasks.py"] for c in chunks.values())
    (entry,) = report["files"]
    assert entry["tier"] == "frontier" and "hunk-level" in entry["reasons"][-1]
    assert sorted(entry["chunks"]) == sorted(c["id"] for c in chunks.values())
