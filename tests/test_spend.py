"""Spend against a provider whose token counts are not ours (issue 9.6, second half): the
reviewer reserves with a margin until the first reply's `usage` says how the provider counts,
settles on reported usage, and does not believe negative or absurd usage. The real
LiteLLMClient against the fake OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply

from reviewbot.budget import BudgetGuard
from reviewbot.calling import ReviewSettings, ReviewTools, Target
from reviewbot.chunker import Chunk
from reviewbot.findings import parse_reply
from reviewbot.llm import LiteLLMClient, LLMRequest
from reviewbot.outcome import ReviewOutcome
from reviewbot.reviewer import Reviewer
from reviewbot.router import Route

REPLY = {"summary": "Adds a helper.", "findings": []}


class Prompts:
    template_hash = "t"

    def review_messages(self, chunk: Chunk, **_: Any) -> tuple[dict[str, str], ...]:
        return ({"role": "system", "content": "review"}, {"role": "user", "content": chunk.text})

    def repair_messages(self, messages: Any, bad: str, error: str) -> tuple[dict[str, str], ...]:
        return (*messages, {"role": "user", "content": f"fix: {error}"})

    def summary_messages(self, summaries: Any, counts: Any, files: Any) -> tuple[dict[str, str], ...]:
        return ({"role": "user", "content": "summarise"},)

    def overhead_tokens(self, count: Callable[[str], int]) -> int:
        return 0


def chunk(cid: str, text: str = "### app.py\n@@\n1+x = 1\n") -> Chunk:
    return Chunk(id=cid, tier="cheap", group="", files=("app.py",), text=text, tokens=10, risk=0)


def count_tokens(text: str) -> int:
    return len(text) // 4 + 1


def our_count(messages: Any) -> int:
    return sum(count_tokens(m["content"]) + 4 for m in messages)  # the reviewer's raw count


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def review(
    server: FakeOpenAIServer,
    routes: list[Route],
    guard: BudgetGuard,
    price: Callable[[str, int, int, int], float | None],
) -> ReviewOutcome:
    def target(model: str) -> Target:
        return Target(model, server.base_url, "sk-test", {}, 5.0, "127.0.0.1", "KEY")

    tools = ReviewTools(
        targets=target,
        price=price,
        supports_schema=lambda m: True,
        context_window=lambda m: None,
        count_tokens=count_tokens,
        parse=parse_reply,
        anchor=lambda fs, ch: list(fs),
        sleep=lambda s: None,
    )
    reviewer = Reviewer(LiteLLMClient(), Prompts(), guard, tools, ReviewSettings(concurrency=1))
    return reviewer.review(routes)


def test_a_provider_counting_136_percent_never_crosses_the_cap(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: FakeReply.json(
        REPLY, prompt_tokens=int(our_count(body["messages"]) * 1.36), completion_tokens=10
    )
    text = "### app.py\n@@\n" + "".join(f"{i}+value_{i} = compute({i})\n" for i in range(1, 60))
    routes = [Route(chunk(f"c00{i}", text), ("openai/m1",)) for i in range(1, 6)]
    raw = our_count(Prompts().review_messages(routes[0].chunk))
    per_token = 0.001
    cap = 3.9 * raw * per_token  # with a 1.10 margin, a third request would cross it
    guard = BudgetGuard(cap, None)

    outcome = review(server, routes, guard, lambda m, i, o, c: i * per_token)

    assert guard.spent_usd <= cap
    assert [r.status for r in outcome.results].count("reviewed") == 2 and len(server.chat_requests) == 2
    # Settled on what the provider reported, not on our estimate.
    reported = sum(c.input_tokens for c in outcome.calls)
    assert reported == 2 * int(raw * 1.36) and guard.spent_usd == pytest.approx(reported * per_token)


@pytest.mark.parametrize("usage", [(-5, 10), (10, -1), (10**12, 10), (10, 10**13)])
def test_negative_or_absurd_usage_is_not_believed(server: FakeOpenAIServer, usage: tuple[int, int]) -> None:
    def answer() -> FakeReply:
        return FakeReply.json(REPLY, prompt_tokens=usage[0], completion_tokens=usage[1])

    server.push(answer())
    response = LiteLLMClient().complete(
        LLMRequest(
            model="openai/m1",
            messages=({"role": "user", "content": "hi"},),
            max_tokens=64,
            timeout=5.0,
            api_base=server.base_url,
            api_key="sk-test",
        )
    )
    assert not response.usage_reported
    assert (response.input_tokens, response.output_tokens, response.cost_usd) == (0, 0, None)

    server.push(answer())
    guard = BudgetGuard(10.0, None)
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",))], guard, lambda m, i, o, c: (i + o) * 0.001)
    assert outcome.results[0].status == "reviewed"
    # Charged the reserved worst case (estimate x margin, full output room), never $0 or less.
    assert guard.spent_usd > 0.001 * 4096
