"""Token counting: a real tokenizer from litellm's bundled files, no litellm import, no
network, and a documented estimate when the files are missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot import tokens

DIFFS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "diffs"


@pytest.fixture(autouse=True)
def _fresh_tokenizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Each test decides where the encoding files are; restore the real state afterwards.
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    tokens.reset()
    yield
    tokens.reset()


def test_bundled_folder_is_found_without_importing_litellm() -> None:
    folder = tokens.bundled_tokenizer_dir()
    assert folder is not None and folder.is_dir()
    code = (
        "import sys, json; from reviewbot import tokens; "
        "n = tokens.count_tokens('def f(x):\\n    return x + 1\\n'); "
        "print(json.dumps([tokens.tokenizer_name(), n, 'litellm' in sys.modules]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    name, count, imported = json.loads(out.stdout)
    assert name == "tiktoken:o200k_base"
    assert count > 0
    assert imported is False


def test_counts_equal_tiktoken_not_the_estimate() -> None:
    import tiktoken

    text = "def authenticate(user: str, password: str) -> bool:\n    return check(user, password)\n"
    assert tokens.tokenizer_name() == "tiktoken:o200k_base"
    expected = len(tiktoken.get_encoding("o200k_base").encode_ordinary(text))
    assert tokens.count_tokens(text) == expected
    assert expected != tokens.estimate_tokens(text)
    assert os.environ["TIKTOKEN_CACHE_DIR"] == str(tokens.bundled_tokenizer_dir())


def test_special_token_text_is_counted_as_ordinary_text() -> None:
    # encode() would raise on this; a diff may well contain it.
    assert tokens.count_tokens("x = '<|endoftext|>'") > 1


def test_lone_surrogates_from_undecodable_bytes_are_counted() -> None:
    text = b"caf\xe9 = 1".decode("utf-8", "surrogateescape")
    assert tokens.count_tokens(text) > 0


def test_count_many_matches_single_counts() -> None:
    texts = ["", "a", "hello world", "R 57 + return x\n", "ünïcödé ✓"]
    assert tokens.count_tokens_many(texts) == [tokens.count_tokens(t) for t in texts]
    assert tokens.count_tokens("") == 0


def test_count_many_is_exact_at_text_boundaries() -> None:
    # Joined for one encoder call, each text still gets the count it has on its own:
    # trailing spaces, a newline then a letter, an empty text, a lone special-token text.
    texts = ["x = 1   \n", "R 2 + y\n", "", "  ", "\n\n", "<|endofprompt|>", "é🙂\r\n", "a"]
    assert tokens.count_tokens_many(texts) == [tokens.count_tokens(t) for t in texts]
    with_separator = ["a <|endoftext|> b", "c"]
    assert tokens.count_tokens_many(with_separator) == [tokens.count_tokens(t) for t in with_separator]


def test_async_counts_equal_the_plain_counts() -> None:
    texts = [f"line {i}: value = compute({i})\n" * (i % 7) for i in range(300)]
    assert tokens.count_tokens_async(texts).result() == tokens.count_tokens_many(texts)


def test_fallback_when_bundled_files_are_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "tokenizers"
    empty.mkdir()
    monkeypatch.setattr(tokens, "bundled_tokenizer_dir", lambda: empty)
    tokens.reset()
    assert tokens.tokenizer_name() == tokens.ESTIMATE
    assert tokens.count_tokens("abcdefghi") == 3  # ceil(9 / 4)
    assert tokens.count_tokens_many(["abcd", "abcde", ""]) == [1, 2, 0]
    assert tokens.count_tokens_async(["abcd", "abcde"]).result() == [1, 2]
    assert list(empty.iterdir()) == []  # nothing was downloaded into it


def test_fallback_when_litellm_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "bundled_tokenizer_dir", lambda: None)
    tokens.reset()
    assert tokens.tokenizer_name() == tokens.ESTIMATE
    assert "TIKTOKEN_CACHE_DIR" not in os.environ


def test_fallback_when_a_cached_file_is_corrupt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # tiktoken would delete a file with the wrong hash and download it again.
    for name in (
        "fb374d419588a4632f3f557e76b4b70aebbca790",
        "9b5ad71b2ce5302211f9c61530b329a4922fc6a4",
    ):
        (tmp_path / name).write_bytes(b"not an encoding")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    tokens.reset()
    assert tokens.tokenizer_name() == tokens.ESTIMATE
    assert (tmp_path / "fb374d419588a4632f3f557e76b4b70aebbca790").read_bytes() == b"not an encoding"


def test_cl100k_is_used_when_o200k_is_absent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tokens.bundled_tokenizer_dir()
    assert real is not None
    cl100k = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
    (tmp_path / cl100k).write_bytes((real / cl100k).read_bytes())
    monkeypatch.setattr(tokens, "bundled_tokenizer_dir", lambda: tmp_path)
    tokens.reset()
    assert tokens.tokenizer_name() == "tiktoken:cl100k_base"
    assert tokens.count_tokens("hello world") == 2


def test_fallback_when_tiktoken_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import tiktoken

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    # Both ways an encoding is built: from the checked file, and tiktoken's own loader.
    monkeypatch.setattr(tiktoken, "Encoding", broken)
    monkeypatch.setattr(tiktoken, "get_encoding", broken)
    tokens.reset()
    assert tokens.tokenizer_name() == tokens.ESTIMATE
    assert tokens.count_tokens("x" * 10) == 3


def test_a_hundred_thousand_diff_lines_are_counted_in_one_go() -> None:
    # Speed is measured by benchmarks/plan_large.py, not here (no timed assertions in tests).
    source = DIFFS / "medium-pip-10202.diff"
    if not source.exists():
        pytest.skip("shared diffs not present")
    lines = source.read_bytes().decode("utf-8", "replace").splitlines()
    text = "\n".join((lines * (100_000 // len(lines) + 1))[:100_000])
    n = tokens.count_tokens(text)
    assert n > len(text) // 8
    # Counting many texts in one encoder call gives each text's own count.
    parts = [text[i : i + 1500] for i in range(0, len(text), 1500)]
    assert tokens.count_tokens_many(parts) == [tokens.count_tokens(p) for p in parts]


@pytest.mark.parametrize(("name", "url", "sha256"), tokens._ENCODINGS)
def test_ranks_from_the_pinned_file_equal_tiktokens_loader(
    name: str, url: str, sha256: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tiktoken.load import load_tiktoken_bpe

    folder = tokens.bundled_tokenizer_dir()
    assert folder is not None
    data = tokens._cached_file(str(folder), url, sha256)
    assert data is not None, f"{name} is not bundled"
    # tiktoken reads the same cached file (by the hash of its URL): no network.
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))
    expected = load_tiktoken_bpe(url, expected_hash=sha256)
    assert tokens._ranks(data) == expected
