"""Conversation (side effects only through the injected LLMClient): the answer to a question
asked in a finding's thread. One request under the budget guard, failing over across the
models of the tier that reviews the file; recorded like every model call. The text that comes
back is the model's: the edge posts it through `render.safe`, like every finding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .calling import CallFailed, Guard, ModelCaller, ReviewSettings, ReviewTools
from .ledger import Ledger
from .llm import LLMClient
from .outcome import CallRecord
from .textutil import squash

MAX_ANSWER_TOKENS = 700  # a few sentences; a runaway model must not write (or cost) more


class AnswerPrompts(Protocol):
    """The one method of prompts.PromptSet an answer needs."""

    def answer_messages(
        self, finding: Mapping[str, object], hunk: str, thread: Sequence[tuple[str, str]], question: str
    ) -> Sequence[dict[str, str]]: ...


@dataclass(frozen=True)
class Answer:
    text: str | None  # None: no model answered
    model: str | None
    calls: tuple[CallRecord, ...]
    error: str | None = None  # why there is no answer, in our words


def answer_question(
    client: LLMClient,
    prompts: AnswerPrompts,
    guard: Guard,
    tools: ReviewTools,
    models: Sequence[str],
    *,
    finding: Mapping[str, object],
    hunk: str,
    thread: Sequence[tuple[str, str]],
    question: str,
    path: str,
) -> Answer:
    """Ask `models` in order until one answers with text; every request is recorded."""
    ledger = Ledger(tools.on_call)
    settings = ReviewSettings(concurrency=1, max_output_tokens=MAX_ANSWER_TOKENS)
    caller = ModelCaller(client, guard, tools, settings, ledger, "")
    messages = tuple(prompts.answer_messages(finding, hunk, thread, question))
    error = "no model is configured for this file's tier"
    for model in models:
        try:
            reply = caller.call(model, "answer", "answer", (path,), messages, "none")
        except CallFailed as failed:
            error = "the budget for this answer is spent" if failed.kind == "budget" else squash(failed.message, 200)
            if failed.kind == "budget":
                break
            continue
        finally:
            ledger.settled()
        if reply.text.strip():
            ledger.mark(reply.call_id, "ok", None, 0)
            return Answer(reply.text.strip(), model, _calls(ledger))
        ledger.mark(reply.call_id, "parse-failed", "empty answer", 0)
        error = f"{model} answered with nothing"
    ledger.settled(every_thread=True)
    return Answer(None, None, _calls(ledger), error)


def _calls(ledger: Ledger) -> tuple[CallRecord, ...]:
    with ledger.lock:
        return tuple(ledger.calls)
