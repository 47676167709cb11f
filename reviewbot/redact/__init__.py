"""Stage 4a (pure): secret redaction. Input: text (the line texts of a diff). Output: the
text with likely secrets replaced by typed placeholders such as `[REDACTED:aws-access-key#1]`
and the count per kind. Newlines are kept, so line numbers stay valid. Every pattern starts
with a literal or is driven by a keyword scan, and all repeats are bounded: linear time.

rules.py   the tables: token patterns and their gates, keywords, placeholders, kinds
engine.py  finding secrets with those rules and replacing them (Redactor)"""

from .engine import Redactor, find_secrets, redact, shannon_entropy
from .rules import KINDS, MIN_ENTROPY, MIN_SECRET_LEN, PLACEHOLDER_PATTERN

__all__ = [
    "KINDS",
    "MIN_ENTROPY",
    "MIN_SECRET_LEN",
    "PLACEHOLDER_PATTERN",
    "Redactor",
    "find_secrets",
    "redact",
    "shannon_entropy",
]
