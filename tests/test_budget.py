"""budget: plan-time downgrade/skip decisions against a fake chunker and price table, and the
run-time BudgetGuard under many threads."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Mapping

import pytest

from reviewbot.budget import BudgetDecision, BudgetError, BudgetGuard, BudgetPlan, plan_budget
from reviewbot.chunker import Chunk
from reviewbot.config import BudgetConfig, Tier
from reviewbot.errors import EXIT_USAGE, ReviewbotError
from reviewbot.risk import FileRisk
from reviewbot.router import LOCAL_BLOCKED, Route

MODELS: dict[Tier, str] = {"cheap": "openai/gpt-4.1-mini", "frontier": "anthropic/claude-opus-4-1"}
USD_PER_TOKEN = {"openai/gpt-4.1-mini": 0.4e-6, "anthropic/claude-opus-4-1": 15e-6}


class FakePlanner:
    """One chunk per file, priced per token by model. Records every tier assignment built."""

    def __init__(
        self,
        tokens: Mapping[str, int],
        scores: Mapping[str, int],
        groups: Mapping[str, str] | None = None,
        models: Mapping[str, str] | None = None,
        blocked: frozenset[str] = frozenset(),
    ) -> None:
        self.tokens, self.scores = tokens, scores
        self.groups = groups or {}
        self.models = models or {}  # path -> model overriding its tier's model
        self.blocked = blocked
        self.builds: list[dict[str, Tier]] = []

    def build(self, tiers: Mapping[str, Tier]) -> list[Route]:
        self.builds.append(dict(tiers))
        routes = []
        for path in sorted(tiers):
            chunk = Chunk(
                f"c-{path}",
                tiers[path],
                self.groups.get(path, ""),
                (path,),
                f"text of {path}",
                self.tokens[path],
                self.scores[path],
            )
            if path in self.blocked:
                routes.append(Route(chunk, (), LOCAL_BLOCKED))
            else:
                routes.append(Route(chunk, (self.models.get(path, MODELS[tiers[path]]),)))
        return routes

    def estimate(self, route: Route) -> tuple[float | None, int]:
        price = USD_PER_TOKEN.get(route.models[0])
        return (None if price is None else price * route.chunk.tokens), route.chunk.tokens

    def usd(self, path: str, tier: Tier) -> float:
        return USD_PER_TOKEN[MODELS[tier]] * self.tokens[path]


def risks(*items: tuple[str, int, Tier], escalated: frozenset[str] = frozenset()) -> list[FileRisk]:
    return [FileRisk(p, s, t, ("test",), rule_escalated=p in escalated) for p, s, t in items]


def plan(fake: FakePlanner, rs: list[FileRisk], **budget: object) -> BudgetPlan:
    return plan_budget(rs, fake.build, fake.estimate, BudgetConfig.model_validate(budget))


def money(usd: float) -> str:
    return f"${usd:.2f}"


# --- within budget --------------------------------------------------------------------------


def test_plan_within_budget_changes_nothing() -> None:
    fake = FakePlanner({"a.py": 1000, "b.py": 2000}, {"a.py": 10, "b.py": 70})
    rs = risks(("a.py", 10, "cheap"), ("b.py", 70, "frontier"))
    p = plan(fake, rs, max_usd=1.0)
    assert p.decisions == () and p.skipped_chunks == () and p.notes == ()
    assert dict(p.tiers) == {"a.py": "cheap", "b.py": "frontier"}
    assert p.routes == tuple(fake.build(p.tiers))
    assert p.estimated_usd == pytest.approx(fake.usd("a.py", "cheap") + fake.usd("b.py", "frontier"))
    assert p.estimated_input_tokens == 3000
    assert len(fake.builds) == 2  # the plan's own build and the one above


def test_no_caps_means_no_decisions() -> None:
    fake = FakePlanner({"a.py": 10**6}, {"a.py": 90})
    p = plan(fake, risks(("a.py", 90, "frontier")))
    assert p.decisions == () and p.estimated_usd == pytest.approx(fake.usd("a.py", "frontier"))


# --- downgrade ---------------------------------------------------------------------------------


def test_downgrade_lowest_risk_first() -> None:
    tokens = {"auth.py": 20_000, "db.py": 20_000, "ci.yml": 20_000}
    scores = {"auth.py": 90, "db.py": 55, "ci.yml": 70}
    fake = FakePlanner(tokens, scores)
    rs = risks(*((p, s, "frontier") for p, s in scores.items()))
    total = sum(fake.usd(p, "frontier") for p in tokens)
    cap = total - fake.usd("db.py", "frontier") + fake.usd("db.py", "cheap")  # exactly one downgrade fits
    p = plan(fake, rs, max_usd=cap)
    assert p.decisions == (
        BudgetDecision(
            "db.py", "downgraded", f"downgraded to cheap: estimated {money(total)} over budget {money(cap)}"
        ),
    )
    assert dict(p.tiers) == {"auth.py": "frontier", "db.py": "cheap", "ci.yml": "frontier"}
    assert p.estimated_usd is not None and p.estimated_usd <= cap + 1e-9
    assert p.skipped_chunks == ()


def test_downgrade_continues_in_risk_order_until_within() -> None:
    tokens = {f"f{i}.py": 10_000 for i in range(6)}
    scores = {"f0.py": 95, "f1.py": 50, "f2.py": 80, "f3.py": 60, "f4.py": 65, "f5.py": 90}
    fake = FakePlanner(tokens, scores)
    rs = risks(*((p, s, "frontier") for p, s in scores.items()))
    cap = 2 * fake.usd("f0.py", "frontier") + 4 * fake.usd("f0.py", "cheap")  # four must go
    p = plan(fake, rs, max_usd=cap)
    assert [d.subject for d in p.decisions] == ["f1.py", "f3.py", "f4.py", "f2.py"]
    assert {path for path, tier in p.tiers.items() if tier == "frontier"} == {"f0.py", "f5.py"}
    assert p.skipped_chunks == ()


def test_rule_escalated_and_compliance_files_are_downgraded_last() -> None:
    tokens = {"pinned.py": 10_000, "grouped.py": 10_000, "plain.py": 10_000}
    scores = {"pinned.py": 10, "grouped.py": 20, "plain.py": 80}
    fake = FakePlanner(tokens, scores, groups={"grouped.py": "rule1"})
    rs = risks(*((p, s, "frontier") for p, s in scores.items()), escalated=frozenset({"pinned.py"}))
    cap = fake.usd("plain.py", "frontier") * 2 + fake.usd("plain.py", "cheap")
    p = plan(fake, rs, max_usd=cap)
    assert [d.subject for d in p.decisions] == ["plain.py"]
    tighter = plan(
        FakePlanner(tokens, scores, groups={"grouped.py": "rule1"}),
        rs,
        max_usd=fake.usd("plain.py", "frontier") + 2 * fake.usd("plain.py", "cheap"),
    )
    assert [d.subject for d in tighter.decisions] == ["plain.py", "pinned.py"]


def test_files_that_save_nothing_are_not_downgraded() -> None:
    # A frontier file whose chunk is blocked or unpriced costs nothing: downgrading it only loses quality.
    tokens = {"local.py": 50_000, "blocked.py": 50_000, "cloud.py": 50_000}
    scores = {"local.py": 5, "blocked.py": 6, "cloud.py": 90}
    fake = FakePlanner(tokens, scores, models={"local.py": "ollama_chat/qwen"}, blocked=frozenset({"blocked.py"}))
    rs = risks(*((p, s, "frontier") for p, s in scores.items()))
    p = plan(fake, rs, max_usd=fake.usd("cloud.py", "cheap"))
    assert [d.subject for d in p.decisions] == ["cloud.py"]


def test_skip_after_nothing_is_left_to_downgrade() -> None:
    tokens = {"a.py": 100_000, "b.py": 100_000, "c.py": 100_000}
    scores = {"a.py": 30, "b.py": 75, "c.py": 10}
    fake = FakePlanner(tokens, scores)
    rs = risks(("a.py", 30, "cheap"), ("b.py", 75, "frontier"), ("c.py", 10, "cheap"))
    one_cheap = fake.usd("a.py", "cheap")
    p = plan(fake, rs, max_usd=one_cheap * 1.5)  # even all-cheap is three times that
    assert p.decisions[0].subject == "b.py" and p.decisions[0].action == "downgraded"
    skips = [d for d in p.decisions if d.action == "skipped"]
    assert [d.subject for d in skips] == ["c-c.py", "c-a.py"]  # lowest risk first
    assert skips[0].reason == f"skipped: estimated {money(3 * one_cheap)} over budget {money(one_cheap * 1.5)}"
    assert p.skipped_chunks == ("c-c.py", "c-a.py")
    assert len(p.routes) == 3  # skipped routes stay, marked by skipped_chunks
    assert p.estimated_usd == pytest.approx(one_cheap)
    assert p.estimated_input_tokens == 100_000


def test_token_cap_skips_without_downgrading() -> None:
    fake = FakePlanner({"a.py": 4000, "b.py": 4000}, {"a.py": 80, "b.py": 60})
    rs = risks(("a.py", 80, "frontier"), ("b.py", 60, "frontier"))
    p = plan(fake, rs, max_input_tokens=5000)
    assert p.decisions == (
        BudgetDecision("c-b.py", "skipped", "skipped: estimated 8,000 input tokens over budget 5,000"),
    )
    assert dict(p.tiers) == {"a.py": "frontier", "b.py": "frontier"}
    assert p.estimated_input_tokens == 4000


# --- skip and fail modes -------------------------------------------------------------------


def test_skip_mode_skips_lowest_risk_chunks_directly() -> None:
    tokens = {"a.py": 10_000, "b.py": 10_000, "c.py": 10_000}
    scores = {"a.py": 90, "b.py": 20, "c.py": 60}
    fake = FakePlanner(tokens, scores)
    rs = risks(*((p, s, "frontier") for p, s in scores.items()))
    p = plan(fake, rs, max_usd=fake.usd("a.py", "frontier") * 2, on_exceed="skip")
    assert [(d.subject, d.action) for d in p.decisions] == [("c-b.py", "skipped")]
    assert dict(p.tiers) == {p_: "frontier" for p_ in tokens}
    assert len(fake.builds) == 1


def test_fail_mode_raises() -> None:
    fake = FakePlanner({"a.py": 100_000}, {"a.py": 90})
    with pytest.raises(BudgetError) as err:
        plan(fake, risks(("a.py", 90, "frontier")), max_usd=0.5, on_exceed="fail")
    assert isinstance(err.value, ReviewbotError)
    assert err.value.exit_code == EXIT_USAGE == 2
    assert err.value.message == f"budget exceeded: estimated {money(fake.usd('a.py', 'frontier'))} over budget $0.50"
    assert err.value.hint == "raise budget.max_usd or use on_exceed: downgrade"


def test_fail_mode_within_budget_passes() -> None:
    fake = FakePlanner({"a.py": 1000}, {"a.py": 90})
    p = plan(fake, risks(("a.py", 90, "frontier")), max_usd=0.5, on_exceed="fail")
    assert p.decisions == ()


# --- unknown prices and blocked routes -----------------------------------------------------


def test_unknown_price_counts_as_zero_and_is_noted() -> None:
    fake = FakePlanner(
        {"a.py": 100_000, "b.py": 900_000}, {"a.py": 10, "b.py": 10}, models={"b.py": "ollama_chat/qwen"}
    )
    p = plan(fake, risks(("a.py", 10, "cheap"), ("b.py", 10, "cheap")), max_usd=0.05)
    assert p.decisions == ()
    assert p.estimated_usd is None  # unknown, never a made-up total
    assert p.estimated_input_tokens == 1_000_000
    assert p.notes == (
        "price unknown for ollama_chat/qwen (1 chunk): counted as $0 against budget.max_usd",
        f"estimated {money(fake.usd('a.py', 'cheap'))} for the chunks with known prices",
    )


def test_blocked_routes_cost_nothing_and_are_not_skipped() -> None:
    fake = FakePlanner({"a.py": 10_000, "b.py": 10_000}, {"a.py": 1, "b.py": 50}, blocked=frozenset({"a.py"}))
    p = plan(fake, risks(("a.py", 1, "cheap"), ("b.py", 50, "cheap")), max_usd=fake.usd("b.py", "cheap"))
    assert p.decisions == ()
    assert p.estimated_input_tokens == 10_000


# --- BudgetGuard -----------------------------------------------------------------------------


def test_reservation_refused_when_it_would_cross() -> None:
    guard = BudgetGuard(max_usd=1.0, max_input_tokens=None)
    first = guard.reserve(0.6, 1000)
    assert first is not None
    assert guard.reserve(0.5, 1000) is None  # 0.6 held + 0.5 > 1.0
    assert guard.reserved_usd == pytest.approx(0.6)
    guard.settle(first, 0.3, 900)
    assert guard.spent_usd == pytest.approx(0.3) and guard.reserved_usd == 0
    second = guard.reserve(0.5, 1000)  # 0.3 spent + 0.5 fits
    assert second is not None
    assert guard.reserve(0.21, 1) is None
    assert guard.snapshot() == {
        "max_usd": 1.0,
        "spent_usd": pytest.approx(0.3),
        "max_input_tokens": None,
        "spent_input_tokens": 900,
        "refused": 2,
    }


def test_token_cap_and_exact_fit() -> None:
    guard = BudgetGuard(max_usd=None, max_input_tokens=10_000)
    r = guard.reserve(None, 10_000)
    assert r is not None  # reaching the cap exactly is allowed
    assert guard.reserve(None, 1) is None
    guard.release(r)
    assert guard.reserve(None, 1) is not None


def test_unknown_actual_keeps_the_estimate_and_double_settle_fails() -> None:
    guard = BudgetGuard(max_usd=1.0, max_input_tokens=None)
    r = guard.reserve(0.4, 10)
    assert r is not None
    guard.settle(r, None, 10)
    assert guard.spent_usd == pytest.approx(0.4)
    with pytest.raises(ValueError, match="already settled"):
        guard.settle(r, 0.1, 10)


def test_guard_holds_the_cap_across_threads() -> None:
    cap_usd, cap_tokens = 5.0, 400_000
    guard = BudgetGuard(max_usd=cap_usd, max_input_tokens=cap_tokens)
    sent: list[tuple[float, int]] = []
    refused = 0
    lock = threading.Lock()
    start = threading.Barrier(16)

    def worker(seed: int) -> None:
        nonlocal refused
        rng = random.Random(seed)
        start.wait()
        for _ in range(200):
            est_usd, est_tokens = rng.uniform(0.001, 0.2), rng.randint(100, 5000)
            r = guard.reserve(est_usd, est_tokens)
            if r is None:
                with lock:
                    refused += 1
                continue
            time.sleep(rng.random() / 1000)  # the call is in flight: other threads reserve meanwhile
            actual = (est_usd * rng.uniform(0.8, 1.0), int(est_tokens * rng.uniform(0.8, 1.0)))
            guard.settle(r, *actual)
            with lock:
                sent.append(actual)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refused > 0  # the caps were reached
    assert sum(u for u, _ in sent) <= cap_usd + 1e-9
    assert sum(t for _, t in sent) <= cap_tokens
    assert guard.spent_usd == pytest.approx(sum(u for u, _ in sent))
    assert guard.spent_input_tokens == sum(t for _, t in sent)
    assert guard.reserved_usd == 0
    assert guard.snapshot()["refused"] == refused


def test_reason_amounts_never_print_alike() -> None:
    fake = FakePlanner({"a.py": 33_340}, {"a.py": 50})
    total = fake.usd("a.py", "frontier")  # $0.5001
    p = plan(fake, risks(("a.py", 50, "frontier")), max_usd=total - 0.0004, on_exceed="skip")
    (decision,) = p.decisions
    estimated, cap = decision.reason.removeprefix("skipped: estimated ").split(" over budget ")
    assert estimated != cap  # at cents both would read $0.50
    assert float(estimated.lstrip("$")) == pytest.approx(total, abs=1e-4)
    assert float(cap.lstrip("$")) == pytest.approx(total - 0.0004, abs=1e-4)
