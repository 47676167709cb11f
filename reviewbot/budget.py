"""Stage 3c: the budget. Plan time (pure): per-file risks, a way to re-chunk and route a tier
assignment, and a per-chunk estimate in; out a BudgetPlan that fits budget.max_usd and
budget.max_input_tokens by downgrading frontier files and skipping low-risk chunks, every
decision with its reason. Run time: BudgetGuard, a lock-protected ledger that refuses a call
whose estimate would cross the cap (litellm's max_budget enforces nothing for chat calls)."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from .config import BudgetConfig, Tier
from .errors import EXIT_USAGE, ReviewbotError
from .risk import FileRisk
from .router import Route

# Float sums of many small prices drift; a cent's millionth is not worth refusing a call for.
_EPSILON = 1e-9


class BudgetError(ReviewbotError):
    """The estimate is over budget and budget.on_exceed is `fail`."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class BudgetDecision:
    subject: str  # a file path (downgraded) or a chunk id (skipped)
    action: Literal["downgraded", "skipped"]
    reason: str  # e.g. "downgraded to cheap: estimated $0.62 over budget $0.50"


@dataclass(frozen=True)
class BudgetPlan:
    routes: tuple[Route, ...]  # every route, skipped ones included
    tiers: Mapping[str, Tier]  # path -> tier after downgrades
    decisions: tuple[BudgetDecision, ...]
    estimated_usd: float | None  # None when any chunk to be sent has no known price
    estimated_input_tokens: int
    skipped_chunks: tuple[str, ...]
    notes: tuple[str, ...] = ()  # e.g. unknown prices counted as $0 against the cap


Build = Callable[[Mapping[str, Tier]], list[Route]]
Estimate = Callable[[Route], tuple[float | None, int]]


def plan_budget(risks: Sequence[FileRisk], build: Build, estimate: Estimate, budget: BudgetConfig) -> BudgetPlan:
    """Estimate the plan; while over a cap: `downgrade` moves frontier files to cheap, lowest
    risk first (files escalated by a config rule or under a compliance rule last) and then
    skips chunks; `skip` skips the lowest-risk chunks at once; `fail` raises BudgetError.
    Downgrading only saves money, so a plan over max_input_tokens alone goes to skipping."""
    tiers: dict[str, Tier] = {r.path: r.tier for r in risks}
    costs = _Costs(estimate)
    routes = build(MappingProxyType(dict(tiers)))
    decisions: list[BudgetDecision] = []
    skipped: list[str] = []
    if budget.on_exceed == "fail":
        _fail_if_over(costs.totals(routes, skipped), budget)
    elif budget.on_exceed == "downgrade":
        routes = _downgrade(risks, tiers, routes, build, costs, budget, decisions)
    if budget.on_exceed != "fail":
        _skip(routes, costs, budget, decisions, skipped)
    usd, tokens, unknown = costs.totals(routes, skipped)
    return BudgetPlan(
        routes=tuple(routes),
        tiers=MappingProxyType(tiers),
        decisions=tuple(decisions),
        estimated_usd=None if unknown else usd,
        estimated_input_tokens=tokens,
        skipped_chunks=tuple(skipped),
        notes=_notes(unknown, usd, budget),
    )


class _Costs:
    """Memoised estimates; blocked routes cost nothing because nothing is sent."""

    def __init__(self, estimate: Estimate) -> None:
        self._estimate = estimate
        self._seen: dict[Route, tuple[float | None, int]] = {}

    def of(self, route: Route) -> tuple[float | None, int]:
        if route.blocked is not None or not route.models:
            return 0.0, 0
        if route not in self._seen:
            self._seen[route] = self._estimate(route)
        return self._seen[route]

    def totals(self, routes: Sequence[Route], skipped: Sequence[str]) -> tuple[float, int, dict[str, int]]:
        """(known USD, input tokens, {model: chunks with no known price}) of what is sent."""
        usd, tokens = 0.0, 0
        unknown: dict[str, int] = {}
        gone = set(skipped)
        for route in routes:
            if route.chunk.id in gone:
                continue
            cost, toks = self.of(route)
            tokens += toks
            if cost is None:
                unknown[route.models[0]] = unknown.get(route.models[0], 0) + 1
            else:
                usd += cost
        return usd, tokens, unknown


def _over_usd(usd: float, budget: BudgetConfig) -> bool:
    return budget.max_usd is not None and usd > budget.max_usd + _EPSILON


def _excess(usd: float, tokens: int, budget: BudgetConfig) -> str | None:
    """Why the plan is over budget, in words, or None when it fits."""
    if budget.max_usd is not None and _over_usd(usd, budget):
        return _over(usd, budget.max_usd)
    if budget.max_input_tokens is not None and tokens > budget.max_input_tokens:
        return f"estimated {tokens:,} input tokens over budget {budget.max_input_tokens:,}"
    return None


def _fail_if_over(totals: tuple[float, int, dict[str, int]], budget: BudgetConfig) -> None:
    usd, tokens, _ = totals
    excess = _excess(usd, tokens, budget)
    if excess is None:
        return
    hint = (
        "raise budget.max_usd or use on_exceed: downgrade"
        if _over_usd(usd, budget)
        else "raise budget.max_input_tokens or use on_exceed: skip"
    )
    raise BudgetError(f"budget exceeded: {excess}", hint=hint)


def _downgrade(
    risks: Sequence[FileRisk],
    tiers: dict[str, Tier],
    routes: list[Route],
    build: Build,
    costs: _Costs,
    budget: BudgetConfig,
    decisions: list[BudgetDecision],
) -> list[Route]:
    """Downgrade in batches: each batch is the shortest run of candidates, in order, whose
    share of the frontier estimate covers the excess; then re-chunk and look again. One
    file per re-chunk would be exact but re-chunks a large PR hundreds of times."""
    by_path = {r.path: r for r in risks}
    while budget.max_usd is not None:
        usd, _, _ = costs.totals(routes, ())
        if not _over_usd(usd, budget):
            break
        shares = _frontier_shares(routes, costs)
        pinned = {p for route in routes if route.chunk.group for p in route.chunk.files}
        candidates = sorted(
            (by_path[p] for p, tier in tiers.items() if tier == "frontier" and shares.get(p, 0.0) > 0),
            key=lambda r: (r.rule_escalated or r.path in pinned, r.score, r.path),
        )
        if not candidates:
            break
        reason = f"downgraded to cheap: {_over(usd, budget.max_usd)}"
        saved = 0.0
        for risk in candidates:
            tiers[risk.path] = "cheap"
            decisions.append(BudgetDecision(risk.path, "downgraded", reason))
            saved += shares[risk.path]
            if saved >= usd - budget.max_usd:
                break
        routes = build(MappingProxyType(dict(tiers)))
    return routes


def _frontier_shares(routes: Sequence[Route], costs: _Costs) -> dict[str, float]:
    """Each file's even share of the estimate of the frontier chunks it is in: what moving it
    to cheap could save at most (the cheap model costs something too)."""
    shares: dict[str, float] = {}
    for route in routes:
        usd, _ = costs.of(route)
        if route.chunk.tier != "frontier" or not usd or not route.chunk.files:
            continue
        for path in route.chunk.files:
            shares[path] = shares.get(path, 0.0) + usd / len(route.chunk.files)
    return shares


def _skip(
    routes: Sequence[Route], costs: _Costs, budget: BudgetConfig, decisions: list[BudgetDecision], skipped: list[str]
) -> None:
    """Skip the lowest-risk chunks that would be sent until the plan fits."""
    usd, tokens, _ = costs.totals(routes, skipped)
    queue = sorted(
        (r for r in routes if r.blocked is None and r.models and r.chunk.id not in skipped),
        key=lambda r: (r.chunk.risk, r.chunk.id),
    )
    for route in queue:
        excess = _excess(usd, tokens, budget)
        if excess is None:
            break
        cost, toks = costs.of(route)
        skipped.append(route.chunk.id)
        decisions.append(BudgetDecision(route.chunk.id, "skipped", f"skipped: {excess}"))
        usd -= cost or 0.0
        tokens -= toks
    # A chunk over the cap on its own is skipped last, after cheaper ones that then fit
    # again: give those back, riskiest first, rather than review nothing.
    for route in sorted((r for r in queue if r.chunk.id in skipped), key=lambda r: (-r.chunk.risk, r.chunk.id)):
        cost, toks = costs.of(route)
        if _excess(usd + (cost or 0.0), tokens + toks, budget) is None:
            skipped.remove(route.chunk.id)
            decisions[:] = [d for d in decisions if not (d.action == "skipped" and d.subject == route.chunk.id)]
            usd += cost or 0.0
            tokens += toks


def _notes(unknown: Mapping[str, int], known_usd: float, budget: BudgetConfig) -> tuple[str, ...]:
    if not unknown:
        return ()
    counted = "counted as $0 against budget.max_usd" if budget.max_usd is not None else "not in the estimate"
    notes = [
        f"price unknown for {model} ({n} chunk{'s' if n != 1 else ''}): {counted}"
        for model, n in sorted(unknown.items())
    ]
    notes.append(f"estimated {_money(known_usd)} for the chunks with known prices")
    return tuple(notes)


def _money(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 0.01 or usd == 0 else f"${usd:.4f}"


def _over(usd: float, cap: float) -> str:
    """Cents, with more digits when they would print alike ("$0.50 over budget $0.50")."""
    digits = 2 if cap >= 0.01 or cap == 0 else 4
    while digits < 6 and f"{usd:.{digits}f}" == f"{cap:.{digits}f}":
        digits += 1
    return f"estimated ${usd:.{digits}f} over budget ${cap:.{digits}f}"


# --- run time ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reservation:
    id: int
    usd: float  # the estimate held against the cap (an unknown price holds $0)
    input_tokens: int


class BudgetGuard:
    """Run-time enforcement across reviewer threads: reserve an estimate before a call,
    settle it with the actual cost after. A reservation that would take spent + reserved
    past a cap is refused, so while actuals stay within estimates the cap holds."""

    def __init__(self, max_usd: float | None, max_input_tokens: int | None) -> None:
        self.max_usd = max_usd
        self.max_input_tokens = max_input_tokens
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._open: dict[int, Reservation] = {}
        self._spent_usd = 0.0
        self._spent_tokens = 0
        self._refused = 0

    def reserve(self, est_usd: float | None, est_input_tokens: int) -> Reservation | None:
        """A reservation, or None: launching this call would cross a cap, do not send it."""
        usd = est_usd or 0.0
        with self._lock:
            held_usd = sum(r.usd for r in self._open.values())
            held_tokens = sum(r.input_tokens for r in self._open.values())
            over_usd = self.max_usd is not None and self._spent_usd + held_usd + usd > self.max_usd + _EPSILON
            over_tokens = (
                self.max_input_tokens is not None
                and self._spent_tokens + held_tokens + est_input_tokens > self.max_input_tokens
            )
            if over_usd or over_tokens:
                self._refused += 1
                return None
            reservation = Reservation(next(self._ids), usd, est_input_tokens)
            self._open[reservation.id] = reservation
            return reservation

    def settle(self, reservation: Reservation, actual_usd: float | None, actual_input_tokens: int) -> None:
        """Replace the estimate by the actual. An unknown actual cost keeps the estimate:
        charging $0 for a call we could not price would let the cap drift."""
        with self._lock:
            if self._open.pop(reservation.id, None) is None:
                raise ValueError(f"reservation {reservation.id} is already settled")
            self._spent_usd += reservation.usd if actual_usd is None else actual_usd
            self._spent_tokens += actual_input_tokens

    def release(self, reservation: Reservation) -> None:
        """Give a reservation back for a call that was never sent."""
        with self._lock:
            self._open.pop(reservation.id, None)

    def remaining_usd(self) -> float | None:
        """What one more reservation may hold without crossing max_usd; None without a cap."""
        with self._lock:
            if self.max_usd is None:
                return None
            return self.max_usd - self._spent_usd - sum(r.usd for r in self._open.values())

    @property
    def spent_usd(self) -> float:
        with self._lock:
            return self._spent_usd

    @property
    def spent_input_tokens(self) -> int:
        with self._lock:
            return self._spent_tokens

    @property
    def reserved_usd(self) -> float:
        with self._lock:
            return sum(r.usd for r in self._open.values())

    def snapshot(self) -> dict[str, float | int | None]:
        with self._lock:
            return {
                "max_usd": self.max_usd,
                "spent_usd": self._spent_usd,
                "max_input_tokens": self.max_input_tokens,
                "spent_input_tokens": self._spent_tokens,
                "refused": self._refused,
            }


__all__ = ["BudgetDecision", "BudgetError", "BudgetGuard", "BudgetPlan", "Reservation", "plan_budget"]
