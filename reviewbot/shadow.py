"""Stage 5c (side effects only through the injected client): the shadow model (review.shadow,
`--shadow MODEL`). A second model reviews the same chunks — only where compliance lets it
see the code — after the real review, from the same budget; nothing it says is posted. The
comparison (pure) is the evidence a team needs before switching models: findings both
reported (by fingerprint, or on the same file and side within a line or two), what each
found alone, and what each cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .findings import Finding
from .outcome import CallRecord, ChunkResult
from .router import Route, model_allowed

if TYPE_CHECKING:
    from .calling import Guard, ReviewSettings, ReviewTools
    from .config import Config
    from .ledger import Ledger
    from .llm import LLMClient
    from .reviewer import ReviewPrompts

SHADOW_TIER = "shadow"  # the tier of the shadow's call records (cost table, audit log)
LINE_TOLERANCE = 2  # models cite a line or two apart for the same problem


@dataclass(frozen=True)
class ShadowReport:
    model: str
    reviewed: int  # chunks the shadow reviewed (fully or in part)
    not_reviewed: tuple[tuple[str, str], ...]  # (chunk id, why): compliance, budget, failures
    agreed: int  # reported by both, same fingerprint
    agreed_near: int  # reported by both on the same file and side, lines apart, worded apart
    primary_only: tuple[Finding, ...]  # the reviewing models alone (on chunks both reviewed)
    shadow_only: tuple[Finding, ...]  # the shadow alone: never posted
    primary_usd: float | None  # the reviewing models' spend on those chunks
    shadow_usd: float | None


def shadow_routes(routes: Sequence[Route], skip: Sequence[str], model: str, config: Config) -> list[Route]:
    """Every chunk the real review sent, for the shadow model where compliance allows it."""
    out = []
    for route in routes:
        if route.chunk.id in skip or route.blocked or not route.models:
            continue
        allowed = model_allowed(model, route.chunk.group, config)
        out.append(
            Route(route.chunk, (model,))
            if allowed
            else Route(route.chunk, (), "compliance: the shadow model may not see this code")
        )
    return out


def run_shadow(
    client: LLMClient,
    prompts: ReviewPrompts,
    guard: Guard,
    tools: ReviewTools,
    settings: ReviewSettings,
    ledger: Ledger,
    routes: Sequence[Route],
    *,
    pr_title: str | None,
    pr_body: str | None,
) -> tuple[ChunkResult, ...]:
    """The shadow's review; its calls go to the run's ledger under the "shadow" tier."""
    from .reviewer import Reviewer

    shadow = Reviewer(client, prompts, guard, tools, settings, ledger=ledger, record_tier=SHADOW_TIER)
    return shadow.review(routes, pr_title=pr_title, pr_body=pr_body).results


def compare(
    model: str, primary: Sequence[ChunkResult], shadow: Sequence[ChunkResult], calls: Sequence[CallRecord]
) -> ShadowReport:
    """Compare on the chunks both reviewed; the rest is listed as not reviewed by the shadow."""
    done = ("reviewed", "partial")
    mine = {r.chunk_id: r for r in primary if r.status in done}
    theirs = {r.chunk_id: r for r in shadow if r.status in done}
    both = [cid for cid in theirs if cid in mine]
    left = tuple(
        (r.chunk_id, (r.error or r.status).removeprefix("not reviewed: ")) for r in shadow if r.chunk_id not in both
    )
    a = [f for cid in both for f in mine[cid].findings]
    b = [f for cid in both for f in theirs[cid].findings]
    same = {f.fingerprint for f in a if f.fingerprint} & {f.fingerprint for f in b if f.fingerprint}
    a_rest = [f for f in a if f.fingerprint not in same]
    b_rest = [f for f in b if f.fingerprint not in same]
    near_a, near_b = _near_pairs(a_rest, b_rest)
    chunk_ids = set(both)
    return ShadowReport(
        model=model,
        reviewed=len(theirs),
        not_reviewed=left,
        agreed=len(same),
        agreed_near=len(near_a),
        primary_only=tuple(f for i, f in enumerate(a_rest) if i not in near_a),
        shadow_only=tuple(f for i, f in enumerate(b_rest) if i not in near_b),
        primary_usd=_spend([c for c in calls if c.tier != SHADOW_TIER and c.chunk_id in chunk_ids]),
        shadow_usd=_spend([c for c in calls if c.tier == SHADOW_TIER]),
    )


def _near_pairs(a: Sequence[Finding], b: Sequence[Finding]) -> tuple[set[int], set[int]]:
    """Greedy one-to-one pairs of findings on the same file and side, lines close together."""
    used_a: set[int] = set()
    used_b: set[int] = set()
    for i, fa in enumerate(a):
        for j, fb in enumerate(b):
            if j in used_b or fa.path != fb.path or fa.side != fb.side or fa.line is None or fb.line is None:
                continue
            if abs(fa.line - fb.line) <= LINE_TOLERANCE:
                used_a.add(i)
                used_b.add(j)
                break
    return used_a, used_b


def _spend(calls: Sequence[CallRecord]) -> float | None:
    """USD of the calls; None when one of them has no known price."""
    if any(c.usd is None for c in calls):
        return None
    return sum(c.usd or 0.0 for c in calls)
