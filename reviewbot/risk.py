"""Stage 3 (pure): risk. Input: one reviewable FileDiff and the config's risk rules. Output:
a FileRisk with a score from explainable signals and the reasons in words, and the tier it
routes to (`frontier` at or above the threshold, or on any escalate rule)."""

from __future__ import annotations

from dataclasses import dataclass

from .config import RiskConfig, Tier
from .diff import FileDiff


@dataclass(frozen=True)
class FileRisk:
    path: str
    score: int
    tier: Tier
    reasons: tuple[str, ...]  # e.g. ("path matches **/auth/**", "adds subprocess call with shell=True")


def assess(file: FileDiff, rules: RiskConfig) -> FileRisk:
    raise NotImplementedError
