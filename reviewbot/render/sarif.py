"""Render stage (pure): SARIF 2.1.0 as GitHub code scanning accepts it — one rule per
category, relative percent-encoded paths, regions only for inline RIGHT findings, and
reviewbot's fingerprint as a partial fingerprint."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from .. import __version__
from ..findings import Finding
from ..report import Report, not_reviewed_reason
from .common import order
from .safe import plain

INFORMATION_URI = "https://github.com/reviewbot/reviewbot"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def render_sarif(report: Report) -> str:
    """SARIF 2.1.0 as GitHub code scanning accepts it: one rule per category, results with
    relative paths, regions only for inline RIGHT findings, our fingerprint as a partial one."""
    found = sorted(report.findings, key=order)
    categories = sorted({f.category for f in found})
    rules = [
        {
            "id": cat,
            "name": re.sub(r"\W+", "-", cat).strip("-") or "general",
            "shortDescription": {"text": f"reviewbot: {cat} finding"},
            "defaultConfiguration": {"level": "warning"},
            "properties": {"tags": [cat]},
        }
        for cat in categories
    ]
    results = [_sarif_result(f, categories.index(f.category)) for f in found]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "reviewbot",
                        "informationUri": INFORMATION_URI,
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "invocations": [_invocation(report)],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _invocation(report: Report) -> dict[str, object]:
    """Whether the review ran: a run that reviewed nothing (or only part of the diff) must not
    read as a clean scan to an uploader that closes the alerts a scan no longer reports."""
    reason = not_reviewed_reason(report)
    notes: list[dict[str, object]] = []
    if reason is not None:
        notes.append({"level": "error", "message": {"text": plain(f"not reviewed: {reason}")[:1000]}})
    else:
        unreviewed = [c for c in report.chunks if c.status in ("failed", "skipped", "partial")]
        if unreviewed:
            text = f"{len(unreviewed)} of {len(report.chunks)} chunk(s) not fully reviewed"
            notes.append({"level": "warning", "message": {"text": text}})
    out: dict[str, object] = {"executionSuccessful": reason is None or report.dry_run}
    if notes:
        out["toolExecutionNotifications"] = notes
    return out


def _sarif_result(f: Finding, rule_index: int) -> dict[str, object]:
    result: dict[str, object] = {
        "ruleId": f.category,
        "ruleIndex": rule_index,
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f"{f.title}\n\n{f.body}".strip()},
    }
    if f.path is not None:
        # A URI reference: spaces and non-ASCII characters in paths must be percent-encoded.
        physical: dict[str, object] = {"artifactLocation": {"uri": quote(f.path, safe="/"), "uriBaseId": "%SRCROOT%"}}
        if f.placement == "inline" and f.side == "RIGHT" and f.line is not None:
            physical["region"] = {"startLine": f.start_line or f.line, "endLine": f.line}
        result["locations"] = [{"physicalLocation": physical}]
    if f.fingerprint:
        result["partialFingerprints"] = {"reviewbot/v1": f.fingerprint}
    props = {
        "severity": f.severity,
        "model": f.model,
        "placement": f.placement,
        "side": f.side,
        "chunk_id": f.chunk_id,
        "anchor_note": f.anchor_note,
    }
    result["properties"] = {k: v for k, v in props.items() if v}
    return result
