"""Stage 5 (side effects only through the injected LLMClient): the review. Input: routed
chunks, prompts, an LLMClient, the budget guard and the pure tools (prices, parsing,
anchoring). Output: a ReviewOutcome — per-chunk results and one CallRecord per model
request. Owns bounded concurrency, failover, the rate-limit wait, the repair retry, the
cut-off retry and the context-window split; never retries hidden inside the SDK. One request
(under the budget guard) is `calling.ModelCaller`'s, the shared bookkeeping `ledger.Ledger`'s,
the records live in `outcome`."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any, Protocol

from .calling import CallFailed, Guard, Messages, ModelCaller, Reply, ReviewSettings, ReviewTools
from .chunker import Chunk, split_chunk
from .findings import Finding, ParsedReply
from .ledger import FormatMode, Ledger
from .llm import LLMClient
from .outcome import ChunkResult, ChunkStatus, ReviewOutcome
from .textutil import printable

if TYPE_CHECKING:
    from .router import Route

MAX_RETRY_OUTPUT_TOKENS = 32_768  # the second try after a cut-off reply asks for at most this


# -- the seam: what the reviewer needs from the prompts ----------------------------------------


class ReviewPrompts(Protocol):
    """The messages of each request (prompts.PromptSet)."""

    @property
    def template_hash(self) -> str: ...

    def review_messages(
        self, chunk: Chunk, *, pr_title: str | None = None, pr_body: str | None = None
    ) -> Sequence[dict[str, str]]: ...

    def repair_messages(
        self, messages: Sequence[dict[str, str]], bad_reply: str, error: str
    ) -> Sequence[dict[str, str]]: ...

    def summary_messages(
        self, chunk_summaries: Sequence[tuple[str, str]], counts: Mapping[str, int], files: Sequence[str]
    ) -> Sequence[dict[str, str]]: ...

    def overhead_tokens(self, count: Callable[[str], int]) -> int: ...


class Reviewer:
    """Reviews routed chunks with failover across each chunk's allowed models: `client` sends
    one request, `prompts` write them, `guard` holds the budget, `tools` are the pure helpers
    and callbacks, `settings` the limits. One Reviewer serves one run."""

    def __init__(
        self,
        client: LLMClient,
        prompts: ReviewPrompts,
        guard: Guard,
        tools: ReviewTools,
        settings: ReviewSettings | None = None,
        *,
        ledger: Ledger | None = None,
        record_tier: str | None = None,
    ) -> None:
        """`ledger`: share another Reviewer's records (the shadow joins the run's); `record_tier`:
        the tier its call records carry instead of each chunk's (the shadow's "shadow")."""
        settings = settings or ReviewSettings()
        self.record_tier = record_tier
        self.client = client
        self.prompts = prompts
        self.guard = guard
        self.tools = tools
        self.settings = settings
        self.ledger = ledger or Ledger(tools.on_call, settings.cooldown_after, tools.formats)
        self.caller = ModelCaller(client, guard, tools, settings, self.ledger, prompts.template_hash)

    # -- public -------------------------------------------------------------------------
    def review(
        self,
        routes: Sequence[Route],
        *,
        pr_title: str | None = None,
        pr_body: str | None = None,
        skip: Mapping[str, str] | None = None,
    ) -> ReviewOutcome:
        """Review every route; `skip` maps chunk ids to a reason (e.g. budget) not to send."""
        skip = skip or {}
        total = len(routes)
        self.ledger.restart_count()
        self.caller.tight = self._budget_is_tight(routes, skip)
        workers = max(1, min(self.settings.concurrency, total or 1))

        def one(route: Route) -> ChunkResult:
            if route.chunk.id in skip:
                result = ChunkResult(route.chunk.id, "skipped", None, error=skip[route.chunk.id])
            elif route.blocked or not route.models:
                reason = route.blocked or "no model configured for this tier"
                result = ChunkResult(route.chunk.id, "skipped", None, error=f"not reviewed: {reason}")
            else:
                result = self._review_chunk(route.chunk, tuple(route.models), pr_title, pr_body, 0)
            self.ledger.settled()
            done = self.ledger.tick()
            if self.tools.progress is not None:
                self.tools.progress(done, total, self.guard.spent_usd)
            return result

        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reviewbot") as pool:
                results = tuple(pool.map(one, routes))
        finally:
            self.ledger.settled(every_thread=True)  # a chunk that raised must not hold back the rest
        return self.recorded(ReviewOutcome(results=results, calls=()))

    def recorded(self, outcome: ReviewOutcome) -> ReviewOutcome:
        """`outcome` with every call, failover and notice recorded so far (the overview's too)."""
        ledger = self.ledger
        with ledger.lock:
            return replace(
                outcome, calls=tuple(ledger.calls), failovers=tuple(ledger.failovers), notices=tuple(ledger.notices)
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
            if self.ledger.is_cooled(model):
                continue
            try:
                reply = self.caller.call(model, "summary", "summary", tuple(files), messages, "none")
            except CallFailed:
                continue
            finally:
                self.ledger.settled()  # nothing marks a summary request afterwards
            if reply.text.strip():
                return reply.text.strip()
        return None

    def _budget_is_tight(self, routes: Sequence[Route], skip: Mapping[str, str]) -> bool:
        """Whether every planned request at max_output_tokens would cross max_usd. Then each
        request asks for the reply size the plan (and --dry-run) priced: reserving the worst
        case would refuse, near a small cap, chunks the plan counted as affordable, and which
        ones would depend on which thread reserved first."""
        remaining = self.guard.remaining_usd()
        if remaining is None:
            return False
        overhead = self.prompts.overhead_tokens(self.tools.count_tokens)
        worst = 0.0
        for route in routes:
            if route.chunk.id in skip or route.blocked or not route.models:
                continue
            tokens = int((route.chunk.tokens + overhead) * self.settings.input_margin)
            worst += self.tools.price(route.models[0], tokens, self.settings.max_output_tokens, 0) or 0.0
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
            if self.ledger.is_cooled(model):
                self.ledger.failover(chunk.id, model, nxt, "cooled down after repeated failures")
                continue
            window = self.tools.context_window(model)
            if window is not None and self.caller.input_estimate(messages) + self.settings.min_reply_tokens > window:
                self.ledger.failover(chunk.id, model, nxt, f"chunk larger than the {window}-token context window")
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
                if salvage is not None:  # what an unusable reply found stays: failed, not skipped
                    return replace(salvage, error=f"not reviewed: {error} (after an unusable reply)")
                return ChunkResult(chunk.id, "skipped", None, error=error)
            self.ledger.failover(chunk.id, model, nxt, error)
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
        self, chunk: Chunk, model: str, messages: Messages, last: bool = False
    ) -> tuple[ChunkResult | None, str, str]:
        """Attempts on one model. Returns (result, error, kind); result None means fail over.
        `last`: no model of the tier follows, so a rate limit is waited out (bounded)."""
        attempt = 0
        waited = 0.0
        mode = self.ledger.mode(model, self.tools.supports_schema)
        while True:
            attempt += 1
            try:
                reply = self._send(chunk, model, messages, mode)
            except CallFailed as failed:
                kind, err = failed.kind, failed.message
                if kind == "budget":
                    return None, err, kind
                if kind in ("bad_request", "server") and mode != "none" and _names_the_format(err):
                    mode = self.ledger.step_down(model, mode)  # this server said it does not take the format
                    continue
                if kind == "rate_limit" and last:
                    pause = (
                        failed.retry_after if failed.retry_after is not None else self.settings.backoff_s * 2**attempt
                    )
                    if waited + pause <= self.settings.max_rate_limit_wait_s:
                        waited += pause
                        self.tools.sleep(pause)
                        continue
                # A model that just reached cooldown_after failures rests: no retry either.
                retry = attempt < self.settings.attempts_per_model and not self.ledger.is_cooled(model)
                if kind in ("server", "timeout", "connection") and retry:
                    self.tools.sleep(self.settings.backoff_s * attempt * (0.5 + random.random()))
                    continue
                return None, err, kind
            return self._finish(chunk, model, messages, reply, mode), "", "ok"

    def _parse(self, reply: Reply, model: str, chunk: Chunk) -> ParsedReply:
        return self.tools.parse(reply.text, model=model, chunk_id=chunk.id, finish_reason=reply.finish_reason)

    def _finish(self, chunk: Chunk, model: str, messages: Messages, reply: Reply, mode: FormatMode) -> ChunkResult:
        parsed = self._parse(reply, model, chunk)
        if reply.finish_reason == "length":
            return self._cut_off(chunk, model, messages, reply, parsed, mode)
        if parsed.error:
            return self._repair(chunk, model, messages, reply, parsed, mode)
        return self._ok(chunk, model, parsed, reply.call_id)

    def _repair(
        self, chunk: Chunk, model: str, messages: Messages, reply: Reply, parsed: ParsedReply, mode: FormatMode
    ) -> ChunkResult:
        """An unusable reply: ask once more, quoting it and what was wrong. Still unusable, the
        chunk fails on this model (the caller fails over) with the best findings salvaged."""
        self.ledger.mark(reply.call_id, "parse-failed", parsed.error, len(parsed.findings))
        repair = tuple(self.prompts.repair_messages(messages, _echo(reply.text), parsed.error or ""))
        try:
            fixed = self._send(chunk, model, repair, mode)
        except CallFailed as failed:
            fixed = None
            repair_error = failed.message
        if fixed is not None:
            again = self._parse(fixed, model, chunk)
            if not again.error:
                return self._ok(chunk, model, again, fixed.call_id)
            self.ledger.mark(fixed.call_id, "parse-failed", again.error, len(again.findings))
            repair_error = again.error
            if len(again.findings) > len(parsed.findings):
                parsed = again
        # Nothing a model found is dropped: salvaged findings stay, the chunk is failed.
        return ChunkResult(
            chunk.id,
            "failed",
            model,
            self._anchor(parsed, chunk),
            _summary(parsed),
            error=f"unusable reply after one repair retry ({repair_error})",
        )

    def _cut_off(
        self, chunk: Chunk, model: str, messages: Messages, reply: Reply, parsed: ParsedReply, mode: FormatMode
    ) -> ChunkResult:
        """A reply cut at the output limit is incomplete even when what came parses: ask once
        more with twice the room; cut again, the chunk is partially reviewed (its findings
        kept), never a clean review."""
        self.ledger.mark(
            reply.call_id, "cut-off", "reply cut at the output limit (finish_reason=length)", len(parsed.findings)
        )
        room = min(2 * self.settings.max_output_tokens, MAX_RETRY_OUTPUT_TOKENS)
        try:
            again = self.caller.call(
                model, self.record_tier or chunk.tier, chunk.id, chunk.files, messages, mode, max_out=room
            )
        except CallFailed:
            again = None
        if again is not None:
            fixed = self._parse(again, model, chunk)
            if again.finish_reason != "length" and not fixed.error:
                return self._ok(chunk, model, fixed, again.call_id)
            self.ledger.mark(
                again.call_id, "cut-off", fixed.error or "reply cut at the output limit", len(fixed.findings)
            )
            if len(fixed.findings) > len(parsed.findings):
                parsed = fixed
        self.ledger.succeeded(model)
        return ChunkResult(
            chunk.id,
            "partial",
            model,
            self._anchor(parsed, chunk),
            _summary(parsed),
            second_look=parsed.second_look,
            error=f"partially reviewed: the reply was cut at the output limit twice "
            f"(finish_reason=length, up to {room} tokens); raise review.max_output_tokens",
        )

    def _ok(self, chunk: Chunk, model: str, parsed: ParsedReply, call_id: str) -> ChunkResult:
        findings = self._anchor(parsed, chunk)
        self.ledger.mark(call_id, "ok", None, len(findings))
        self.ledger.succeeded(model)
        return ChunkResult(chunk.id, "reviewed", model, findings, _summary(parsed), second_look=parsed.second_look)

    def _anchor(self, parsed: ParsedReply, chunk: Chunk) -> tuple[Finding, ...]:
        return tuple(self.tools.anchor([_printable_finding(f) for f in parsed.findings], chunk))

    def _split_and_review(
        self, chunk: Chunk, models: tuple[str, ...], title: str | None, body: str | None, depth: int
    ) -> ChunkResult | None:
        halves = split_chunk(chunk, self.tools.count_tokens)
        if halves is None:
            return None
        parts = [self._review_chunk(h, models, title, body, depth + 1) for h in halves]
        findings = tuple(f for p in parts for f in p.findings)
        failed = [p for p in parts if p.status != "reviewed"]
        summary = " ".join(p.summary for p in parts if p.summary) or None
        model = next((p.model for p in parts if p.model), None)
        # A half that asked for a frontier review (review.cascade) asks for the whole chunk.
        asked = "; ".join(dict.fromkeys(p.second_look for p in parts if p.second_look)) or None
        if failed:
            status: ChunkStatus = "partial" if all(p.status == "partial" for p in failed) else "failed"
            error = "; ".join(p.error or p.status for p in failed)
            return ChunkResult(chunk.id, status, model, findings, summary, error=error, second_look=asked)
        return ChunkResult(chunk.id, "reviewed", model, findings, summary, second_look=asked)

    # -- one request ------------------------------------------------------------------------
    def _send(self, chunk: Chunk, model: str, messages: Messages, mode: FormatMode) -> Reply:
        return self.caller.call(model, self.record_tier or chunk.tier, chunk.id, chunk.files, messages, mode)


# Words with which a server says it does not take the response format we asked for. Only
# such an answer steps JSON mode down (for that model): a plain 5xx or 502 says nothing about it.
_FORMAT_WORDS = re.compile(
    r"response_format|json_schema|json_object|json mode|structured output|"
    r"grammar|not supported.{0,40}format|format.{0,40}not supported",
    re.I,
)


def _names_the_format(message: str) -> bool:
    return _FORMAT_WORDS.search(message) is not None


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


def _summary(parsed: ParsedReply) -> str | None:
    return printable(parsed.summary) if parsed.summary else parsed.summary


def _printable_finding(finding: Finding) -> Finding:
    changes: dict[str, Any] = {}
    for f in fields(finding):
        value = getattr(finding, f.name)
        if isinstance(value, str) and (clean := printable(value)) is not value:
            changes[f.name] = clean
    return replace(finding, **changes) if changes else finding
