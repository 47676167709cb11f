"""Stage 5b (side effects only through the reviewer's injected client): the second look
(review.cascade). A cheap chunk whose reply asked for a frontier review (`needs_frontier`,
with a reason) is reviewed again by the frontier tier's allowed models, within the same
budget; what the frontier model finds is added to the chunk's findings (once per
fingerprint), and every request is listed with its reason and outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from .outcome import ChunkResult, ReviewOutcome, SecondLook
from .prompts import admits
from .router import Route, route_chunks

if TYPE_CHECKING:
    from .chunker import Chunk
    from .config import Config
    from .reviewer import Reviewer


def second_looks(
    reviewer: Reviewer,
    outcome: ReviewOutcome,
    routes: Mapping[str, Route],
    config: Config,
    *,
    pr_title: str | None,
    pr_body: str | None,
) -> ReviewOutcome:
    """`outcome` with the second looks given: findings added to their chunks' results and a
    SecondLook per request in `second_looks`. Nothing changes when review.cascade is off."""
    if config.review.cascade is False:
        return outcome
    asked = [
        r
        for r in outcome.results
        if r.second_look
        and r.status in ("reviewed", "partial")
        and r.chunk_id in routes
        and admits(config.review.cascade, routes[r.chunk_id].chunk)
    ]
    looks: dict[str, SecondLook] = {}
    sends: list[Route] = []
    for result in asked:
        route = _frontier_route(routes[result.chunk_id], config)
        reason = result.second_look or ""
        if route.blocked or not route.models:
            looks[result.chunk_id] = SecondLook(result.chunk_id, reason, "not sent", note=route.blocked or "no model")
        else:
            sends.append(route)
            looks[result.chunk_id] = SecondLook(result.chunk_id, reason, "planned")
    if not sends:
        return replace(outcome, second_looks=tuple(looks.values()))
    again = {r.chunk_id: r for r in reviewer.review(sends, pr_title=pr_title, pr_body=pr_body).results}
    results = []
    for result in outcome.results:
        second = again.get(result.chunk_id)
        if second is None:
            results.append(result)
            continue
        merged, added = _merge(result, second)
        results.append(merged)
        looks[result.chunk_id] = replace(
            looks[result.chunk_id], status=second.status, model=second.model, added=added, note=second.error
        )
    return replace(outcome, results=tuple(results), second_looks=tuple(looks.values()))


def _frontier_route(route: Route, config: Config) -> Route:
    """The chunk routed as a frontier chunk (compliance applies as to any chunk); no second
    look when the frontier tier offers no model the cheap one did not already try."""
    chunk: Chunk = replace(route.chunk, tier="frontier")
    (frontier,) = route_chunks([chunk], config)
    fresh = tuple(m for m in frontier.models if m not in route.models)
    if frontier.blocked or not fresh:
        return Route(chunk, (), frontier.blocked or "the frontier tier has no other model for this chunk")
    return Route(chunk, fresh)


def _merge(first: ChunkResult, second: ChunkResult) -> tuple[ChunkResult, int]:
    """The cheap review's findings and the frontier's new ones (by fingerprint)."""
    seen = {f.fingerprint or (f.path, f.line, f.title) for f in first.findings}
    extra = tuple(f for f in second.findings if (f.fingerprint or (f.path, f.line, f.title)) not in seen)
    return replace(first, findings=first.findings + extra), len(extra)
