"""Render stage (pure): the versioned JSON report (docs/report-format.md): deterministic key
order, indent 2, UTF-8 kept. The document a CI job or another tool reads."""

from __future__ import annotations

import json

from .. import __version__
from ..findings import Finding
from ..report import Report
from ..shadow import ShadowReport


def _usd(v: float | None) -> float | None:
    return None if v is None else round(v, 6)


def report_to_dict(report: Report) -> dict[str, object]:
    """The JSON report as a dict, keys in documented order (docs/report-format.md)."""
    c = report.cost
    return {
        "version": report.version,
        "tool": {"name": "reviewbot", "version": __version__},
        "source": report.source,
        "dry_run": report.dry_run,
        "files": [
            {
                "path": e.path,
                "old_path": e.old_path,
                "status": e.status,
                "binary": e.binary,
                "tier": e.tier,
                "score": e.score,
                "reasons": list(e.reasons),
                "reviewed": e.reviewed,
                "skip_reason": e.skip_reason,
                "chunks": list(e.chunks),
                "redactions": e.redactions,
                "rules": list(e.rules),
            }
            for e in report.files
        ],
        "chunks": [
            {
                "id": ch.id,
                "tier": ch.tier,
                "files": list(ch.files),
                "tokens": ch.tokens,
                "models": list(ch.models),
                "status": ch.status,
                "model": ch.model,
                "reason": ch.reason,
                "est_usd": _usd(ch.est_usd),
                "context_tokens": ch.context_tokens,
            }
            for ch in report.chunks
        ],
        "findings": [
            {
                "path": f.path,
                "line": f.line,
                "start_line": f.start_line,
                "side": f.side,
                "severity": f.severity,
                "category": f.category,
                "title": f.title,
                "body": f.body,
                "suggestion": f.suggestion,
                "model": f.model,
                "chunk_id": f.chunk_id,
                "placement": f.placement,
                "anchor_note": f.anchor_note,
                "fingerprint": f.fingerprint,
            }
            for f in report.findings
        ],
        "calls": [
            {
                "call_id": k.call_id,
                "chunk_id": k.chunk_id,
                "model": k.model,
                "tier": k.tier,
                "files": list(k.files),
                "reasons": list(k.reasons),
                "input_tokens": k.input_tokens,
                "cached_tokens": k.cached_tokens,
                "output_tokens": k.output_tokens,
                "usd": _usd(k.usd),
                "latency_ms": k.latency_ms,
                "outcome": k.outcome,
                "error": k.error,
                "findings": k.findings,
                "endpoint_host": k.endpoint_host,
                "template_hash": k.template_hash,
                "started_at": k.started_at,
            }
            for k in report.calls
        ],
        "failovers": [
            {"chunk_id": fo.chunk_id, "from_model": fo.from_model, "to_model": fo.to_model, "reason": fo.reason}
            for fo in report.failovers
        ],
        "cost": {
            "rows": [
                {
                    "model": r.model,
                    "tier": r.tier,
                    "requests": r.requests,
                    "input_tokens": r.input_tokens,
                    "cached_tokens": r.cached_tokens,
                    "output_tokens": r.output_tokens,
                    "usd": _usd(r.usd),
                }
                for r in c.rows
            ],
            "tiers": {t: _usd(u) for t, u in c.tiers},
            "total_usd": _usd(c.total_usd),
            "known_usd": _usd(c.known_usd),
            "all_frontier_model": c.all_frontier_model,
            "all_frontier_usd": _usd(c.all_frontier_usd),
            "saving_pct": c.saving_pct,
            "estimated": c.estimated,
        },
        "budget": dict(report.budget),
        "notes": list(report.notes),
        "overview": report.overview,
        # Only when used (review.shadow, review.cascade): reports without them stay as they were.
        **({"shadow": _shadow(report.shadow)} if report.shadow is not None else {}),
        **(
            {
                "second_looks": [
                    {
                        "chunk_id": s.chunk_id,
                        "reason": s.reason,
                        "status": s.status,
                        "model": s.model,
                        "added": s.added,
                        "note": s.note,
                    }
                    for s in report.second_looks
                ]
            }
            if report.second_looks
            else {}
        ),
    }


def _shadow(s: ShadowReport) -> dict[str, object]:
    def brief(f: Finding) -> dict[str, object]:
        return {
            "path": f.path,
            "line": f.line,
            "side": f.side,
            "severity": f.severity,
            "title": f.title,
            "fingerprint": f.fingerprint,
        }

    return {
        "model": s.model,
        "reviewed": s.reviewed,
        "not_reviewed": [{"chunk_id": c, "reason": r} for c, r in s.not_reviewed],
        "agreed": s.agreed,
        "agreed_near": s.agreed_near,
        "review_only": [brief(f) for f in s.primary_only],
        "shadow_only": [brief(f) for f in s.shadow_only],
        "review_usd": _usd(s.primary_usd),
        "shadow_usd": _usd(s.shadow_usd),
    }


def render_json(report: Report) -> str:
    """The versioned JSON document: deterministic key order, indent 2, UTF-8 kept."""
    return json.dumps(report_to_dict(report), indent=2, ensure_ascii=False, default=str) + "\n"
