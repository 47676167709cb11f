"""Support (pure): the project's shared vocabulary. Severity and its order, diff sides,
model tiers and their order, the severity icons every surface shows, and how money prints.
Every other module takes these from here, so the CLI, the config, the prompts, the report and
what is posted on GitHub cannot disagree (they once did: 🔴 meant critical inline and high in
the summary; money printed as $0.50 in one place and $0.5000 in another)."""

from __future__ import annotations

from typing import Final, Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
FailOn = Literal["critical", "high", "medium", "low", "info", "none"]
# Most severe first: sorting by `severity_rank` puts what matters most at the top.
SEVERITIES: Final[tuple[Severity, ...]] = ("critical", "high", "medium", "low", "info")
FAIL_ON_CHOICES: Final[tuple[FailOn, ...]] = (*SEVERITIES, "none")

# One icon per severity, used inline, in the summary, in markdown reports and the step summary.
SEVERITY_ICON: Final[dict[str, str]] = {
    "critical": "🛑",
    "high": "🔴",
    "medium": "🟠",
    "low": "🟡",
    "info": "🔵",
}

Side = Literal["RIGHT", "LEFT"]  # GitHub's names: RIGHT = new-file line numbers, LEFT = old

Tier = Literal["cheap", "frontier"]
TIERS: Final[tuple[Tier, ...]] = ("cheap", "frontier")  # as the config lists them
# Packing, budgeting and reports handle the frontier tier first: it holds the risky files.
TIER_ORDER: Final[tuple[Tier, ...]] = ("frontier", "cheap")


def severity_rank(severity: str) -> int:
    """0 for critical … 4 for info; an unknown word sorts after every known one."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def severity_at_least(severity: str, threshold: str) -> bool:
    """Whether `severity` is `threshold` or more severe; "none" (or any unknown) is never met."""
    if threshold not in SEVERITIES or severity not in SEVERITIES:
        return False
    return severity_rank(severity) <= severity_rank(threshold)


def format_usd(x: float | None) -> str:
    """ "unknown" for None; four decimals under $1 (chunks cost fractions of a cent), two above."""
    if x is None:
        return "unknown"
    if abs(x) < 1:
        return f"${x:.4f}"
    return f"${x:,.2f}"
