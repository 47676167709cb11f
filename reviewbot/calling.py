"""Stage 5, one model request (side effects only through the injected LLMClient): the
request under the budget guard — reserve, send, settle on the usage the provider reports —
and its CallRecord, whatever the outcome. What the reviewer is given lives here too: the
budget seam (`Guard`), where a model lives (`Target`), the limits (`ReviewSettings`) and the
pure tools (`ReviewTools`). Retries, failover and what a reply means are `reviewer.py`'s."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from .cost import estimate_output_tokens
from .ledger import FormatMemory, FormatMode, Ledger
from .llm import LLMClient, LLMError, LLMRequest, LLMResponse
from .outcome import CallRecord, Outcome
from .textutil import printable, squash

if TYPE_CHECKING:
    from .chunker import Chunk
    from .findings import Finding, ParsedReply

Messages = tuple[dict[str, str], ...]


class Guard(Protocol):
    """The run-time budget (budget.BudgetGuard): a reservation before each request, settled after."""

    def reserve(self, est_usd: float | None, est_input_tokens: int) -> Any | None: ...

    def settle(self, reservation: Any, actual_usd: float | None, actual_input_tokens: int) -> None: ...

    def remaining_usd(self) -> float | None: ...

    @property
    def spent_usd(self) -> float: ...


@dataclass(frozen=True)
class Target:
    """Where one model lives: the connection the reviewer passes on each request."""

    model: str
    api_base: str | None
    api_key: str | None
    headers: Mapping[str, str]
    timeout: float
    host: str  # endpoint host for the audit log, never a key
    key_env: str | None  # the variable to fix when authentication fails
    send_labels: bool = False  # a gateway: each request carries the run's spend labels


@dataclass(frozen=True)
class ReviewSettings:
    concurrency: int = 8
    max_output_tokens: int = 4096
    attempts_per_model: int = 2  # 5xx/timeout/connection: retries on the same model, jittered
    backoff_s: float = 0.5
    cooldown_after: int = 3  # consecutive failures after which a model rests for the run
    include_prompts: bool = False
    # Our tokenizer is not the provider's (a llama.cpp server counted 1.19x ours, median, and
    # 1.36x at most): until a reply's usage tells the real ratio, reserve with this margin;
    # then with the largest ratio seen times learned_margin.
    input_margin: float = 1.40
    learned_margin: float = 1.05
    max_split_depth: int = 2  # context too long and no larger model: halve the chunk
    # A model's window must leave the reply at least this much room after the input (local
    # servers count input and output in one context); else the chunk is too long for it.
    min_reply_tokens: int = 256
    # The last (or only) model of a tier, rate limited: wait as the server asks (retry-after,
    # else a backoff), this long in all per chunk at most, before giving the chunk up.
    max_rate_limit_wait_s: float = 60.0


def _default_format(mode: FormatMode) -> dict[str, Any] | None:
    from .prompts import response_format

    return response_format(mode)


@dataclass(frozen=True)
class ReviewTools:
    """The pure functions and callbacks one review uses, in one value.

    `targets(model)` resolves a model's connection; `price(model, input, output, cached)`
    prices a request (None when unknown); `context_window(model)` its input limit (None when
    unknown); `parse(text, model=, chunk_id=, finish_reason=)` reads a reply;
    `anchor(findings, chunk)` places parsed findings on the diff; `reasons` are the routing
    reasons per file; `progress(done, total, spent_usd)` runs after each chunk; `on_call(record)`
    gets every CallRecord once, as soon as it is final, in the order of `ReviewOutcome.calls`;
    `sleep` waits between retries; `labels` (repository, pr, run_id) go, with the tier and the
    chunk id, on every request to a target that takes spend labels (a gateway); `formats`: the
    JSON modes learned so far, shared by several runs (eval), or None for a run's own."""

    targets: Callable[[str], Target]
    price: Callable[[str, int, int, int], float | None]
    supports_schema: Callable[[str], bool]
    context_window: Callable[[str], int | None]
    count_tokens: Callable[[str], int]
    parse: Callable[..., ParsedReply]
    anchor: Callable[[Sequence[Finding], Chunk], list[Finding]]
    response_format: Callable[[FormatMode], dict[str, Any] | None] = _default_format
    reasons: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    progress: Callable[[int, int, float], None] | None = None
    on_call: Callable[[CallRecord], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    labels: Mapping[str, str] = field(default_factory=dict)
    formats: FormatMemory | None = None  # what each model accepts, when shared beyond one run


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None
    call_id: str


class CallFailed(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


class ModelCaller:
    """Sends one request at a time for the reviewer's threads; every outcome is recorded in
    the ledger. `tight`: the budget cannot pay max_output_tokens for every planned request,
    so each asks for the reply size the plan priced."""

    def __init__(
        self,
        client: LLMClient,
        guard: Guard,
        tools: ReviewTools,
        settings: ReviewSettings,
        ledger: Ledger,
        template_hash: str,
    ) -> None:
        self.client = client
        self.guard = guard
        self.tools = tools
        self.settings = settings
        self.ledger = ledger
        self.template_hash = template_hash
        self.tight = False

    def call(
        self,
        model: str,
        tier: str,
        chunk_id: str,
        files: tuple[str, ...],
        messages: Messages,
        mode: FormatMode,
        max_out: int | None = None,
    ) -> Reply:
        """One request under the budget guard. Raises CallFailed; every outcome is recorded.
        `max_out`: the output cap for this request (default: the configured one)."""
        self.ledger.settled()  # this thread's previous request is final once it sends another
        target = self.tools.targets(model)
        in_est = self.input_estimate(messages)
        requested = max_out
        max_out = requested or self.settings.max_output_tokens
        if self.tight and requested is None:
            max_out = estimate_output_tokens(in_est, max_out)  # the reply size the plan priced
        window = self.tools.context_window(model)
        if window is not None:  # a server that counts input and output in one window (n_ctx)
            max_out = max(1, min(max_out, window - in_est))
        reservation = self.guard.reserve(self.tools.price(model, in_est, max_out, 0), in_est)
        if reservation is None:
            # Not a model request, so no CallRecord: the chunk is reported as skipped for budget.
            raise CallFailed("budget", "skipped: the budget would be exceeded by this request")
        request = LLMRequest(
            model=model,
            messages=messages,
            max_tokens=max_out,
            timeout=target.timeout,
            response_format=self.tools.response_format(mode),
            api_base=target.api_base,
            api_key=target.api_key,
            headers=dict(target.headers),
            labels={**self.tools.labels, "tier": tier, "chunk_id": chunk_id} if target.send_labels else None,
        )
        started = _now()
        try:
            response = self.client.complete(request)
        except LLMError as exc:
            # An answered error costs nothing; a timeout or dropped connection may have been
            # generating: its reservation stays spent (None), so retries cannot outrun the cap.
            self.guard.settle(reservation, 0.0 if exc.status else None, 0)
            self.ledger.failed(model, exc.kind)
            message = self._describe(exc, target)
            # An error the server answered costs nothing (at a known price: $0); a timeout or a
            # dropped connection may have been generating, so its cost stays unknown.
            usd = self.tools.price(model, 0, 0, 0) if exc.status else None
            self._record(model, tier, chunk_id, files, messages, None, "error", message, target, started, usd)
            raise CallFailed(exc.kind, message, exc.retry_after) from exc
        if response.usage_reported:
            self._learn(messages, response.input_tokens)
            # Our price first (the team's configured price, else the price map), the provider
            # client's own figure only for a model we cannot price.
            usd = self.tools.price(model, response.input_tokens, response.output_tokens, response.cached_tokens or 0)
            if usd is None:
                usd = response.cost_usd
            self.guard.settle(reservation, usd, response.input_tokens)
        else:  # no believable usage: charge the worst case that was reserved, never $0
            usd = self.tools.price(model, in_est, max_out, 0)
            self.guard.settle(reservation, usd, in_est)
            # …and record the tokens charged, so the all-frontier comparison prices the same request
            response = replace(response, input_tokens=in_est, output_tokens=max_out, cached_tokens=None)
        call_id = self._record(model, tier, chunk_id, files, messages, response, "ok", None, target, started, usd)
        return Reply(printable(response.text), response.finish_reason, call_id)

    def _describe(self, exc: LLMError, target: Target) -> str:
        if exc.kind == "auth":
            notice = f"authentication failed for {target.model}: check {target.key_env or 'the API key'}"
            self.ledger.notice(notice)
            return notice
        status = f"HTTP {exc.status}: " if exc.status else ""
        return f"{exc.kind} ({status}{squash(exc.message, 200)})"

    def _raw_count(self, messages: Messages) -> int:
        return sum(self.tools.count_tokens(m.get("content", "")) + 4 for m in messages)

    def input_estimate(self, messages: Messages) -> int:
        ratio = self.ledger.ratio
        factor = ratio * self.settings.learned_margin if ratio else self.settings.input_margin
        return int(self._raw_count(messages) * factor)

    def _learn(self, messages: Messages, reported: int) -> None:
        """Remember how the provider counts compared with us, so the remaining requests
        reserve, and fit the context window, by the provider's count. Tokenizers differ by tens
        of percent; a ratio outside 0.5x-2x says the usage counts something else: not learnt."""
        raw = self._raw_count(messages)
        if raw < 32 or reported <= 0:  # too small to say anything
            return
        ratio = reported / raw
        if 0.5 <= ratio <= 2.0:
            self.ledger.learn_ratio(ratio)

    def _record(
        self,
        model: str,
        tier: str,
        chunk_id: str,
        files: tuple[str, ...],
        messages: Messages,
        response: LLMResponse | None,
        outcome: Outcome,
        error: str | None,
        target: Target,
        started: str | None = None,
        usd: float | None = None,
    ) -> str:
        call_id = self.ledger.next_id()
        reasons = tuple(dict.fromkeys(r for f in files for r in self.tools.reasons.get(f, ())))
        include = self.settings.include_prompts
        self.ledger.add(
            CallRecord(
                call_id=call_id,
                chunk_id=chunk_id,
                model=model,
                tier=tier,
                files=files,
                reasons=reasons,
                input_tokens=response.input_tokens if response else 0,
                output_tokens=response.output_tokens if response else 0,
                cached_tokens=response.cached_tokens if response else None,
                usd=usd,
                latency_ms=response.latency_ms if response else 0,
                outcome=outcome,
                error=error,
                endpoint_host=target.host,
                template_hash=self.template_hash,
                started_at=started or _now(),
                messages=messages if include else None,
                reply=printable(response.text) if response and include else None,
            )
        )
        return call_id


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
