"""Support: token counting. Input: text. Output: token counts from a real BPE tokenizer,
tiktoken's `o200k_base` (else `cl100k_base`), read from the encoding files litellm bundles so
that neither litellm is imported (4-9 s) nor the network touched. When those files are
missing or tiktoken fails, counts fall back to an estimate of ceil(characters / 4);
`tokenizer_name()` says which one is in use."""

from __future__ import annotations

import binascii
import functools
import hashlib
import importlib.util
import os
import threading
import types
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

ESTIMATE = "estimate:ceil(chars/4)"

# tiktoken caches each encoding file under sha1(url) in TIKTOKEN_CACHE_DIR; litellm ships
# those files and points the variable at its folder. The sha256 values are tiktoken's own
# (tiktoken_ext/openai_public.py): on a mismatch tiktoken deletes the file and downloads it
# again, so we check first and never let it reach for the network.
_ENCODINGS: tuple[tuple[str, str, str], ...] = (
    (
        "o200k_base",
        "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    ),
    (
        "cl100k_base",
        "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    ),
)

Encode = Callable[[str], list[int]]
# Joins texts for one encoder call (see _Tiktoken.count_many); a special token, so tiktoken
# never merges it with the text around it.
_SEPARATOR = "<|endoftext|>"


def bundled_tokenizer_dir() -> Path | None:
    """litellm's tokenizer folder, found without importing litellm (find_spec of a top-level
    package only locates it)."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "litellm_core_utils" / "tokenizers"
        if folder.is_dir():
            return folder
    return None


def _cached_file(cache_dir: str, url: str, sha256: str) -> bytes | None:
    """The encoding file tiktoken would use, if it is there and intact."""
    path = Path(cache_dir) / hashlib.sha1(url.encode()).hexdigest()
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def _ranks(data: bytes) -> dict[bytes, int]:
    """What tiktoken's load_tiktoken_bpe makes of the file (`base64-token rank` per line),
    from the bytes already read and checked, built by C-level map/zip: about half the time
    of tiktoken's per-line loop (~0.1 s of the ~0.5 s load on every run). Both files are
    pinned by their sha256 and list the ranks in order, 0 to n-1 (tests/test_tokens.py
    checks this against tiktoken's loader), so the ranks are `range(n)`, not parsed."""
    # `parts` is held until the dict is built so that all of it is freed at once and its
    # memory goes back to the system (freed earlier, the decoded tokens fill its holes and
    # every run's peak RSS grows by ~6 MB).
    parts = data.split()
    tokens = parts[0::2]
    return dict(zip(map(binascii.a2b_base64, tokens), range(len(tokens)), strict=True))


def _encoding(name: str, data: bytes) -> Any:
    import tiktoken

    try:
        from tiktoken_ext import openai_public

        define = getattr(openai_public, name)
        ranks = _ranks(data)
        # tiktoken's own definition of the encoding (pattern, special tokens), run with its
        # file loader swapped for our ranks: a copy of the function with other globals, so
        # nothing global changes and it cannot reach for the network.
        own = types.FunctionType(define.__code__, {**define.__globals__, "load_tiktoken_bpe": lambda *_a, **_k: ranks})
        return tiktoken.Encoding(**own())
    except Exception:  # tiktoken's layout changed: its own (slower) loader, same file
        return tiktoken.get_encoding(name)


class _Tiktoken:
    """A loaded tiktoken encoding, counting one text or many."""

    def __init__(self, encoding: Any) -> None:
        # encode_ordinary: diff text may contain "<|endoftext|>", which encode() rejects.
        self.encode: Encode = encoding.encode_ordinary
        self._encode_with_separator: Encode = functools.partial(
            encoding.encode, allowed_special={_SEPARATOR}, disallowed_special=()
        )
        self._separator_id: int = encoding.eot_token

    def count_many(self, texts: Sequence[str]) -> list[int]:
        """Exactly [len(encode_ordinary(t)) for t in texts], in one encoder call: tiktoken
        encodes the text between two special tokens on its own, so the separator's
        positions in the joined encoding give every text's count. One call holds the GIL
        once instead of once per text, which lets a worker thread count while the main
        thread renders (per-text calls queue for the GIL behind it and gain nothing)."""
        if len(texts) < 2 or any(_SEPARATOR in t for t in texts):
            return [len(self.encode(t)) for t in texts]
        ids = self._encode_with_separator(_SEPARATOR.join(texts))
        counts: list[int] = []
        start = 0
        for _ in range(len(texts) - 1):
            end = ids.index(self._separator_id, start)
            counts.append(end - start)
            start = end + 1
        counts.append(len(ids) - start)
        return counts


def _load() -> tuple[str, _Tiktoken | None]:
    """(name, encoder) of the first usable bundled encoding, else the estimate."""
    bundled = bundled_tokenizer_dir()
    if bundled is not None:
        # setdefault: a user's own TIKTOKEN_CACHE_DIR wins, as it does for litellm.
        os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR", "")
    if not cache_dir:  # "" disables tiktoken's cache, i.e. it would download every time
        return ESTIMATE, None
    for name, url, sha256 in _ENCODINGS:
        data = _cached_file(cache_dir, url, sha256)
        if data is None:
            continue
        try:
            encoder = _Tiktoken(_encoding(name, data))
        except Exception:  # any tiktoken failure means "use the estimate", never a crash
            continue
        return f"tiktoken:{name}", encoder
    return ESTIMATE, None


_LOAD_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _loaded() -> tuple[str, _Tiktoken | None]:
    return _load()


def _tokenizer() -> tuple[str, _Tiktoken | None]:
    # The lock makes the first load happen once when worker threads arrive together.
    with _LOAD_LOCK:
        return _loaded()


def reset() -> None:
    """Forget the loaded tokenizer (after changing TIKTOKEN_CACHE_DIR, and in tests)."""
    with _LOAD_LOCK:
        _loaded.cache_clear()


def tokenizer_name() -> str:
    """Which counter is in use: tiktoken:o200k_base, tiktoken:cl100k_base or the estimate."""
    return _tokenizer()[0]


def estimate_tokens(text: str) -> int:
    """The fallback: ceil(len(text) / 4) in characters (code averages 3-4 characters a
    token, so this errs towards overcounting, the safe side for a budget)."""
    return (len(text) + 3) // 4


def count_tokens(text: str) -> int:
    encoder = _tokenizer()[1]
    if encoder is None:
        return estimate_tokens(text)
    return len(encoder.encode(text))


def count_tokens_many(texts: Sequence[str]) -> list[int]:
    """Counts for many texts, the same as count_tokens on each. (tiktoken's thread-pool
    batch API was several times slower for many small texts on a 2-core runner: one
    future per text.)"""
    encoder = _tokenizer()[1]
    if encoder is None:
        return [estimate_tokens(t) for t in texts]
    return encoder.count_many(texts)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def count_tokens_async(texts: Sequence[str]) -> Future[list[int]]:
    """count_tokens_many on a worker thread. tiktoken releases the GIL while it encodes, so
    the caller's own Python work (rendering, redaction, risk) runs meanwhile on another
    core. Pass batches of a few hundred texts. The estimate is computed at once."""
    if _tokenizer()[1] is None:
        done: Future[list[int]] = Future()
        done.set_result(count_tokens_many(texts))
        return done
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reviewbot-tokens")
    return _POOL.submit(count_tokens_many, list(texts))


__all__ = [
    "ESTIMATE",
    "bundled_tokenizer_dir",
    "count_tokens",
    "count_tokens_async",
    "count_tokens_many",
    "estimate_tokens",
    "reset",
    "tokenizer_name",
]
