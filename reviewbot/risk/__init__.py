"""Stage 3 (pure): risk. Input: one reviewable FileDiff and the config's risk rules. Output:
a FileRisk with a score from explainable signals and the reasons in words, and the tier it
routes to (`frontier` at or above the threshold, or on any escalate rule). Signals: the path,
patterns on added lines, the size of the change, removed tests, and the config's own rules.

signals.py  the tables: path rules, added-line rules, test definitions, file kinds
score.py    assess: the signals that match, the score, the tier and the reasons"""

from .score import (
    LARGE_CHANGE_POINTS,
    MAX_SCORE,
    NO_SIGNAL,
    REMOVED_TESTS_POINTS,
    RULE_POINTS,
    SAME_CATEGORY_POINTS,
    USER_REGEX_TIMEOUT_S,
    FileRisk,
    assess,
)
from .signals import file_kind

__all__ = [
    "LARGE_CHANGE_POINTS",
    "MAX_SCORE",
    "NO_SIGNAL",
    "REMOVED_TESTS_POINTS",
    "RULE_POINTS",
    "SAME_CATEGORY_POINTS",
    "USER_REGEX_TIMEOUT_S",
    "FileRisk",
    "assess",
    "file_kind",
]
