"""The data beside the checkout (`../shared/`: real diffs, the AACR-Bench subset). Locally a
test that needs it skips when it is absent; in CI (`CI=true` when the session started) that
is a failure, so a clean clone cannot pass by silently skipping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")  # read at import: conftest unsets CI per test


def missing(what: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{what} is missing: CI expects ../shared beside the checkout")
    pytest.skip(f"{what} is not present beside the repository")
