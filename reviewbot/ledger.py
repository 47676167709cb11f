"""Stage 5's bookkeeping (pure, thread-safe, no I/O): what the reviewer's worker threads
share during one run — the call records in order, failovers and notices, per-model failure
counts and cooldown, the JSON mode each model accepts, how the providers count tokens
compared with us, and the hand-over of each final record to `on_call` (the live audit log)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Literal

from .outcome import CallRecord, Failover, Outcome

# How a request asks for JSON, most constrained first; a server that names the format as
# unsupported steps that model one rung down. "json_object_schema" is llama.cpp's form (the
# schema inside a json_object request), which answers 500 to OpenAI's json_schema.
FormatMode = Literal["json_schema", "json_object_schema", "json_object", "none"]
FORMAT_LADDER: tuple[FormatMode, ...] = ("json_schema", "json_object_schema", "json_object", "none")


class FormatMemory:
    """The JSON mode each model accepts, learned from the servers' answers (thread-safe). One
    per run by default; `reviewbot eval` keeps one per policy across its case runs, so a
    server that refuses a mode is asked once, not once per case."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._modes: dict[str, FormatMode] = {}

    def mode(self, model: str, supports_schema: Callable[[str], bool]) -> FormatMode:
        with self._lock:
            if model not in self._modes:
                self._modes[model] = "json_schema" if supports_schema(model) else "json_object"
            return self._modes[model]

    def step_down(self, model: str, mode: FormatMode) -> FormatMode:
        """This server said it does not take `mode`: remember the next lower one for `model`
        (unless another thread already went lower)."""
        lower = FORMAT_LADDER[min(FORMAT_LADDER.index(mode) + 1, len(FORMAT_LADDER) - 1)]
        with self._lock:
            known = self._modes.get(model)
            if known is None or FORMAT_LADDER.index(known) < FORMAT_LADDER.index(lower):
                self._modes[model] = lower
            return self._modes[model]


class Ledger:
    """Shared by the worker threads of one Reviewer. Every method takes the lock it needs."""

    def __init__(
        self,
        on_call: Callable[[CallRecord], None] | None = None,
        cooldown_after: int = 3,
        formats: FormatMemory | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self.calls: list[CallRecord] = []
        self.failovers: list[Failover] = []
        self.notices: list[str] = []
        self.on_call = on_call
        self.cooldown_after = cooldown_after
        self._failures: dict[str, int] = {}
        self._cooled: set[str] = set()
        self.formats = formats or FormatMemory()
        self._counter = 0
        self._done = 0
        self._ratio = 0.0  # provider's input tokens / our count, the largest seen; 0: none yet
        # on_call: each thread's newest record until it can no longer change, the call ids
        # that are final, and how many of `calls` were handed over (in order, under `_handing`).
        self._pending: dict[int, str] = {}
        self._final: set[str] = set()
        self._handed = 0
        self._handing = threading.Lock()

    # -- records ---------------------------------------------------------------------------
    def next_id(self) -> str:
        with self.lock:
            self._counter += 1
            return f"call-{self._counter:04d}"

    def add(self, record: CallRecord) -> None:
        """A new record; this thread's newest, open until the thread settles it."""
        with self.lock:
            self.calls.append(record)
            self._pending[threading.get_ident()] = record.call_id

    def mark(self, call_id: str, outcome: Outcome, error: str | None, findings: int) -> None:
        with self.lock:
            for i, rec in enumerate(self.calls):
                if rec.call_id == call_id:
                    self.calls[i] = replace(rec, outcome=outcome, error=error, findings=findings)
                    break
        self.settled()

    def failover(self, chunk_id: str, model: str, nxt: str | None, reason: str) -> None:
        with self.lock:
            self.failovers.append(Failover(chunk_id, model, nxt, reason))
            # The call that failed is a failover when another model takes over.
            for i in range(len(self.calls) - 1, -1, -1):
                rec = self.calls[i]
                if rec.chunk_id == chunk_id and rec.model == model and rec.outcome == "error" and nxt:
                    self.calls[i] = replace(rec, outcome="failover")
                    break
        self.settled()

    def notice(self, text: str) -> None:
        with self.lock:
            if text not in self.notices:
                self.notices.append(text)

    def settled(self, every_thread: bool = False) -> None:
        """This thread's newest record can no longer change: the thread sent another request,
        marked it, failed over or finished its chunk (`every_thread`: no worker runs any more).
        Hand every final record not yet handed over to `on_call`, in the order of `calls` (an
        earlier record still open holds the later ones back only until its thread settles it)."""
        if self.on_call is None:
            return
        with self._handing:
            with self.lock:
                if every_thread:
                    self._final.update(self._pending.values())
                    self._pending.clear()
                elif (done := self._pending.pop(threading.get_ident(), None)) is not None:
                    self._final.add(done)
                ready = []
                while self._handed < len(self.calls) and self.calls[self._handed].call_id in self._final:
                    ready.append(self.calls[self._handed])
                    self._handed += 1
            for record in ready:
                self.on_call(record)

    # -- model health ----------------------------------------------------------------------
    def failed(self, model: str, kind: str) -> None:
        with self.lock:
            self._failures[model] = self._failures.get(model, 0) + 1
            if kind == "auth" or self._failures[model] >= self.cooldown_after:
                self._cooled.add(model)  # a key does not fix itself mid-run

    def succeeded(self, model: str) -> None:
        with self.lock:
            self._failures[model] = 0

    def is_cooled(self, model: str) -> bool:
        with self.lock:
            return model in self._cooled

    # -- what each model accepts and how its provider counts ----------------------------------
    def mode(self, model: str, supports_schema: Callable[[str], bool]) -> FormatMode:
        return self.formats.mode(model, supports_schema)

    def step_down(self, model: str, mode: FormatMode) -> FormatMode:
        """This server said it does not take `mode`: remember the next lower one for `model`."""
        return self.formats.step_down(model, mode)

    @property
    def ratio(self) -> float:
        with self.lock:
            return self._ratio

    def learn_ratio(self, ratio: float) -> None:
        with self.lock:
            self._ratio = max(self._ratio, ratio)

    # -- progress --------------------------------------------------------------------------
    def restart_count(self) -> None:
        """A new batch of chunks (a second look, a shadow review): progress counts from 0."""
        with self.lock:
            self._done = 0

    def tick(self) -> int:
        """One more chunk done; returns how many are."""
        with self.lock:
            self._done += 1
            return self._done
