"""The model transport against a real HTTP server on 127.0.0.1 (tests/fakes/openai_server.py),
driven through the Reviewer with the real LiteLLMClient: which failures step the reply format
down (issue 10.5), how a single-model tier waits out a 429 or a brief 5xx (issue 10.6), and the
one Retry-After reader. Sleeps are recorded, never slept."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fakes.openai_server import FakeOpenAIServer, FakeReply

from reviewbot.budget import BudgetGuard
from reviewbot.chunker import Chunk
from reviewbot.findings import parse_reply
from reviewbot.llm import LiteLLMClient, LLMError, LLMRequest, names_format
from reviewbot.retryafter import parse_retry_after, retry_after_from_headers
from reviewbot.reviewer import Reviewer, ReviewOutcome, ReviewSettings, Target
from reviewbot.router import Route


class Guard:
    def reserve(self, usd: float | None, tokens: int) -> object:
        return 0.0

    def settle(self, reservation: object, usd: float | None, tokens: int) -> None:
        return None


class Prompts:
    template_hash = "t"

    def review_messages(self, chunk: Chunk, **_: Any) -> tuple[dict[str, str], ...]:
        return ({"role": "system", "content": "review"}, {"role": "user", "content": chunk.text})

    def repair_messages(self, messages: Any, bad: str, error: str) -> tuple[dict[str, str], ...]:
        return (*messages, {"role": "user", "content": f"fix: {error}"})


def chunk(cid: str) -> Chunk:
    return Chunk(id=cid, tier="cheap", group="", files=("app.py",), text="### app.py\n@@\n1+x = 1\n",  # type: ignore[arg-type]
                 tokens=10, risk=0)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as fake:
        yield fake


def review(server: FakeOpenAIServer, routes: list[Route], sleeps: list[float], *, guard: Any = None,
           price: Callable[[str, int, int, int], float | None] = lambda m, i, o, c: 0.0,
           **settings: Any) -> ReviewOutcome:
    def target(model: str) -> Target:
        return Target(model, server.base_url, "sk-test", {}, 5.0, "127.0.0.1", "KEY")

    reviewer = Reviewer(
        LiteLLMClient(), Prompts(), targets=target, price=price,
        supports_schema=lambda m: True, context_window=lambda m: None,
        count_tokens=lambda s: len(s) // 4 + 1, parse=parse_reply,
        anchor=lambda fs, ch: list(fs), guard=guard or Guard(),
        settings=ReviewSettings(concurrency=1, **settings), sleep=sleeps.append,
    )
    return reviewer.review(routes)


def formats(server: FakeOpenAIServer) -> list[str | None]:
    return [(r.body.get("response_format") or {}).get("type") for r in server.chat_requests]


# -- issue 10.5: a 5xx never turns JSON mode off ---------------------------------------------

@pytest.mark.parametrize("failure", [
    FakeReply.server_error(),
    FakeReply.error(502, "Bad gateway", "upstream_error"),
    FakeReply.unavailable(),
])
def test_one_5xx_keeps_the_reply_format_for_the_retry_and_the_run(server: FakeOpenAIServer, failure: FakeReply) -> None:
    server.push(failure)
    sleeps: list[float] = []
    outcome = review(server, [Route(chunk(f"c00{i}"), ("openai/m1",)) for i in range(1, 5)], sleeps)

    assert [r.status for r in outcome.results] == ["reviewed"] * 4
    assert len(server.chat_requests) == 5  # the failed one and its retry, then three more
    assert formats(server) == ["json_schema"] * 5
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 1.0  # jittered backoff, recorded not slept


def test_an_answer_naming_the_format_steps_down_for_that_model_only(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.bad_request("Invalid parameter: 'response_format' of type 'json_schema' is "
                                      "not supported with this model."))
    routes = [Route(chunk("c001"), ("openai/m1",)), Route(chunk("c002"), ("openai/m1",)),
              Route(chunk("c003"), ("openai/m2",))]
    outcome = review(server, routes, [])

    assert [r.status for r in outcome.results] == ["reviewed"] * 3
    sent = [(r.body["model"], (r.body.get("response_format") or {}).get("type")) for r in server.chat_requests]
    assert sent == [("m1", "json_schema"), ("m1", "json_object"), ("m1", "json_object"), ("m2", "json_schema")]


def test_a_bad_request_that_does_not_name_the_format_does_not_step_down(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.bad_request("Invalid value for 'temperature'."))
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",)), Route(chunk("c002"), ("openai/m1",))], [])

    assert [r.status for r in outcome.results] == ["failed", "reviewed"]
    assert formats(server) == ["json_schema", "json_schema"]


def test_names_format() -> None:
    assert names_format("response_format type json_schema is not supported")
    assert names_format("This model does not support JSON mode")
    assert not names_format("The server had an error while processing your request.")
    assert not names_format("Bad gateway")


# -- issue 10.6: a single-model tier waits out a 429 or a brief 5xx ----------------------------

def test_a_single_model_tier_survives_two_429s_honouring_retry_after(server: FakeOpenAIServer) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=5), usegmt=True)
    server.push(FakeReply.rate_limited(retry_after=7),
                FakeReply.error(429, "Rate limit reached", "requests", "rate_limit_exceeded",
                                {"retry-after": when}))
    sleeps: list[float] = []
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",))], sleeps)

    assert outcome.results[0].status == "reviewed"
    assert len(server.chat_requests) == 3
    assert sleeps[0] == 7 and 3 <= sleeps[1] <= 6
    assert [c.outcome for c in outcome.calls] == ["error", "error", "ok"]


def test_a_brief_5xx_with_retry_after_on_a_single_model(server: FakeOpenAIServer) -> None:
    busy = FakeReply.error(503, "overloaded", "server_error", None, {"retry-after": "2"})
    server.push(busy, busy)
    sleeps: list[float] = []
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",))], sleeps)

    # attempts_per_model is 2, the last model gets last_model_attempts (4).
    assert outcome.results[0].status == "reviewed"
    assert sleeps == [2, 2] and len(server.chat_requests) == 3


def test_the_wait_is_bounded(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.rate_limited(retry_after=40), FakeReply.rate_limited(retry_after=40))
    sleeps: list[float] = []
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",))], sleeps, max_retry_wait_s=60.0)

    # 40 s fits the 60 s bound, a second 40 s would not: given up without sleeping it.
    assert sleeps == [40] and len(server.chat_requests) == 2
    result = outcome.results[0]
    assert result.status == "failed" and result.error and "429" in result.error


def test_an_hour_of_retry_after_is_not_slept(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.rate_limited(retry_after=3600))
    sleeps: list[float] = []
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",))], sleeps)
    assert sleeps == [] and outcome.results[0].status == "failed"


def test_with_another_model_left_a_429_still_fails_over_at_once(server: FakeOpenAIServer) -> None:
    server.push(FakeReply.rate_limited(retry_after=7))
    sleeps: list[float] = []
    outcome = review(server, [Route(chunk("c001"), ("openai/m1", "openai/m2"))], sleeps)
    assert sleeps == [] and outcome.results[0].model == "openai/m2"
    assert [r.body["model"] for r in server.chat_requests] == ["m1", "m2"]


# -- one Retry-After reader ---------------------------------------------------------------

def test_retry_after_forms() -> None:
    now = 1_000_000.0
    assert parse_retry_after("7", lambda: now) == 7.0
    assert parse_retry_after(" 1.5 ", lambda: now) == 1.5
    assert parse_retry_after("-3", lambda: now) == 0.0
    date = format_datetime(datetime.fromtimestamp(now + 30, timezone.utc), usegmt=True)
    assert parse_retry_after(date, lambda: now + 0.4) == 30.0  # whole seconds, rounded up
    past = format_datetime(datetime.fromtimestamp(now - 30, timezone.utc), usegmt=True)
    assert parse_retry_after(past, lambda: now) == 0.0
    for junk in ("", "soon", "inf", "nan"):
        assert parse_retry_after(junk, lambda: now) is None
    assert retry_after_from_headers({"Retry-After-Ms": "250", "Retry-After": "9"}, lambda: now) == 0.25
    assert retry_after_from_headers({"Retry-After": "9"}, lambda: now) == 9.0
    assert retry_after_from_headers({}, lambda: now) is None




# -- issues 9.3 and 9.7: what a hostile endpoint cannot do -------------------------------------

class RawServer:
    """A loopback HTTP server answering every POST with `answer(handler)`; records bodies."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.bodies: list[bytes] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                owner.bodies.append(self.rfile.read(int(self.headers.get("content-length") or 0)))
                with contextlib.suppress(OSError):
                    answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False  # a handler still writing must not hold up the test
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def request(base: str, timeout: float = 5.0) -> LLMRequest:
    return LLMRequest(model="openai/m1", messages=({"role": "user", "content": "SECRET-CODE-7731"},),
                      max_tokens=64, timeout=timeout, api_base=base, api_key="sk-test")


def test_a_307_from_the_model_endpoint_is_not_followed_with_the_body() -> None:
    with RawServer(lambda h: None) as elsewhere:
        def redirect(h: BaseHTTPRequestHandler) -> None:
            h.send_response(307)
            h.send_header("location", f"{elsewhere.base_url}/chat/completions")
            h.send_header("content-length", "0")
            h.end_headers()

        with RawServer(redirect) as local, pytest.raises(LLMError) as info:
            LiteLLMClient().complete(request(local.base_url))
        assert len(local.bodies) == 1 and b"SECRET-CODE-7731" in local.bodies[0]
        assert elsewhere.bodies == []  # the code never reached the second server
    assert info.value.kind == "unknown" and "redirect" in info.value.message and "307" in info.value.message


def test_a_huge_reply_is_cut_while_reading() -> None:
    sent: list[int] = []

    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(64 * 1024 * 1024))
        h.end_headers()
        h.wfile.write(b'{"id": "x", "choices": [{"message": {"content": "')
        block = b"a" * 65536
        for _ in range(1024):  # 64 MiB if the client kept reading
            h.wfile.write(block)
            sent.append(len(block))

    with RawServer(huge) as server, pytest.raises(LLMError) as info:
        LiteLLMClient().complete(request(server.base_url))
    assert "larger than 8 MiB" in info.value.message
    # The client stopped reading: the server could not push much past the cap and socket buffers.
    assert sum(sent) < 24 * 1024 * 1024


def test_one_deadline_per_request_not_per_read() -> None:
    def trickle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", "100000")
        h.end_headers()
        for _ in range(200):  # one byte every 0.3 s: each read is quick, the whole is a minute
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.3)

    started = time.monotonic()
    with RawServer(trickle) as server, pytest.raises(LLMError) as info:
        LiteLLMClient().complete(request(server.base_url, timeout=1.5))
    elapsed = time.monotonic() - started
    assert info.value.kind == "timeout" and "1.5 s" in info.value.message
    assert info.value.message.startswith("reviewbot gave up waiting, the server may still be generating")
    assert elapsed < 3.0


# -- issue 9.6: reservations survive a provider that counts more than our tokenizer ------------

def our_count(body: dict[str, Any]) -> int:
    return sum(len(m["content"]) // 4 + 1 + 4 for m in body["messages"])  # review()'s count_tokens


def test_a_provider_counting_136_percent_never_crosses_the_cap(server: FakeOpenAIServer) -> None:
    server.responder = lambda body: FakeReply.json(
        {"summary": "Adds a helper.", "findings": []}, prompt_tokens=int(our_count(body) * 1.36), completion_tokens=10)
    text = "### app.py\n@@\n" + "".join(f"{i}+value_{i} = compute({i})\n" for i in range(1, 60))
    chunks = [Route(replace(chunk(f"c00{i}"), text=text), ("openai/m1",)) for i in range(1, 6)]
    raw = our_count({"messages": Prompts().review_messages(chunks[0].chunk)})
    per_token = 0.001
    cap = 3.9 * raw * per_token  # three requests as the provider counts them would cross it
    guard = BudgetGuard(cap, None)

    outcome = review(server, chunks, [], guard=guard, price=lambda m, i, o, c: i * per_token)

    assert guard.spent_usd <= cap
    reviewed = [r for r in outcome.results if r.status == "reviewed"]
    assert len(reviewed) == 2 and len(server.chat_requests) == 2
    # Settled on what the provider reported, not on our estimate.
    reported = sum(r.input_tokens for r in outcome.calls)
    assert reported == 2 * int(raw * 1.36) and guard.spent_usd == pytest.approx(reported * per_token)


@pytest.mark.parametrize("usage", [(-5, 10), (10, -1), (10**12, 10), (10, 10**13)])
def test_negative_or_absurd_usage_is_not_believed(server: FakeOpenAIServer, usage: tuple[int, int]) -> None:
    server.push(FakeReply.json({"summary": "Adds a helper.", "findings": []},
                               prompt_tokens=usage[0], completion_tokens=usage[1]))
    response = LiteLLMClient().complete(request(server.base_url))
    assert not response.usage_reported
    assert (response.input_tokens, response.output_tokens, response.cost_usd) == (0, 0, None)

    server.push(FakeReply.json({"summary": "Adds a helper.", "findings": []},
                               prompt_tokens=usage[0], completion_tokens=usage[1]))
    guard = BudgetGuard(10.0, None)
    outcome = review(server, [Route(chunk("c001"), ("openai/m1",))], [], guard=guard,
                     price=lambda m, i, o, c: (i + o) * 0.001)
    assert outcome.results[0].status == "reviewed"
    # Charged the reserved worst case (estimate x margin, full output room), never $0 or less.
    assert guard.spent_usd > 0.001 * 4096
