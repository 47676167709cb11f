"""The reviewer's own logic (failover, cooldown, repair retry, budget guard, format ladder)
with a fake LLM that records every request: no HTTP here, see test_e2e for that."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from reviewbot.calling import Guard as AnyGuard
from reviewbot.calling import ReviewSettings, ReviewTools, Target
from reviewbot.chunker import Chunk, split_chunk
from reviewbot.findings import Finding, ParsedReply
from reviewbot.llm import LLMError, LLMRequest, LLMResponse
from reviewbot.outcome import CallRecord
from reviewbot.reviewer import Reviewer
from reviewbot.router import Route

Answer = LLMResponse | LLMError | Callable[[LLMRequest], LLMResponse]


@dataclass
class FakeLLM:
    """Answers queued per model; every request recorded."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    requests: list[LLMRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self.lock:
            self.requests.append(request)
            queue = self.answers.get(request.model, [])
            answer = queue.pop(0) if queue else reply([])
        if isinstance(answer, LLMError):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    def models_called(self) -> list[str]:
        return [r.model for r in self.requests]


def reply(
    findings: list[dict[str, object]],
    *,
    summary: str = "changes things",
    tokens: tuple[int, int] = (1000, 100),
    finish: str = "stop",
    text: str | None = None,
) -> LLMResponse:
    body = text if text is not None else json.dumps({"summary": summary, "findings": findings})
    return LLMResponse(text=body, input_tokens=tokens[0], output_tokens=tokens[1], finish_reason=finish, latency_ms=5)


def fake_parse(text: str, *, model: str = "", chunk_id: str = "", finish_reason: str | None = None) -> ParsedReply:
    try:
        data = json.loads(text)
    except ValueError:
        return ParsedReply((), None, "no JSON object found")
    found = tuple(
        Finding(
            path=f["path"],
            line=f["line"],
            side="RIGHT",
            severity=f.get("severity", "medium"),
            category="bug",
            title=f["title"],
            body="b",
            model=model,
            chunk_id=chunk_id,
        )
        for f in data["findings"]
    )
    return ParsedReply(found, data.get("summary"), None)


class FakePrompts:
    template_hash = "abc123"

    def review_messages(
        self, chunk: Chunk, *, pr_title: str | None = None, pr_body: str | None = None
    ) -> tuple[dict[str, str], ...]:
        return ({"role": "system", "content": "review"}, {"role": "user", "content": chunk.text})

    def repair_messages(self, messages: Sequence[dict[str, str]], bad: str, error: str) -> tuple[dict[str, str], ...]:
        return (*messages, {"role": "assistant", "content": bad}, {"role": "user", "content": f"fix: {error}"})

    def summary_messages(
        self, summaries: Sequence[tuple[str, str]], counts: object, files: object
    ) -> tuple[dict[str, str], ...]:
        return ({"role": "user", "content": " ".join(s for _, s in summaries)},)

    def overhead_tokens(self, count: Callable[[str], int]) -> int:
        return 0


class Guard:
    """A minimal budget guard with the BudgetGuard interface."""

    def __init__(self, cap: float | None = None) -> None:
        self.cap, self.spent_usd, self.reserved = cap, 0.0, 0.0
        self.lock = threading.Lock()

    def reserve(self, usd: float | None, tokens: int) -> object | None:
        with self.lock:
            est = usd or 0.0
            if self.cap is not None and self.spent_usd + self.reserved + est > self.cap:
                return None
            self.reserved += est
            return est

    def settle(self, reservation: object, usd: float | None, tokens: int) -> None:
        with self.lock:
            self.reserved -= float(reservation)  # type: ignore[arg-type]
            self.spent_usd += usd or 0.0

    def remaining_usd(self) -> float | None:
        with self.lock:
            return None if self.cap is None else self.cap - self.spent_usd - self.reserved


def chunk(cid: str, tier: str = "cheap", files: tuple[str, ...] = ("app.py",), text: str = "@@\n1+x\n") -> Chunk:
    return Chunk(id=cid, tier=tier, group="", files=files, text=text, tokens=10, risk=0)  # type: ignore[arg-type]


def make(
    client: FakeLLM,
    *,
    guard: AnyGuard | None = None,
    price: float | None = 0.001,
    windows: dict[str, int] | None = None,
    tools: dict[str, Any] | None = None,
    **settings: Any,
) -> Reviewer:
    """A Reviewer over the fakes; `tools` replaces ReviewTools fields (parse, sleep, on_call…)."""

    def target(model: str) -> Target:
        return Target(model, "http://127.0.0.1:9/v1", "sk-test", {}, 5.0, "127.0.0.1", "OPENAI_API_KEY")

    kit = ReviewTools(
        targets=target,
        price=lambda m, i, o, c: price,
        supports_schema=lambda m: True,
        context_window=lambda m: (windows or {}).get(m),
        count_tokens=lambda s: len(s) // 4 + 1,
        parse=fake_parse,
        anchor=lambda fs, ch: list(fs),
        response_format=lambda mode: None if mode == "none" else {"type": mode},
        sleep=lambda s: None,
    )
    return Reviewer(client, FakePrompts(), guard or Guard(), replace(kit, **(tools or {})), ReviewSettings(**settings))


FINDING = {"path": "app.py", "line": 1, "title": "bug here", "severity": "high"}


def test_primary_model_reviews_and_records_one_call() -> None:
    client = FakeLLM({"m1": [reply([FINDING])]})
    outcome = make(client).review([Route(chunk("c001"), ("m1", "m2"))])
    assert client.models_called() == ["m1"]
    assert outcome.results[0].status == "reviewed"
    assert [f.title for f in outcome.results[0].findings] == ["bug here"]
    (call,) = outcome.calls
    assert (call.model, call.outcome, call.findings, call.input_tokens, call.usd) == ("m1", "ok", 1, 1000, 0.001)
    assert client.requests[0].timeout == 5.0 and client.requests[0].api_key == "sk-test"


def test_rate_limit_fails_over_at_once_without_retrying_the_same_model() -> None:
    client = FakeLLM({"m1": [LLMError("rate_limit", "slow down", status=429)], "m2": [reply([])]})
    outcome = make(client).review([Route(chunk("c001"), ("m1", "m2"))])
    assert client.models_called() == ["m1", "m2"]
    assert outcome.results[0].model == "m2"
    assert [(f.from_model, f.to_model) for f in outcome.failovers] == [("m1", "m2")]
    assert [c.outcome for c in outcome.calls] == ["failover", "ok"]


def test_server_error_is_retried_on_the_same_model_then_fails_over() -> None:
    err = LLMError("server", "boom", status=500)
    client = FakeLLM({"m1": [err, err], "m2": [reply([])]})
    outcome = make(client, attempts_per_model=2).review([Route(chunk("c001"), ("m1", "m2"))])
    assert client.models_called() == ["m1", "m1", "m2"]
    assert outcome.results[0].status == "reviewed"


def test_every_model_failing_lists_the_chunk_as_not_reviewed() -> None:
    err = LLMError("timeout", "timed out")
    client = FakeLLM({"m1": [err, err], "m2": [err, err]})
    outcome = make(client).review([Route(chunk("c001"), ("m1", "m2"))])
    result = outcome.results[0]
    assert result.status == "failed" and "every allowed model failed" in (result.error or "")
    assert len(outcome.calls) == 4 and all(c.outcome in ("error", "failover") for c in outcome.calls)


def test_model_is_cooled_down_after_repeated_failures() -> None:
    err = LLMError("connection", "refused")
    client = FakeLLM({"m1": [err] * 10, "m2": [reply([])] * 5})
    routes = [Route(chunk(f"c00{i}"), ("m1", "m2")) for i in range(1, 5)]
    outcome = make(client, concurrency=1, attempts_per_model=1, cooldown_after=2).review(routes)
    assert client.models_called().count("m1") == 2  # then m1 rests for the rest of the run
    assert all(r.status == "reviewed" for r in outcome.results)
    assert any("cooled down" in f.reason for f in outcome.failovers)


def test_auth_error_is_reported_with_the_variable_to_fix() -> None:
    client = FakeLLM({"m1": [LLMError("auth", "invalid key", status=401)], "m2": [reply([])]})
    outcome = make(client).review([Route(chunk("c001"), ("m1", "m2"))])
    assert outcome.notices == ("authentication failed for m1: check OPENAI_API_KEY",)
    assert outcome.failovers[0].reason == "authentication failed for m1: check OPENAI_API_KEY"


def test_malformed_reply_gets_one_repair_retry() -> None:
    client = FakeLLM({"m1": [reply([], text="Sure! here you go"), reply([FINDING])]})
    outcome = make(client).review([Route(chunk("c001"), ("m1",))])
    assert len(client.requests) == 2
    assert client.requests[1].messages[-1]["content"] == "fix: no JSON object found"
    assert outcome.results[0].status == "reviewed" and len(outcome.results[0].findings) == 1
    assert [c.outcome for c in outcome.calls] == ["parse-failed", "ok"]


def test_reply_still_malformed_after_repair_fails_the_chunk_visibly() -> None:
    client = FakeLLM({"m1": [reply([], text="nope"), reply([], text="still nope")]})
    outcome = make(client).review([Route(chunk("c001"), ("m1",))])
    result = outcome.results[0]
    assert result.status == "failed" and "after one repair retry" in (result.error or "")
    assert "no reply was usable" in (result.error or "")  # every call answered: not "every call failed"
    assert client.models_called() == ["m1", "m1"]


def test_an_unusable_reply_fails_over_to_the_next_model_in_the_tier() -> None:
    client = FakeLLM({"m1": [reply([], text="nope"), reply([], text="still nope")], "m2": [reply([FINDING])]})
    outcome = make(client).review([Route(chunk("c001"), ("m1", "m2"))])
    result = outcome.results[0]
    assert result.status == "reviewed" and result.model == "m2" and len(result.findings) == 1
    assert client.models_called() == ["m1", "m1", "m2"]
    assert [f.from_model for f in outcome.failovers] == ["m1"] and "unusable" in outcome.failovers[0].reason


def test_budget_guard_stops_requests_that_would_cross_the_cap() -> None:
    client = FakeLLM({"m1": [reply([])] * 10})
    routes = [Route(chunk(f"c00{i}"), ("m1",)) for i in range(1, 6)]
    outcome = make(client, guard=Guard(cap=0.0025), price=0.001, concurrency=1).review(routes)
    assert len(client.requests) == 2
    statuses = [r.status for r in outcome.results]
    assert statuses.count("reviewed") == 2 and statuses.count("skipped") == 3
    assert all("budget" in (r.error or "") for r in outcome.results if r.status == "skipped")
    assert len(outcome.calls) == 2  # skipped chunks made no request, so no call record


def test_bad_request_steps_down_the_response_format_and_remembers_it() -> None:
    client = FakeLLM(
        {"m1": [LLMError("bad_request", "response_format not supported", status=400), reply([]), reply([])]}
    )
    reviewer = make(client, concurrency=1)
    reviewer.review([Route(chunk("c001"), ("m1",)), Route(chunk("c002"), ("m1",))])
    formats = [r.response_format["type"] if r.response_format else None for r in client.requests]
    assert formats == ["json_schema", "json_object_schema", "json_object_schema"]


def test_context_too_long_skips_small_models_and_splits_when_none_fits() -> None:
    text = "### a.py\n@@ -1 +1 @@\n" + "x" * 400 + "\n@@ -9 +9 @@\n" + "y" * 400 + "\n"
    client = FakeLLM({"big": [reply([]), reply([])]})
    outcome = make(client, windows={"small": 300, "big": 450}).review(
        [Route(chunk("c001", text=text), ("small", "big"))]
    )
    assert client.models_called() == ["big", "big"]  # halves, each fits the larger window
    assert outcome.results[0].status == "reviewed"


def test_blocked_route_is_never_sent() -> None:
    client = FakeLLM()
    outcome = make(client).review([Route(chunk("c001"), (), "local-only, no local model available")])
    assert client.requests == []
    assert outcome.results[0].error == "not reviewed: local-only, no local model available"


def test_overview_uses_summary_models_with_failover() -> None:
    client = FakeLLM({"s1": [LLMError("server", "down", status=503)], "s2": [reply([], text="It adds a login form.")]})
    reviewer = make(client, attempts_per_model=1)
    text = reviewer.overview(["s1", "s2"], [("a.py", "adds login")], {"high": 1}, ["a.py"])
    assert text == "It adds a login form."
    assert [c.tier for c in reviewer.ledger.calls] == ["summary", "summary"]


def test_split_chunk_keeps_the_file_header_on_both_halves() -> None:
    text = "### a.py\n@@\n1+a\n@@ def f():\n5+b\n"
    halves = split_chunk(chunk("c001", text=text), lambda s: len(s))
    assert halves is not None
    first, second = halves
    assert first.text.startswith("### a.py") and second.text.startswith("### a.py")
    assert "5+b" in second.text and "5+b" not in first.text
    assert split_chunk(chunk("c002", text="### a.py\n@@\n1+a\n"), len) is None


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_chunk_gets_exactly_one_result_under_concurrency(concurrency: int) -> None:
    client = FakeLLM({"m1": [reply([FINDING]) for _ in range(20)]})
    routes = [Route(chunk(f"c{i:03d}"), ("m1",)) for i in range(20)]
    outcome = make(client, concurrency=concurrency).review(routes)
    assert [r.chunk_id for r in outcome.results] == [f"c{i:03d}" for i in range(20)]
    assert len({c.call_id for c in outcome.calls}) == 20


# -- on_call: each record handed over once, as soon as it is final -------------------------------


class Handed(list[CallRecord]):
    """An on_call that keeps what it was given; `at_request` notes how many records it held
    when each request reached the fake model."""

    def __init__(self) -> None:
        super().__init__()
        self.at_request: list[list[tuple[str, str]]] = []

    def __call__(self, record: CallRecord) -> None:
        self.append(record)

    def seen(self) -> list[tuple[str, str]]:
        return [(r.model, r.outcome) for r in self]

    def answer(self, response: LLMResponse | LLMError) -> Callable[[LLMRequest], LLMResponse]:
        def respond(request: LLMRequest) -> LLMResponse:
            self.at_request.append(self.seen())
            if isinstance(response, LLMError):
                raise response
            return response

        return respond


def test_on_call_gets_each_record_final_before_the_next_request() -> None:
    handed = Handed()
    rate_limited = LLMError("rate_limit", "slow down", status=429)
    client = FakeLLM(
        {
            "m1": [handed.answer(rate_limited)],
            "m2": [
                handed.answer(reply([], text="not json")),
                handed.answer(reply([FINDING])),
                handed.answer(reply([FINDING])),
            ],
            "s1": [handed.answer(reply([], text="It adds a login form."))],
        }
    )
    reviewer = make(client, concurrency=1, tools={"on_call": handed})
    outcome = reviewer.review([Route(chunk("c001"), ("m1", "m2")), Route(chunk("c002"), ("m2",))])
    reviewer.overview(["s1"], [("app.py", "adds login")], {}, ["app.py"])
    # The failed call is handed over as a failover, the unusable reply as parse-failed, each
    # before the next request is sent; the findings count is the final one.
    assert handed.at_request == [
        [],
        [("m1", "failover")],
        [("m1", "failover"), ("m2", "parse-failed")],
        [("m1", "failover"), ("m2", "parse-failed"), ("m2", "ok")],
        [("m1", "failover"), ("m2", "parse-failed"), ("m2", "ok"), ("m2", "ok")],
    ]
    assert list(handed) == list(reviewer.ledger.calls) and len(handed) == 5
    assert [r.findings for r in handed] == [0, 0, 1, 1, 0]
    assert list(handed)[:4] == list(outcome.calls)


def test_on_call_hands_over_every_record_once_in_order_under_concurrency() -> None:
    handed = Handed()
    err = LLMError("server", "boom", status=500)
    answers: list[Answer] = [err if i % 3 == 0 else reply([FINDING]) for i in range(40)]
    client = FakeLLM({"m1": answers, "m2": [reply([]) for _ in range(40)]})
    reviewer = make(client, concurrency=4, attempts_per_model=1, tools={"on_call": handed})
    outcome = reviewer.review([Route(chunk(f"c{i:03d}"), ("m1", "m2")) for i in range(20)])
    assert list(handed) == list(outcome.calls) == list(reviewer.ledger.calls)
    assert len({r.call_id for r in handed}) == len(handed) == len(client.requests)
    assert {r.outcome for r in handed} == {"failover", "ok"}


def test_on_call_keeps_the_finished_calls_when_the_run_breaks_off() -> None:
    handed = Handed()

    def broken(request: LLMRequest) -> LLMResponse:
        raise RuntimeError("the process is going down")

    client = FakeLLM({"m1": [reply([FINDING]), reply([]), broken]})
    reviewer = make(client, concurrency=1, tools={"on_call": handed})
    with pytest.raises(RuntimeError, match="going down"):
        reviewer.review([Route(chunk(f"c00{i}"), ("m1",)) for i in range(1, 6)])
    # Every call that finished is handed over (chunks queued behind the broken one may still
    # have run before the error reached the caller); the broken request left no record.
    assert list(handed) == list(reviewer.ledger.calls)
    assert [(r.chunk_id, r.outcome, r.findings) for r in handed][:2] == [("c001", "ok", 1), ("c002", "ok", 0)]
    assert "c003" not in {r.chunk_id for r in handed}


def test_on_call_hands_over_a_crashed_chunks_call_and_the_ones_after_it() -> None:
    handed = Handed()
    client = FakeLLM({"m1": [reply([FINDING]), reply([FINDING])]})

    def anchor(findings: Sequence[Finding], ch: Chunk) -> list[Finding]:
        if ch.id == "c002":
            raise RuntimeError("a bug while anchoring")
        return list(findings)

    reviewer = make(client, concurrency=2, tools={"on_call": handed, "anchor": anchor})
    with pytest.raises(RuntimeError, match="anchoring"):
        reviewer.review([Route(chunk("c001"), ("m1",)), Route(chunk("c002"), ("m1",))])
    # c002's reply arrived (and was paid for) before the bug: its record is handed over all
    # the same, and does not hold back c001's when it came first.
    assert list(handed) == list(reviewer.ledger.calls)
    assert sorted(r.chunk_id for r in handed) == ["c001", "c002"]


def test_a_reply_never_asks_for_more_room_than_the_window_leaves() -> None:
    # A local server counts input and output in one context (llama.cpp's n_ctx): the output
    # cap shrinks to what the window leaves after the input, by the provider's count.
    client = FakeLLM({"m1": [reply([])]})
    make(client, windows={"m1": 2000}, max_output_tokens=4096).review([Route(chunk("c001"), ("m1",))])
    (request,) = client.requests
    raw = sum(len(m["content"]) // 4 + 1 + 4 for m in request.messages)
    assert request.max_tokens == 2000 - int(raw * 1.40)


def test_a_window_without_room_for_a_reply_fails_over_to_a_larger_model() -> None:
    client = FakeLLM({"big": [reply([])]})
    outcome = make(client, windows={"small": 200, "big": 4000}).review([Route(chunk("c001"), ("small", "big"))])
    assert client.models_called() == ["big"] and outcome.results[0].status == "reviewed"
    assert "context window" in outcome.failovers[0].reason


def test_an_answered_error_costs_nothing_and_a_timeout_stays_unknown() -> None:
    # The server answered 500: nothing was generated. A timeout may have been generating
    # (its tokens spent): its cost is not known, never reported as $0.
    client = FakeLLM(
        {
            "m1": [LLMError("server", "boom", status=500)],
            "m2": [LLMError("timeout", "no answer in 5 s")],
            "m3": [reply([])],
        }
    )
    outcome = make(client, attempts_per_model=1, tools={"price": lambda m, i, o, c: (i + o) / 1_000_000}).review(
        [Route(chunk("c001"), ("m1", "m2", "m3"))]
    )
    assert [(c.model, c.usd) for c in outcome.calls][:2] == [("m1", 0.0), ("m2", None)]


def test_a_gateway_target_gets_the_run_labels_with_tier_and_chunk_and_others_none() -> None:
    def target(model: str) -> Target:
        return Target(model, "http://127.0.0.1:9/v1", None, {}, 5.0, "127.0.0.1", None, send_labels=model == "gw")

    client = FakeLLM({"gw": [reply([])], "direct": [reply([])]})
    reviewer = make(client, concurrency=1, tools={"targets": target, "labels": {"repository": "acme/shop", "pr": "7"}})
    reviewer.review([Route(chunk("c001", tier="frontier"), ("gw",)), Route(chunk("c002"), ("direct",))])
    assert [r.labels for r in client.requests] == [
        {"repository": "acme/shop", "pr": "7", "tier": "frontier", "chunk_id": "c001"},
        None,
    ]
