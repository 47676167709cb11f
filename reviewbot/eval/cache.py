"""Eval edge (files): a reply cache in front of any LLMClient. A reply is stored under the
SHA-256 of what decides it — model, messages, response format, output cap — so re-scoring
after a matcher or label change costs nothing, and with `offline=True` a recorded run replays
with no key and no network (a request not in the cache fails like an unreachable server).
Only successful replies are stored; errors are retried on the next run."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import asdict
from pathlib import Path

from ..errors import UsageError
from ..llm import LLMClient, LLMError, LLMRequest, LLMResponse

CACHE_VERSION = 1


def request_key(request: LLMRequest) -> str:
    """Connection details (api_base, key, headers, timeout) do not change what a model says."""
    material = json.dumps(
        {
            "v": CACHE_VERSION,
            "model": request.model,
            "messages": list(request.messages),
            "response_format": request.response_format,
            "max_tokens": request.max_tokens,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class CachingClient:
    def __init__(self, inner: LLMClient | None, folder: str | Path, *, offline: bool = False) -> None:
        self.inner = inner
        self.folder = Path(folder)
        self.offline = offline or inner is None
        self.hits = 0
        self.misses = 0
        self._lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot use {folder} as the eval cache: {exc.strerror}") from exc

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def complete(self, request: LLMRequest) -> LLMResponse:
        path = self._path(request_key(request))
        cached = _load(path)
        if cached is not None:
            with self._lock:
                self.hits += 1
            return cached
        with self._lock:
            self.misses += 1
        if self.offline or self.inner is None:
            raise LLMError(
                "connection", f"not in the eval cache ({path.name}); run once without --offline to record it"
            )
        response = self.inner.complete(request)
        _store(path, response)
        return response


def _load(path: Path) -> LLMResponse | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return LLMResponse(**{k: data[k] for k in data if k in LLMResponse.__dataclass_fields__})
    except (OSError, ValueError, TypeError):
        return None


def _store(path: Path, response: LLMResponse) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(asdict(response), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)  # atomic: a concurrent reader sees the old state or the whole reply
