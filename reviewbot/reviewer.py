"""Stage 5 (side effects only through an injected LLMClient): the review. Input: routed
chunks, prompts, an LLMClient, prices and the budget guard. Output: per-chunk results and
one CallRecord per model request. Owns bounded concurrency, failover, cooldown, the repair
retry and the budget guard; never retries hidden inside the SDK."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timezone
from typing import Any, Literal

from .chunker import Chunk
from .cost import estimate_output_tokens
from .findings import Finding

Outcome = Literal["ok", "failover", "error", "parse-failed", "cut-off", "skipped-budget"]
FormatMode = Literal["json_schema", "json_object", "none"]
_FORMAT_LADDER: tuple[FormatMode, ...] = ("json_schema", "json_object", "none")


@dataclass(frozen=True)
class CallRecord:
    """One model request: the audit trail and the cost table are built from these."""

    call_id: str
    chunk_id: str
    model: str
    tier: str  # cheap, frontier or summary
    files: tuple[str, ...]
    reasons: tuple[str, ...]  # routing reasons of the chunk's files
    input_tokens: int
    output_tokens: int
    cached_tokens: int | None
    usd: float | None  # None: price unknown (never reported as $0)
    latency_ms: int
    outcome: Outcome
    error: str | None = None
    findings: int = 0
    endpoint_host: str | None = None
    template_hash: str = ""
    started_at: str = ""  # ISO 8601 UTC
    messages: tuple[dict[str, str], ...] | None = None  # only with audit.include_prompts
    reply: str | None = None  # the model's text, only with audit.include_prompts


@dataclass(frozen=True)
class Failover:
    chunk_id: str
    from_model: str
    to_model: str | None  # None: no model left
    reason: str


MAX_RETRY_OUTPUT_TOKENS = 32_768  # the second try after a cut-off reply asks for at most this


@dataclass(frozen=True)
class ChunkResult:
    chunk_id: str
    status: Literal["reviewed", "partial", "failed", "skipped"]  # partial: the reply was cut at the output limit
    model: str | None
    findings: tuple[Finding, ...] = ()
    summary: str | None = None  # the model's short description of what the chunk changes
    error: str | None = None  # why it failed or was skipped


@dataclass(frozen=True)
class ReviewOutcome:
    results: tuple[ChunkResult, ...]
    calls: tuple[CallRecord, ...]
    failovers: tuple[Failover, ...] = field(default_factory=tuple)
    overview: str | None = None
    notices: tuple[str, ...] = ()  # loud, user-facing problems (e.g. a key that was rejected)


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
    # The last (or only) model of a tier, rate limited: wait as the server asks (retry-after,
    # else a backoff), this long in all per chunk at most, before giving the chunk up.
    max_rate_limit_wait_s: float = 60.0


class _Shared:
    """State shared by worker threads: records, cooldowns and per-model format modes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[CallRecord] = []
        self.failovers: list[Failover] = []
        self.notices: list[str] = []
        self.failures: dict[str, int] = {}
        self.cooled: set[str] = set()
        self.modes: dict[str, FormatMode] = {}
        self.counter = 0
        self.done = 0
        self.tight = False  # budget too small for max_output_tokens: ask for planned reply sizes
        self.ratio = 0.0  # provider's input tokens / our count, the largest seen; 0: none yet
        # on_call: each thread's newest record until it can no longer change, the call ids
        # that are final, and how many of `calls` were handed over (in order, under `handing`).
        self.pending: dict[int, str] = {}
        self.final: set[str] = set()
        self.handed = 0
        self.handing = threading.Lock()

    def next_id(self) -> str:
        with self.lock:
            self.counter += 1
            return f"call-{self.counter:04d}"


class Reviewer:
    """Reviews routed chunks with failover across each chunk's allowed models.

    `targets(model)` resolves a model's connection; `estimate(model, input, output)` prices a
    request (None when unknown); `guard` is a budget.BudgetGuard; `anchor(findings, chunk)`
    anchors parsed findings against the diff; `on_call(record)` gets every
    CallRecord once, as soon as it is final, in the order of `ReviewOutcome.calls`."""

    def __init__(
        self,
        client: Any,
        prompts: Any,
        *,
        targets: Callable[[str], Target],
        price: Callable[[str, int, int, int], float | None],
        supports_schema: Callable[[str], bool],
        context_window: Callable[[str], int | None],
        count_tokens: Callable[[str], int],
        parse: Callable[..., Any],
        anchor: Callable[[Sequence[Finding], Chunk], list[Finding]],
        guard: Any,
        settings: ReviewSettings,
        reasons: Mapping[str, tuple[str, ...]] | None = None,
        response_format: Callable[[FormatMode], dict[str, Any] | None] | None = None,
        progress: Callable[[int, int, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_call: Callable[[CallRecord], None] | None = None,
    ) -> None:
        self.client = client
        self.prompts = prompts
        self.targets = targets
        self.price = price
        self.supports_schema = supports_schema
        self.context_window = context_window
        self.count_tokens = count_tokens
        self.parse = parse
        self.anchor = anchor
        self.guard = guard
        self.settings = settings
        self.reasons = reasons or {}
        self.progress = progress
        self.sleep = sleep
        self.response_format = response_format
        self.shared = _Shared()
        self.on_call = on_call

    # -- public -------------------------------------------------------------------------
    def review(
        self,
        routes: Sequence[Any],
        *,
        pr_title: str | None = None,
        pr_body: str | None = None,
        skip: Mapping[str, str] | None = None,
    ) -> ReviewOutcome:
        """Review every route; `skip` maps chunk ids to a reason (e.g. budget) not to send."""
        skip = skip or {}
        total = len(routes)
        self.shared.tight = self._budget_is_tight(routes, skip)
        workers = max(1, min(self.settings.concurrency, total or 1))

        def one(route: Any) -> ChunkResult:
            if route.chunk.id in skip:
                result = ChunkResult(route.chunk.id, "skipped", None, error=skip[route.chunk.id])
            elif route.blocked or not route.models:
                reason = route.blocked or "no model configured for this tier"
                result = ChunkResult(route.chunk.id, "skipped", None, error=f"not reviewed: {reason}")
            else:
                result = self._review_chunk(route.chunk, tuple(route.models), pr_title, pr_body, 0)
            self._settled()
            self._tick(total)
            return result

        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reviewbot") as pool:
                results = tuple(pool.map(one, routes))
        finally:
            self._settled(every_thread=True)  # a chunk that raised must not hold back the rest
        return ReviewOutcome(
            results=results,
            calls=tuple(self.shared.calls),
            failovers=tuple(self.shared.failovers),
            notices=tuple(self.shared.notices),
        )

    def overview(
        self,
        models: Sequence[str],
        summaries: Sequence[tuple[str, str]],
        counts: Mapping[str, int],
        files: Sequence[str],
    ) -> str | None:
        """Ask the summary model for a short overview from the per-chunk summaries (never the
        whole diff again). Failover across `models`; None when none answered."""
        if not summaries or not models:
            return None
        messages = tuple(self.prompts.summary_messages(summaries, counts, files))
        for model in models:
            if self._is_cooled(model):
                continue
            try:
                reply = self._call(model, "summary", "summary", tuple(files), messages, "none")
            except _CallFailed:
                continue
            finally:
                self._settled()  # nothing marks a summary request afterwards
            if reply.text.strip():
                return reply.text.strip()
        return None

    def _budget_is_tight(self, routes: Sequence[Any], skip: Mapping[str, str]) -> bool:
        """Whether every planned request at max_output_tokens would cross max_usd. Then each
        request asks for the reply size the plan (and --dry-run) priced: reserving the worst
        case would refuse, near a small cap, chunks the plan counted as affordable, and which
        ones would depend on which thread reserved first."""
        remaining: float | None = getattr(self.guard, "remaining_usd", lambda: None)()
        if remaining is None:
            return False
        overhead = getattr(self.prompts, "overhead_tokens", lambda count: 0)(self.count_tokens)
        worst = 0.0
        for route in routes:
            if route.chunk.id in skip or route.blocked or not route.models:
                continue
            tokens = int((route.chunk.tokens + overhead) * self.settings.input_margin)
            worst += self.price(route.models[0], tokens, self.settings.max_output_tokens, 0) or 0.0
        return worst > remaining

    # -- one chunk ------------------------------------------------------------------------
    def _review_chunk(
        self, chunk: Chunk, models: tuple[str, ...], title: str | None, body: str | None, depth: int
    ) -> ChunkResult:
        messages = tuple(self.prompts.review_messages(chunk, pr_title=title, pr_body=body))
        last_error = "no model was tried"
        salvage: ChunkResult | None = None  # the best unusable reply: nothing it found is dropped
        unusable = tried = 0
        for index, model in enumerate(models):
            nxt = models[index + 1] if index + 1 < len(models) else None
            if self._is_cooled(model):
                self._failover(chunk.id, model, nxt, "cooled down after repeated failures")
                continue
            window = self.context_window(model)
            if window is not None and self._input_estimate(messages) > window:
                self._failover(chunk.id, model, nxt, f"chunk larger than the {window}-token context window")
                last_error = "context too long for every allowed model"
                continue
            tried += 1
            result, error, kind = self._try_model(chunk, model, messages, last=nxt is None)
            if result is not None and result.status != "failed":
                return _with_salvage(result, salvage)
            if result is not None:  # answered, but unusable even after the repair retry
                unusable += 1
                if salvage is None or len(result.findings) > len(salvage.findings):
                    salvage = result
                error = result.error or "unusable reply"
            last_error = error
            if kind == "budget":
                return ChunkResult(chunk.id, "skipped", None, error=error)
            self._failover(chunk.id, model, nxt, error)
        if "context" in last_error and depth < self.settings.max_split_depth:
            split = self._split_and_review(chunk, models, title, body, depth)
            if split is not None:
                return split
        if unusable and unusable == tried:
            why = f"not reviewed: every allowed model answered, but no reply was usable ({last_error})"
        else:
            why = f"not reviewed: every allowed model failed ({last_error})"
        if salvage is not None:
            return replace(salvage, error=why)
        return ChunkResult(chunk.id, "failed", None, error=why)

    def _try_model(
        self, chunk: Chunk, model: str, messages: tuple[dict[str, str], ...], last: bool = False
    ) -> tuple[ChunkResult | None, str, str]:
        """Attempts on one model. Returns (result, error, kind); result None means fail over.
        `last`: no model of the tier follows, so a rate limit is waited out (bounded)."""
        attempt = 0
        waited = 0.0
        mode = self._mode(model)
        while True:
            attempt += 1
            try:
                reply = self._send(chunk, model, messages, mode)
            except _CallFailed as failed:
                kind, err = failed.kind, failed.message
                if kind == "budget":
                    return None, err, kind
                if kind in ("bad_request", "server") and mode != "none" and _names_the_format(err):
                    mode = self._step_down(model, mode)  # this server said it does not take the format
                    continue
                if kind == "rate_limit" and last:
                    pause = failed.retry_after if failed.retry_after is not None else \
                        self.settings.backoff_s * 2 ** attempt
                    if waited + pause <= self.settings.max_rate_limit_wait_s:
                        waited += pause
                        self.sleep(pause)
                        continue
                # A model that just reached cooldown_after failures rests: no retry either.
                retry = attempt < self.settings.attempts_per_model and not self._is_cooled(model)
                if kind in ("server", "timeout", "connection") and retry:
                    self.sleep(self.settings.backoff_s * attempt * (0.5 + random.random()))
                    continue
                return None, err, kind
            return self._finish(chunk, model, messages, reply, mode), "", "ok"

    def _finish(
        self, chunk: Chunk, model: str, messages: tuple[dict[str, str], ...], reply: Any, mode: FormatMode
    ) -> ChunkResult:
        parsed = self.parse(reply.text, model=model, chunk_id=chunk.id, finish_reason=reply.finish_reason)
        if reply.finish_reason == "length":
            return self._cut_off(chunk, model, messages, reply, parsed, mode)
        if parsed.error:
            self._mark_last(reply.call_id, "parse-failed", parsed.error, len(parsed.findings))
            repair = tuple(self.prompts.repair_messages(messages, _echo(reply.text), parsed.error))
            try:
                fixed = self._send(chunk, model, repair, mode)
            except _CallFailed as failed:
                fixed = None
                repair_error = failed.message
            if fixed is not None:
                again = self.parse(fixed.text, model=model, chunk_id=chunk.id, finish_reason=fixed.finish_reason)
                if not again.error:
                    return self._ok(chunk, model, again, fixed.call_id)
                self._mark_last(fixed.call_id, "parse-failed", again.error, len(again.findings))
                repair_error = again.error
                if len(again.findings) > len(parsed.findings):
                    parsed = again
            # Nothing a model found is dropped: salvaged findings stay, the chunk is failed.
            findings = self._anchor(parsed, chunk)
            return ChunkResult(
                chunk.id, "failed", model, findings, parsed.summary and _printable(parsed.summary),
                error=f"unusable reply after one repair retry ({repair_error})",
            )
        return self._ok(chunk, model, parsed, reply.call_id)

    def _cut_off(self, chunk: Chunk, model: str, messages: tuple[dict[str, str], ...], reply: Any,
                 parsed: Any, mode: FormatMode) -> ChunkResult:
        """A reply cut at the output limit is incomplete even when what came parses: ask once
        more with twice the room; cut again, the chunk is partially reviewed (its findings
        kept), never a clean review."""
        self._mark_last(reply.call_id, "cut-off", "reply cut at the output limit (finish_reason=length)",
                        len(parsed.findings))
        room = min(2 * self.settings.max_output_tokens, MAX_RETRY_OUTPUT_TOKENS)
        try:
            again = self._call(model, chunk.tier, chunk.id, chunk.files, messages, mode, max_out=room)
        except _CallFailed:
            again = None
        if again is not None:
            fixed = self.parse(again.text, model=model, chunk_id=chunk.id, finish_reason=again.finish_reason)
            if again.finish_reason != "length" and not fixed.error:
                return self._ok(chunk, model, fixed, again.call_id)
            self._mark_last(again.call_id, "cut-off", fixed.error or "reply cut at the output limit", len(fixed.findings))
            if len(fixed.findings) > len(parsed.findings):
                parsed = fixed
        self._succeeded(model)
        return ChunkResult(chunk.id, "partial", model, self._anchor(parsed, chunk),
                           parsed.summary and _printable(parsed.summary),
                           error=f"partially reviewed: the reply was cut at the output limit twice "
                                 f"(finish_reason=length, up to {room} tokens); raise review.max_output_tokens")

    def _ok(self, chunk: Chunk, model: str, parsed: Any, call_id: str) -> ChunkResult:
        findings = self._anchor(parsed, chunk)
        self._mark_last(call_id, "ok", None, len(findings))
        self._succeeded(model)
        return ChunkResult(chunk.id, "reviewed", model, findings, parsed.summary and _printable(parsed.summary))

    def _anchor(self, parsed: Any, chunk: Chunk) -> tuple[Finding, ...]:
        return tuple(self.anchor([_printable_finding(f) for f in parsed.findings], chunk))

    def _split_and_review(
        self, chunk: Chunk, models: tuple[str, ...], title: str | None, body: str | None, depth: int
    ) -> ChunkResult | None:
        halves = split_chunk(chunk, self.count_tokens)
        if halves is None:
            return None
        parts = [self._review_chunk(h, models, title, body, depth + 1) for h in halves]
        findings = tuple(f for p in parts for f in p.findings)
        failed = [p for p in parts if p.status != "reviewed"]
        summary = " ".join(p.summary for p in parts if p.summary) or None
        model = next((p.model for p in parts if p.model), None)
        if failed:
            return ChunkResult(chunk.id, "failed", model, findings, summary,
                               error="; ".join(p.error or "failed" for p in failed))
        return ChunkResult(chunk.id, "reviewed", model, findings, summary)

    # -- one request ------------------------------------------------------------------------
    def _send(
        self, chunk: Chunk, model: str, messages: tuple[dict[str, str], ...], mode: FormatMode
    ) -> _Reply:
        return self._call(model, chunk.tier, chunk.id, chunk.files, messages, mode)

    def _call(
        self, model: str, tier: str, chunk_id: str, files: tuple[str, ...],
        messages: tuple[dict[str, str], ...], mode: FormatMode, max_out: int | None = None,
    ) -> _Reply:
        """One request under the budget guard. Raises _CallFailed; every outcome is recorded.
        `max_out`: the output cap for this request (default: the configured one)."""
        from .llm import LLMError, LLMRequest  # cheap: llm.py imports litellm lazily

        self._settled()  # this thread's previous request is final once it sends another
        target = self.targets(model)
        in_est = self._input_estimate(messages)
        requested = max_out
        max_out = requested or self.settings.max_output_tokens
        if self.shared.tight and requested is None:
            max_out = estimate_output_tokens(in_est, max_out)  # the reply size the plan priced
        reservation = self.guard.reserve(self.price(model, in_est, max_out, 0), in_est)
        if reservation is None:
            # Not a model request, so no CallRecord: the chunk is reported as skipped for budget.
            raise _CallFailed("budget", "skipped: the budget would be exceeded by this request")
        request = LLMRequest(
            model=model, messages=messages, max_tokens=max_out, timeout=target.timeout,
            response_format=self._format(mode, model), api_base=target.api_base,
            api_key=target.api_key, headers=dict(target.headers),
        )
        started = _now()
        try:
            response = self.client.complete(request)
        except LLMError as exc:
            self.guard.settle(reservation, 0.0, 0)
            self._failed(model, exc.kind)
            message = self._describe(exc, target)
            self._record(model, tier, chunk_id, files, messages, None, "error", message, target, started)
            raise _CallFailed(exc.kind, message, exc.retry_after) from exc
        if getattr(response, "usage_reported", True):
            self._learn(messages, response.input_tokens)
            usd = response.cost_usd
            if usd is None:
                usd = self.price(model, response.input_tokens, response.output_tokens, response.cached_tokens or 0)
            self.guard.settle(reservation, usd, response.input_tokens)
        else:  # no believable usage: charge the worst case that was reserved, never $0
            usd = self.price(model, in_est, max_out, 0)
            self.guard.settle(reservation, usd, in_est)
        call_id = self._record(model, tier, chunk_id, files, messages, response, "ok", None, target, started, usd)
        return _Reply(_printable(response.text), response.finish_reason, call_id)

    def _describe(self, exc: Any, target: Target) -> str:
        if exc.kind == "auth":
            var = target.key_env or "the API key"
            notice = f"authentication failed for {target.model}: check {var}"
            with self.shared.lock:
                if notice not in self.shared.notices:
                    self.shared.notices.append(notice)
            return notice
        status = f"HTTP {exc.status}: " if exc.status else ""
        return f"{exc.kind} ({status}{_one_line(exc.message)})"

    def _format(self, mode: FormatMode, model: str) -> dict[str, Any] | None:
        if self.response_format is None:
            from .prompts import response_format

            return response_format(mode)
        return self.response_format(mode)

    def _mode(self, model: str) -> FormatMode:
        with self.shared.lock:
            if model not in self.shared.modes:
                self.shared.modes[model] = "json_schema" if self.supports_schema(model) else "json_object"
            return self.shared.modes[model]

    def _step_down(self, model: str, mode: FormatMode) -> FormatMode:
        lower = _FORMAT_LADDER[min(_FORMAT_LADDER.index(mode) + 1, len(_FORMAT_LADDER) - 1)]
        with self.shared.lock:
            self.shared.modes[model] = lower  # remember per model what the server accepts
        return lower

    def _raw_count(self, messages: tuple[dict[str, str], ...]) -> int:
        return sum(self.count_tokens(m.get("content", "")) + 4 for m in messages)

    def _input_estimate(self, messages: tuple[dict[str, str], ...]) -> int:
        with self.shared.lock:
            ratio = self.shared.ratio
        factor = ratio * self.settings.learned_margin if ratio else self.settings.input_margin
        return int(self._raw_count(messages) * factor)

    def _learn(self, messages: tuple[dict[str, str], ...], reported: int) -> None:
        """Remember how the provider counts compared with us, so the remaining requests
        reserve, and fit the context window, by the provider's count. Tokenizers differ by tens
        of percent; a ratio outside 0.5x-2x says the usage counts something else: not learnt."""
        raw = self._raw_count(messages)
        if raw < 32 or reported <= 0:  # too small to say anything
            return
        ratio = reported / raw
        if not 0.5 <= ratio <= 2.0:
            return
        with self.shared.lock:
            self.shared.ratio = max(self.shared.ratio, ratio)

    # -- bookkeeping -----------------------------------------------------------------------
    def _record(
        self, model: str, tier: str, chunk_id: str, files: tuple[str, ...],
        messages: tuple[dict[str, str], ...], response: Any, outcome: Outcome,
        error: str | None, target: Target, started: str | None = None, usd: float | None = None,
    ) -> str:
        call_id = self.shared.next_id()
        reasons = tuple(dict.fromkeys(r for f in files for r in self.reasons.get(f, ())))
        record = CallRecord(
            call_id=call_id, chunk_id=chunk_id, model=model, tier=tier, files=files, reasons=reasons,
            input_tokens=response.input_tokens if response else 0,
            output_tokens=response.output_tokens if response else 0,
            cached_tokens=response.cached_tokens if response else None,
            usd=usd if response else (0.0 if outcome == "skipped-budget" else None),
            latency_ms=response.latency_ms if response else 0,
            outcome=outcome, error=error, endpoint_host=target.host,
            template_hash=str(getattr(self.prompts, "template_hash", "")),
            started_at=started or _now(),
            messages=messages if self.settings.include_prompts else None,
            reply=_printable(response.text) if response and self.settings.include_prompts else None,
        )
        with self.shared.lock:
            self.shared.calls.append(record)
            self.shared.pending[threading.get_ident()] = call_id
        return call_id

    def _mark_last(self, call_id: str, outcome: Outcome, error: str | None, findings: int) -> None:
        with self.shared.lock:
            for i, rec in enumerate(self.shared.calls):
                if rec.call_id == call_id:
                    self.shared.calls[i] = replace(rec, outcome=outcome, error=error, findings=findings)
                    break
        self._settled()

    def _failover(self, chunk_id: str, model: str, nxt: str | None, reason: str) -> None:
        with self.shared.lock:
            self.shared.failovers.append(Failover(chunk_id, model, nxt, reason))
            # The call that failed is a failover when another model takes over.
            for i in range(len(self.shared.calls) - 1, -1, -1):
                rec = self.shared.calls[i]
                if rec.chunk_id == chunk_id and rec.model == model and rec.outcome == "error" and nxt:
                    self.shared.calls[i] = replace(rec, outcome="failover")
                    break
        self._settled()

    def _settled(self, every_thread: bool = False) -> None:
        """This thread's newest record can no longer change: the thread sent another request,
        marked it, failed over or finished its chunk (`every_thread`: no worker runs any more).
        Hand every final record not yet handed over to `on_call`, in the order of `calls` (an
        earlier record still open holds the later ones back only until its thread settles it)."""
        if self.on_call is None:
            return
        shared = self.shared
        with shared.handing:
            with shared.lock:
                if every_thread:
                    shared.final.update(shared.pending.values())
                    shared.pending.clear()
                elif (done := shared.pending.pop(threading.get_ident(), None)) is not None:
                    shared.final.add(done)
                ready = []
                while shared.handed < len(shared.calls) and shared.calls[shared.handed].call_id in shared.final:
                    ready.append(shared.calls[shared.handed])
                    shared.handed += 1
            for record in ready:
                self.on_call(record)

    def _failed(self, model: str, kind: str) -> None:
        with self.shared.lock:
            self.shared.failures[model] = self.shared.failures.get(model, 0) + 1
            if kind == "auth" or self.shared.failures[model] >= self.settings.cooldown_after:
                self.shared.cooled.add(model)  # a key does not fix itself mid-run

    def _succeeded(self, model: str) -> None:
        with self.shared.lock:
            self.shared.failures[model] = 0

    def _is_cooled(self, model: str) -> bool:
        with self.shared.lock:
            return model in self.shared.cooled

    def _tick(self, total: int) -> None:
        with self.shared.lock:
            self.shared.done += 1
            done = self.shared.done
        if self.progress is not None:
            self.progress(done, total, float(getattr(self.guard, "spent_usd", 0.0) or 0.0))


@dataclass(frozen=True)
class _Reply:
    text: str
    finish_reason: str | None
    call_id: str


class _CallFailed(Exception):
    def __init__(self, kind: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


# Words with which a server says it does not take the response format we asked for. Only
# such an answer steps JSON mode down (for that model): a plain 5xx or 502 says nothing about it.
_FORMAT_WORDS = re.compile(r"response_format|json_schema|json_object|json mode|structured output|"
                           r"grammar|not supported.{0,40}format|format.{0,40}not supported", re.I)


def _names_the_format(message: str) -> bool:
    return _FORMAT_WORDS.search(message) is not None


def split_chunk(chunk: Chunk, count_tokens: Callable[[str], int]) -> tuple[Chunk, Chunk] | None:
    """Halve a chunk at the hunk boundary nearest its middle (context window exceeded and no
    larger model allowed). None when it holds a single hunk."""
    lines = chunk.text.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.startswith("@@")]
    if len(starts) < 2:
        return None
    middle = min(starts[1:], key=lambda i: abs(i - len(lines) / 2))
    header = ""
    for ln in reversed(lines[:middle]):
        if ln.startswith("### "):
            header = ln
            break
    first, second = "".join(lines[:middle]), header + "".join(lines[middle:])
    return (
        replace(chunk, id=f"{chunk.id}a", text=first, tokens=count_tokens(first)),
        replace(chunk, id=f"{chunk.id}b", text=second, tokens=count_tokens(second)),
    )


# The repair request quotes the unusable reply so the model can see what it sent; a
# runaway reply (megabytes from a looping local model) must not be paid for twice.
MAX_ECHO_CHARS = 20_000


def _echo(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit:,} more characters of your reply cut by reviewbot]"


def _with_salvage(result: ChunkResult, salvage: ChunkResult | None) -> ChunkResult:
    """A usable reply after an unusable one: what the unusable one found stays (once)."""
    if salvage is None or not salvage.findings:
        return result
    def key(f: Finding) -> object:
        return f.fingerprint or (f.path, f.line, f.title)

    seen = {key(f) for f in result.findings}
    extra = tuple(f for f in salvage.findings if key(f) not in seen)
    return replace(result, findings=result.findings + extra)


def _printable(text: str) -> str:
    """Model text with lone surrogates (from JSON escapes such as \\udcff) replaced: they
    cannot be encoded as UTF-8, so printing or posting them would fail."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _printable_finding(finding: Finding) -> Finding:
    changes: dict[str, Any] = {}
    for f in fields(finding):
        value = getattr(finding, f.name)
        if isinstance(value, str) and (clean := _printable(value)) is not value:
            changes[f.name] = clean
    return replace(finding, **changes) if changes else finding


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
