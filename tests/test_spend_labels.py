"""Spend labels for gateways: a request to an endpoint that takes them carries the run's
repository, PR, run id, tier and chunk id as LiteLLM proxy metadata; others carry none."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cliutil import run_cli
from fakes.openai_server import FakeOpenAIServer, FakeReply

DIFF = (
    "diff --git a/app/util.py b/app/util.py\n--- a/app/util.py\n+++ b/app/util.py\n"
    "@@ -1,2 +1,2 @@\n def total(xs):\n-    return sum(xs)\n+    return sum(xs) + 1\n"
)


@pytest.mark.parametrize(("labels", "expected"), [(True, True), (None, False), (False, False)])
def test_an_endpoint_with_spend_labels_gets_them_in_every_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], labels: bool | None, expected: bool
) -> None:
    (tmp_path / "c.diff").write_text(DIFF, encoding="utf-8")
    with FakeOpenAIServer(responder=lambda body: FakeReply.json({"summary": "s", "findings": []})) as server:
        endpoint: dict[str, object] = {"api_base": server.base_url, "allow_insecure_http": True}
        if labels is not None:
            endpoint["spend_labels"] = labels
        cfg = tmp_path / "cfg.yml"
        cfg.write_text(
            yaml.safe_dump(
                {
                    "models": {"cheap": ["openai/team-cheap"], "frontier": ["openai/team-cheap"], "summary": "cheap"},
                    "endpoints": {"openai/team-cheap": endpoint},
                    "review": {"instruction_files": []},
                }
            ),
            encoding="utf-8",
        )
        code, _, err = run_cli(
            capsys,
            ["review", str(tmp_path / "c.diff"), "--config", str(cfg), "--audit-log", str(tmp_path / "audit.jsonl")],
        )
        bodies = [r.body for r in server.chat_requests]
    assert code == 0, err
    if not expected:
        assert all("metadata" not in b for b in bodies)
        return
    (body,) = bodies
    meta = body["metadata"]
    assert meta["tier"] == "cheap" and meta["chunk_id"] == "c001" and len(meta["run_id"]) == 12
    assert meta["tags"] == [f"{k}:{v}" for k, v in meta.items() if k != "tags"]
    audit = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert meta["run_id"] in audit  # the gateway's run id is the audit log's
