"""Edge: the audit trail. Input: the run's CallRecords. Output: one JSON line per model
request appended to a file: which model, which files, why they were routed there, tokens,
cost, outcome. No prompt or reply text unless `audit.include_prompts`; never a key."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .providers import provider_of
from .reviewer import CallRecord


def audit_line(record: CallRecord, run_id: str) -> dict[str, Any]:
    line: dict[str, Any] = {
        "time": record.started_at,
        "run_id": run_id,
        "call_id": record.call_id,
        "chunk_id": record.chunk_id,
        "files": list(record.files),
        "tier": record.tier,
        "reasons": list(record.reasons),
        "model": record.model,
        "provider": provider_of(record.model),
        "endpoint_host": record.endpoint_host,
        "template_hash": record.template_hash,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cached_tokens": record.cached_tokens,
        "usd": record.usd,
        "latency_ms": record.latency_ms,
        "outcome": record.outcome,
        "error": record.error,
        "findings": record.findings,
    }
    if record.messages is not None:
        line["messages"] = [dict(m) for m in record.messages]
    if record.reply is not None:
        line["reply"] = record.reply
    return line


def write_audit(path: str | Path, records: Sequence[CallRecord], run_id: str) -> int:
    """Append one line per record; returns the number of lines written."""
    try:
        with open(path, "a", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(audit_line(record, run_id), ensure_ascii=False) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write the audit log {path}: {exc.strerror}") from exc
    return len(records)
