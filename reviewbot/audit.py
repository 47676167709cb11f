"""Edge: the audit trail. Input: CallRecords, each as soon as its call is final. Output: one
JSON line per model request appended to a file at once, so a run that is interrupted or
killed keeps the lines of the calls it already paid for: which model, which files, why they
were routed there, tokens, cost, outcome. No prompt or reply text unless
`audit.include_prompts`; never a key."""

from __future__ import annotations

import errno
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import UsageError
from .outcome import CallRecord
from .ownkeys import SCRUB
from .providers import provider_of


def audit_line(record: CallRecord, run_id: str) -> dict[str, Any]:
    line: dict[str, Any] = {
        "time": record.started_at,
        "run_id": run_id,
        "call_id": record.call_id,
        "chunk_id": record.chunk_id,
        "files": list(record.files),
        "tier": record.tier,
        "reasons": list(record.reasons),
        "model": record.model,
        "provider": provider_of(record.model),
        "endpoint_host": record.endpoint_host,
        "template_hash": record.template_hash,
        "input_tokens": record.input_tokens,
        "output_tokens": record.output_tokens,
        "cached_tokens": record.cached_tokens,
        "usd": record.usd,
        "latency_ms": record.latency_ms,
        "outcome": record.outcome,
        "error": record.error,
        "findings": record.findings,
    }
    if record.messages is not None:
        line["messages"] = [dict(m) for m in record.messages]
    if record.reply is not None:
        line["reply"] = record.reply
    return line


class AuditLog:
    """An audit log open for one run. Opening it is the check that the path is writable (the
    runner opens it before any model is called). `write` may be called from any thread: each
    line goes to the file in one unbuffered append, so nothing waits in a buffer when the
    process is killed, and concurrent runs appending to one file do not cut into each other's
    lines. A failed write never interrupts the review: it is raised by `finish`."""

    def __init__(self, path: str | Path, run_id: str) -> None:
        self.path = str(path)
        self.run_id = run_id
        self.written: set[str] = set()  # call ids
        self._lock = threading.Lock()
        self._error: OSError | None = None
        try:
            self._fh = open(path, "ab", buffering=0)  # noqa: SIM115 - open for the whole run
        except OSError as exc:
            raise self._failure(exc) from exc

    def write(self, record: CallRecord) -> None:
        """Append `record`'s line, once per call id."""
        # Scrubbed before JSON escapes a key's quote or backslash, and after, for the forms
        # only the escaped text shows.
        line = SCRUB(json.dumps(SCRUB.deep(audit_line(record, self.run_id)), ensure_ascii=False))
        data = (line + "\n").encode("utf-8")
        with self._lock:
            if self._error is not None or self._fh.closed or record.call_id in self.written:
                return
            try:
                view = memoryview(data)
                while view:  # a regular file takes it in one write(2); loop all the same
                    count = self._fh.write(view)
                    if not count:
                        raise OSError(errno.EIO, os.strerror(errno.EIO))
                    view = view[count:]
            except OSError as exc:
                self._error = exc
                return
            self.written.add(record.call_id)

    def finish(self, records: Sequence[CallRecord]) -> int:
        """After a run: write any of `records` not written yet, close, and raise the first
        write error. Returns the number of lines this run wrote."""
        for record in records:
            self.write(record)
        self.close()
        if self._error is not None:
            raise self._failure(self._error, f" ({len(self.written)} of {len(records)} requests logged)")
        return len(self.written)

    def close(self) -> None:
        with self._lock:
            self._fh.close()

    def _failure(self, exc: OSError, extra: str = "") -> UsageError:
        return UsageError(f"cannot write the audit log {self.path}: {exc.strerror or exc}{extra}")
